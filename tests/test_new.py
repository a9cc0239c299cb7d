"""`s75 new`: what it writes validates as a draft (warnings only), builds, and carries the schema's help.

The README's new-agreement walkthrough is run here line by line, as written.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from assembler.build.pipeline import check_path
from assembler.model import line_risk
from assembler.check.scaffold import ARRANGEMENTS, default_commencement, financial_year
from assembler.cli import cli
from assembler.diagnostics import S75Error, UsageError

ROOT = Path(__file__).resolve().parents[1]
S75 = Path(sys.executable).with_name("s75")


def _walkthrough() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- new-agreement walkthrough[^>]*-->\n```sh\n(.*?)```", readme, re.S)
    assert block, "the README's new-agreement walkthrough is missing"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_walkthrough_runs_as_written(tmp_path):
    env = {**os.environ, "PATH": f"{S75.parent}{os.pathsep}{os.environ['PATH']}"}
    outputs = []
    for line in _walkthrough():
        assert line.startswith("s75 "), line
        result = subprocess.run(line, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True)
        assert result.returncode == 0, f"{line}\n{result.stdout}{result.stderr}"
        outputs.append(result.stdout + result.stderr)
    agreement = tmp_path / "agreements" / "northshire-2026"
    assert sorted(p.name for p in (agreement / "schedules").iterdir()) == ["bcf.yaml", "equipment.yaml"]
    summary = next(o for line, o in zip(_walkthrough(), outputs) if line.startswith("s75 validate"))
    assert re.search(r"0 errors, [1-9][0-9]* warnings", summary), summary
    assert (tmp_path / "northshire-2026.docx").stat().st_size > 10_000


class _Ran:
    def __init__(self, result):
        error = result.exception
        self.exit_code = (2 if isinstance(error, UsageError) else 1 if isinstance(error, S75Error)
                          else result.exit_code)
        if error is not None and not isinstance(error, (S75Error, SystemExit)):
            raise error


def _new(tmp_path, *args):
    """Run `s75 new ...`; the exit code as main() gives it (2 for a usage error)."""
    return _Ran(CliRunner().invoke(cli, ["new", *args]))


@pytest.mark.parametrize("commencement, nhs", [("2026-04-01", "icb"), ("2019-04-01", "ccg")])
def test_every_arrangement_validates_as_a_draft_with_warnings_only(tmp_path, commencement, nhs):
    root = tmp_path / "a"
    assert _new(tmp_path, "agreement", str(root), "--commencement", commencement).exit_code == 0
    for arrangement in ARRANGEMENTS:
        assert _new(tmp_path, "schedule", str(root), arrangement, "--arrangement", arrangement).exit_code == 0
    assert _new(tmp_path, "schedule", str(root), "bcf", "--arrangement", "pooled_fund", "--bcf").exit_code == 0
    assert _new(tmp_path, "schedule", str(root), "pay", "--s256").exit_code == 0
    found = check_path(str(root))
    # what the commissioner must still decide: figures (tbc), who controls each jointly funded line, and the
    # optional fields (exit staff, data protection) a scaffold leaves as blanks
    decide = {"S75-TBC", "S75-RISK-CONTROL", "S75-BLANK-FIELD"}
    assert found and {d.code for d in found} <= decide and "S75-TBC" in {d.code for d in found}, \
        [d.format() for d in found if d.code not in decide]
    text = (root / "agreement.yaml").read_text(encoding="utf-8")
    assert f"kind: {nhs}\n" in text
    year = financial_year(__import__("datetime").date.fromisoformat(commencement))
    assert f"    {year}:\n" in (root / "schedules" / "pooled_fund.yaml").read_text(encoding="utf-8")


def test_each_field_carries_the_schemas_help(tmp_path):
    root = tmp_path / "a"
    _new(tmp_path, "agreement", str(root), "--commencement", "2026-04-01")
    lines = (root / "agreement.yaml").read_text(encoding="utf-8").splitlines()
    schema = json.loads((ROOT / "schemas" / "framework.schema.json").read_text(encoding="utf-8"))
    for key in schema["required"]:
        at = next(i for i, line in enumerate(lines) if line.startswith(f"{key}:"))
        assert lines[at - 1].startswith("# "), key
    commencement = next(i for i, line in enumerate(lines) if line.startswith("commencement:"))
    assert schema["properties"]["commencement"]["title"] in lines[commencement - 1]
    assert lines[0].startswith("# yaml-language-server: $schema=") and lines[0].endswith("framework.schema.json")
    target = (root / lines[0].split("=", 1)[1]).resolve()
    assert target == (ROOT / "schemas" / "framework.schema.json").resolve()


def test_never_overwrites_and_refuses_what_cannot_be_valid(tmp_path):
    root = tmp_path / "a"
    assert _new(tmp_path, "agreement", str(root)).exit_code == 0
    assert _new(tmp_path, "agreement", str(root)).exit_code == 2
    assert _new(tmp_path, "schedule", str(root), "bcf", "--arrangement", "aligned_budget", "--bcf").exit_code == 2
    assert _new(tmp_path, "schedule", str(root), "Bad Key", "--arrangement", "pooled_fund").exit_code == 2
    assert _new(tmp_path, "schedule", str(root), "x").exit_code == 2
    assert not (root / "schedules" / "bcf.yaml").exists()


def test_default_commencement_is_the_next_first_of_april():
    date = __import__("datetime").date
    assert default_commencement(date(2026, 12, 1)) == date(2027, 4, 1)
    assert default_commencement(date(2026, 3, 31)) == date(2026, 4, 1)
    assert default_commencement(date(2026, 4, 1)) == date(2027, 4, 1)


def test_the_social_care_part_of_the_nhs_minimum_is_the_councils_risk(tmp_path):
    """The NHS body pays it, but the council spends it on social care: the overspend is the council's."""
    root = tmp_path / "a"
    assert _new(tmp_path, "agreement", str(root), "--commencement", "2026-04-01").exit_code == 0
    assert _new(tmp_path, "schedule", str(root), "bcf", "--arrangement", "pooled_fund", "--bcf").exit_code == 0
    agreement = yaml.safe_load((root / "agreement.yaml").read_text(encoding="utf-8"))
    kinds = {party["kind"]: party["key"] for party in agreement["parties"]}
    council, nhs = kinds["unitary_council"], kinds["icb"]
    schedule = yaml.safe_load((root / "schedules" / "bcf.yaml").read_text(encoding="utf-8"))
    lines = {line["category"]: line for line in schedule["lines"]}
    assert line_risk(lines["adult_social_care_minimum"], schedule) == council
    assert line_risk(lines["nhs_minimum"], schedule) == nhs
