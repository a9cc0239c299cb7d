"""Every independent finding in one run, one finding per mistake.

A commissioner fixes everything reported and runs again; a mistake that
shows only once another is fixed costs a round, and two findings for one
mistake read as two things to fix.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from assembler.build.pipeline import check_path

BASE = Path(__file__).parent / "cases" / "base"


def findings(tmp_path, *edits):
    """(code, file, line) of every finding for the base agreement with ``edits`` made."""
    root = tmp_path / "agreement"
    shutil.copytree(BASE, root)
    for file, old, new in edits:
        text = (root / file).read_text(encoding="utf-8")
        assert old in text, old
        (root / file).write_text(text.replace(old, new, 1), encoding="utf-8")
    found = check_path(str(root))
    return [(d.code, Path(d.location.file).name, d.location.line) for d in found], found


def test_bad_amount_does_not_hide_bad_party_on_the_same_line(tmp_path):
    got, _ = findings(tmp_path, ("schedules/pool.yaml", "      2017-18:\n        ccg: 900000\n        council: 400000\n",
                                 "      2017-18: {ccgg: 900000.50, council: 400000}\n"))
    assert ("S75-PARTYREF", "pool.yaml", 46) in got
    assert ("S75-FLOAT-MONEY", "pool.yaml", 46) in got


def test_odd_number_does_not_hide_bad_party_or_unknown_key(tmp_path):
    got, _ = findings(
        tmp_path,
        ("schedules/pool.yaml", "        ccg: 900000\n", "        ccgg: 900_000\n"),
        ("schedules/pool.yaml", "  monitoring:", "  monitorng:"),
    )
    assert sorted(got) == sorted([
        ("S75-NUMBER", "pool.yaml", 47),
        ("S75-PARTYREF", "pool.yaml", 47),
        ("S75-UNKNOWN-KEY", "pool.yaml", 36),
        ("S75-R7-3G", "pool.yaml", 31),  # monitoring is missing, under its misspelt name
    ]), got


def test_a_bad_amount_is_not_also_reported_as_tbc(tmp_path):
    got, _ = findings(tmp_path, ("schedules/pool.yaml", "        ccg: 900000\n", "        ccg: 1,000\n"))
    assert got == [("S75-TYPE", "pool.yaml", 47)], got


def test_malformed_date_is_one_finding(tmp_path):
    got, found = findings(tmp_path, ("agreement.yaml", "commencement: 2017-04-01", "commencement: 01/04/2017"))
    assert got == [("S75-FORMAT", "agreement.yaml", 5)], got
    assert "YYYY-MM-DD" in found[0].hint


def test_missing_host_is_one_finding_naming_both_regulations(tmp_path):
    got, found = findings(tmp_path, ("schedules/pool.yaml", "  host_partner: council\n", ""))
    assert got == [("S75-R7-3G", "pool.yaml", 31)], got
    assert "reg 7(3)(g) and reg 7(4) require" in found[0].message


def test_missing_monitoring_alone_names_one_regulation(tmp_path):
    got, found = findings(tmp_path, ("schedules/pool.yaml", "  monitoring: Monthly budget reports to the Joint Commissioning Board.\n", ""))
    assert got == [("S75-R7-3G", "pool.yaml", 31)], got
    assert found[0].message.startswith("reg 7(3)(g) requires:")


def test_a_tbc_bcf_host_is_one_finding_that_says_why(tmp_path):
    """A Better Care Fund host still tbc: S75-BCF-HOST (the money must be pooled from day one), not also S75-TBC."""
    codes, _ = findings(tmp_path, ("schedules/pool.yaml", "kind: scheme\n", "kind: scheme\nbetter_care_fund: true\n"),
                        ("schedules/pool.yaml", "  host_partner: council\n", "  host_partner: tbc\n"))
    at_host = [c for c in codes if c[1] == "pool.yaml" and c[2] == 33]
    assert at_host == [("S75-BCF-HOST", "pool.yaml", 33)], codes
