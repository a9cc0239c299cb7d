"""The final-build gate, row by row: each row of FINAL_CHECKS refuses its case and nothing else.

Every row has a case below that only it refuses, run through the real CLI:
removing a row lets its case build; inverting a row makes the clean final
agreement fail (or its case pass). A new row without a case fails
``test_every_row_has_a_case``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from assembler.build.gate import FINAL_CHECKS, empty_cells, gate_document, open_blanks, placeholders
from assembler.build.pipeline import assemble_source
from assembler.engine import tree
from assembler.engine.text import render_text
from assembler.source.folder import DirectorySource
from tests.conftest import edit, s75


def _final(folder: Path) -> None:
    edit(folder / "agreement.yaml", "status: draft", "status: final")


def _status_still_draft(folder: Path) -> None:
    """A draft agreement built with --final."""


def _tbc(folder: Path) -> None:
    _final(folder)
    edit(folder / "schedules" / "pool.yaml", "        council: 400000", "        council: tbc")


def _warning(folder: Path) -> None:
    _final(folder)  # a joint risk pool with no amount is a warning (S75-RISK-SHARE), not an error
    edit(folder / "agreement.yaml", "    model: own_overspend", "    model: joint_risk_pool")


def _blank(folder: Path) -> None:
    """An aligned-budget scheme may leave out its aims; the clause then shows a blank to complete."""
    _final(folder)
    lead = folder / "schedules" / "lead.yaml"
    edit(lead, "  - lead_commissioning\n", "  - aligned_budget\n")
    edit(lead, "lead_commissioning:\n  lead: council\n  on_behalf_of:\n    - ccg\n", "")
    edit(lead, "aims:\n  - Commission one carers' support service for the city.\n", "")
    edit(lead, "  - name: Carers' support contract\n", "  - name: Carers' support contract\n    spent_by: council\n")


def _empty_cell(folder: Path) -> None:
    """A measure whose name is only spaces: the validator cannot see it, the drafted table can."""
    _final(folder)
    edit(folder / "schedules" / "pool.yaml", "  - measure: Older people still at home 91 days after discharge into reablement",
         "  - measure: ' '")


def _placeholder(folder: Path) -> None:
    _final(folder)
    edit(folder / "schedules" / "pool.yaml", "  staff: The Council provides the commissioning team.",
         "  staff: The Council provides [\u25cf] staff for the commissioning team.")


def _pending(folder: Path) -> None:
    """An approval whose decision is not yet known: a warning in a draft, refused by its own row."""
    _final(folder)
    edit(folder / "agreement.yaml", "    body: Governing Body\n    date: 2017-03-22\n",
         "    body: Governing Body\n    date: 2017-03-22\n    decision: pending\n")


# row code -> (edit the base agreement, code reported, file:line it is reported at)
CASES = {
    "S75-FINAL": (_status_still_draft, "S75-FINAL", "agreement.yaml:4:9"),
    "S75-TBC": (_tbc, "S75-TBC", "schedules/pool.yaml:48:18"),
    "S75-DECISION-PENDING": (_pending, "S75-DECISION-PENDING", "agreement.yaml:48:15"),
    "*": (_warning, "S75-RISK-SHARE", "agreement.yaml:87:12"),
    "S75-BLANK": (_blank, "S75-BLANK", "agreement.yaml:1:1"),
    "S75-EMPTY-CELL": (_empty_cell, "S75-EMPTY-CELL", "agreement.yaml:1:1"),
    "S75-PLACEHOLDER": (_placeholder, "S75-PLACEHOLDER", "agreement.yaml:1:1"),
}


def test_every_row_has_a_case():
    assert [check.code for check in FINAL_CHECKS] == list(CASES)


def test_the_clean_final_agreement_passes_every_row(base_copy, tmp_path, capsys, monkeypatch):
    _final(base_copy)
    target = tmp_path / "final.docx"
    code, out, err = s75(capsys, monkeypatch, "build", "--final", str(base_copy), "-o", str(target))
    assert code == 0, out + err
    assert " error [" not in out
    assert target.exists() and Path(str(target) + ".manifest.json").exists()


@pytest.mark.parametrize("row", list(CASES), ids=lambda r: r.strip("*") or "warnings")
def test_each_row_refuses_its_case_and_writes_nothing(row, base_copy, tmp_path, capsys, monkeypatch):
    change, code, where = CASES[row]
    change(base_copy)
    # A draft build of the same agreement succeeds: only the gate stands in the way.
    code_draft, _, err = s75(capsys, monkeypatch, "build", str(base_copy), "-o", str(tmp_path / "draft.docx"))
    if row != "S75-FINAL":  # status: final makes every build final
        assert code_draft == 1
    else:
        assert code_draft == 0, err
    target = tmp_path / "final.docx"
    exit_code, out, _ = s75(capsys, monkeypatch, "build", "--final", str(base_copy), "-o", str(target))
    assert exit_code == 1
    errors = [line for line in out.splitlines() if " error [" in line]
    assert errors, out
    assert {re.search(r"\[(S75-[A-Z0-9-]+)\]", line).group(1) for line in errors} == {code}, out
    assert any(line.split(": error")[0].endswith(where) for line in errors), out
    assert not target.exists()
    assert not Path(str(target) + ".manifest.json").exists()


def test_a_warning_keeps_its_own_code_and_says_why(base_copy, capsys, monkeypatch, tmp_path):
    _warning(base_copy)
    _, out, _ = s75(capsys, monkeypatch, "build", "--final", str(base_copy), "-o", str(tmp_path / "x.docx"))
    assert "error [S75-RISK-SHARE]" in out and "(a final build allows no warnings)" in out


def test_status_final_makes_a_build_final_without_the_flag(base_copy, capsys, monkeypatch, tmp_path):
    _tbc(base_copy)
    code, out, _ = s75(capsys, monkeypatch, "build", str(base_copy), "-o", str(tmp_path / "x.docx"))
    assert code == 1 and "error [S75-TBC]" in out


def test_signing_blanks_pass_and_open_blanks_do_not(base_copy):
    document = assemble_source(DirectorySource(str(base_copy))).document
    para = next(b for s in document.sections for b in s.blocks if getattr(b, "parts", None))
    para.parts = para.parts + [tree.Blank("date of signing", signing=True)]
    assert open_blanks(document) == []
    para.parts = para.parts + [tree.Blank("aims", signing=False), tree.Blank("aims", signing=False)]
    assert open_blanks(document) == ["aims", "aims"]
    validation = assemble_source(DirectorySource(str(base_copy))).validation
    found = gate_document(validation, document)
    assert [(d.code, d.level) for d in found] == [("S75-BLANK", "error")]
    assert "'aims'" in found[0].message


def test_a_blank_left_by_a_missing_field_is_refused_at_that_field(base_copy, capsys, monkeypatch, tmp_path):
    """exit: without staff: validate warns at exit:, and the final gate refuses the blank there, naming the field."""
    edit(base_copy / "schedules" / "lead.yaml", "exit:\n  staff: none\n", "exit:\n")
    validation = assemble_source(DirectorySource(str(base_copy))).validation
    assert [(d.code, d.location.line) for d in validation.warnings] == [("S75-BLANK-FIELD", 50)]
    assert "'exit.staff'" in validation.warnings[0].message
    _final(base_copy)
    _, out, _ = s75(capsys, monkeypatch, "build", "--final", str(base_copy), "-o", str(tmp_path / "x.docx"))
    errors = [line for line in out.splitlines() if " error [" in line]
    assert len(errors) == 1, out
    assert errors[0].startswith(str(base_copy / "schedules" / "lead.yaml") + ":50:") or \
        "schedules/lead.yaml:50:" in errors[0], out
    assert "[S75-BLANK]" in errors[0] and "'exit.staff' is not given" in errors[0], out
    assert "hint: add exit: staff:" in errors[0], out


@pytest.mark.parametrize("target", ["", "    target: ' '\n"], ids=["absent", "spaces"])
def test_an_empty_target_is_a_marked_blank_the_validator_and_the_gate_refuse(base_copy, target):
    """The reader sees "[●: target]", not an empty cell; S75-TARGET warns on the YAML, the gate refuses the blank."""
    edit(base_copy / "schedules" / "pool.yaml", "    target: 85% or more each quarter\n", target)
    assembled = assemble_source(DirectorySource(str(base_copy)))
    assert [d.code for d in assembled.validation.warnings] == ["S75-TARGET"]
    assert "[\u25cf: target]" in render_text(assembled.document)
    found = gate_document(assembled.validation, assembled.document)
    assert [d.code for d in found] == ["S75-PLACEHOLDER"]
    assert "[\u25cf: target]" in found[0].message


def test_a_target_still_tbc_prints_the_marked_blank_not_tbc(base_copy):
    """Review r6 (ICS Sch 1 para 13.1): "tbc" printed among "[●]" blanks; it is a blank like any other."""
    edit(base_copy / "schedules" / "pool.yaml", "    target: 85% or more each quarter\n", "    target: tbc\n")
    assembled = assemble_source(DirectorySource(str(base_copy)))
    tables = [b for s in assembled.document.sections for b in s.blocks if isinstance(b, tree.Table)
              and b.columns == ["Measure", "Target"]]
    assert "[\u25cf: target]" in [row[1] for t in tables for row in t.rows]
    assert "tbc" not in [row[1].lower() for t in tables for row in t.rows]
    assert [d.code for d in gate_document(assembled.validation, assembled.document)] == ["S75-PLACEHOLDER"]


def test_empty_means_none_in_a_deputy_or_email_column(base_copy):
    """The Trust gives no email, the Director of Operations has no deputy: neither is an empty cell to refuse."""
    document = assemble_source(DirectorySource(str(base_copy))).document
    tables = [b for s in document.sections for b in s.blocks if isinstance(b, tree.Table)]
    blanks = {(t.columns[c], row[0]) for t in tables for row in t.rows for c, cell in enumerate(row) if not cell.strip()}
    assert {("Deputy", "Director of Operations"), ("Email", "Northbridge Community Health NHS Trust")} <= blanks
    assert empty_cells(document) == [] and placeholders(document) == []


def test_a_final_build_of_an_agreement_that_does_not_load_reports_the_load_error(base_copy, capsys, monkeypatch,
                                                                                   tmp_path):
    """The gate reads the status of an agreement.yaml that may not have loaded: no crash, the real error."""
    (base_copy / "agreement.yaml").write_text("title: [unclosed\n", encoding="utf-8")
    code, out, _ = s75(capsys, monkeypatch, "build", "--final", str(base_copy), "-o", str(tmp_path / "x.docx"))
    assert code == 1 and "error [S75-YAML]" in out and "S75-INTERNAL" not in out


def test_a_final_build_keeps_the_validation_errors(base_copy, capsys, monkeypatch, tmp_path):
    """The gate turns warnings into errors; it must not drop the errors there already were."""
    _final(base_copy)
    edit(base_copy / "schedules" / "pool.yaml", "  host_partner: council", "  host_partner: nobody")
    target = tmp_path / "x.docx"
    code, out, _ = s75(capsys, monkeypatch, "build", "--final", str(base_copy), "-o", str(target))
    assert code == 1 and "error [S75-PARTYREF]" in out and not target.exists()


def _drafted(*blocks_by_section) -> tree.Document:
    sections = [tree.Section("body", "Agreed terms", list(blocks_by_section[0]), key="body"),
                tree.Section("schedule", "Pool", list(blocks_by_section[1]), key="pool", number="1")]
    return tree.Document("T", "", "1", "final", "", [], sections)


def test_a_placeholder_is_shown_with_forty_characters_either_side_wherever_it_stands():
    """The forty characters before the circle and the forty from it: at the start of a cell, near the start, mid-way."""
    long = "a" * 45 + "[\u25cf]" + "b" * 45
    near_start = "x" * 30 + "[\u25cf]" + "y" * 50
    document = _drafted([tree.Para([tree.Text(long)], level=1), tree.Para([tree.Text(near_start)], level=2)],
                        [tree.Table(["Measure", "Target"], [["Falls", "\u25cf to agree"]])])
    assert placeholders(document) == sorted([
        repr("a" * 39 + "[\u25cf]" + "b" * 38), repr("x" * 30 + "[\u25cf]" + "y" * 38), repr("\u25cf to agree")])


def test_an_empty_cell_is_named_by_its_section_column_and_row():
    table = tree.Table(["Measure", "Target"], [["Falls", ""], ["Total", ""]], total_rows={1})
    document = _drafted([table], [tree.Table(["Measure", "Target", "Note"], [["Delays", " ", ""]],
                                             optional_columns={2})])
    assert empty_cells(document) == ["Agreed terms, the 'Target' of 'Falls'",
                                     "Schedule 1 (Pool), the 'Target' of 'Delays'"]
