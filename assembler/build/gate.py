"""The final-build gate: what a signing copy may not contain, one row per check.

A final build is asked for with ``--final`` or declared by ``status: final``
in agreement.yaml; either way every row below applies. Rows that need only
the validated data run before assembly; rows that read the drafted text run
after it. Add a row here (with its test) rather than a check anywhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

from assembler.check.blanks import blank_fields, missing_fields
from assembler.check.validate import Validation
from assembler.diagnostics import ERROR, WARNING, Diagnostic, Location, sorted_diagnostics
from assembler.engine import tree

BEFORE_ASSEMBLY = "validated"
AFTER_ASSEMBLY = "assembled"


@dataclass(frozen=True)
class FinalCheck:
    code: str  # the code the row reports ("*" keeps each warning's own code)
    refuses: str  # one line for the README and the tests
    stage: str
    findings: Callable[[Validation, "tree.Document | None"], list[Diagnostic]]


def _framework_data(validation: Validation) -> dict:
    files = validation.files
    data = files.framework.data if files and files.framework else None
    return data if isinstance(data, dict) else {}


def _status(validation: Validation, _document) -> list[Diagnostic]:
    if _framework_data(validation).get("status") != "draft":
        return []
    return [Diagnostic(validation.files.framework.source.locate(("status",)), ERROR, "S75-FINAL",
                       "a final build needs status: final", "set status: final once the text is agreed")]


def _tbc(validation: Validation, _document) -> list[Diagnostic]:
    return [replace(d, level=ERROR, hint="agree the figure before the agreement is final")
            for d in validation.warnings if d.code == "S75-TBC"]


def _pending(validation: Validation, _document) -> list[Diagnostic]:
    return [replace(d, level=ERROR, hint="a signing copy recites the decision the body took; record it and its date")
            for d in validation.warnings if d.code == "S75-DECISION-PENDING"]


OWN_ROWS = {"S75-TBC", "S75-DECISION-PENDING",  # warnings a row of their own turns into errors
            "S75-BLANK-FIELD"}  # reported by the open-blank row, at the field that leaves the blank


def _warnings(validation: Validation, _document) -> list[Diagnostic]:
    return [replace(d, level=ERROR, message=d.message + " (a final build allows no warnings)")
            for d in validation.warnings if d.code not in OWN_ROWS]


def _in_document(validation: Validation, code: str, message: str, hint: str, found: list[str]) -> list[Diagnostic]:
    """One error per thing found in the drafted text, at the agreement (the text has no YAML line of its own)."""
    where = Location(str(validation.files.framework.display))
    return [Diagnostic(where, ERROR, code, message.format(item), hint) for item in found]


def _open_blanks(validation: Validation, document: tree.Document) -> list[Diagnostic]:
    """Each blank once; one an absent optional field leaves (data/blanks.yaml) at that field, the rest at the agreement."""
    rows = {label: row for row in blank_fields() for label in row.blanks}
    framework = _framework_data(validation)
    missing = [(where, row) for doc in validation.files.schedules for where, row in missing_fields(framework, doc)]
    findings, unplaced = [], []
    for label in sorted(set(open_blanks(document))):
        places = [where for where, row in missing if row is rows.get(label)]
        if not places:
            unplaced.append(label)
        findings += [Diagnostic(where, ERROR, "S75-BLANK", f"a final document cannot contain the blank '{label}': "
                                f"'{rows[label].field}' is not given", rows[label].hint) for where in places]
    return findings + _in_document(validation, "S75-BLANK", "a final document cannot contain the blank '{}'",
                                   "complete it in the YAML (or the clause) before the final build", unplaced)


def open_blanks(document: tree.Document) -> list[str]:
    """Labels of blanks that must be completed before signing (not those completed at signing)."""
    labels = []
    for section in document.sections:
        for block in section.blocks:
            if isinstance(block, tree.Para):
                labels += [p.label for p in block.parts if isinstance(p, tree.Blank) and not p.signing]
    return labels


PLACEHOLDER = "\u25cf"  # the black circle of a "[●]" drafting placeholder


def _empty_cells(validation: Validation, document: tree.Document) -> list[Diagnostic]:
    return _in_document(validation, "S75-EMPTY-CELL", "a final document cannot have an empty cell: {}",
                        "fill it in the YAML (e.g. the measure's target:), or remove the row", empty_cells(document))


def empty_cells(document: tree.Document) -> list[str]:
    """Where each empty table cell is: not in a total row, nor in a column where empty means "none"."""
    found = []
    for section in document.sections:
        title = f"Schedule {section.number} ({section.title})" if section.kind == "schedule" else section.title
        for block in section.blocks:
            if not isinstance(block, tree.Table):
                continue
            for r, row in enumerate(block.rows):
                if r in block.total_rows:
                    continue
                for c, cell in enumerate(row):
                    if c not in block.optional_columns and not cell.strip():
                        found.append(f"{title}, the '{block.columns[c]}' of '{row[0]}'")
    return found


def _placeholders(validation: Validation, document: tree.Document) -> list[Diagnostic]:
    return _in_document(validation, "S75-PLACEHOLDER", "a final document cannot contain a [\u25cf] placeholder: {}",
                        "replace the placeholder in the YAML (or the clause) with the agreed text",
                        placeholders(document))


def placeholders(document: tree.Document) -> list[str]:
    """Each piece of drafted text (paragraph, heading or table cell) that still holds a [●], as an excerpt."""
    texts = []
    for section in document.sections:
        texts.append(section.title)
        for block in section.blocks:
            if isinstance(block, tree.Para):
                texts.append(block.heading)
                texts.append("".join(p.text if isinstance(p, tree.Text) else p.shown if isinstance(p, tree.TermUse)
                                     else "" for p in block.parts))
            elif isinstance(block, tree.Table):
                texts += block.columns + [cell for row in block.rows for cell in row]
    found = []
    for text in texts:
        at = text.find(PLACEHOLDER)
        if at >= 0:
            found.append(repr(text[max(0, at - 40):at + 40].strip()))
    return sorted(set(found))


FINAL_CHECKS: tuple[FinalCheck, ...] = (
    FinalCheck("S75-FINAL", "an agreement whose status is still draft", BEFORE_ASSEMBLY, _status),
    FinalCheck("S75-TBC", "any value still to be confirmed (tbc)", BEFORE_ASSEMBLY, _tbc),
    FinalCheck("S75-DECISION-PENDING", "an approval whose decision is still pending", BEFORE_ASSEMBLY, _pending),
    FinalCheck("*", "any warning at all (each keeps its own code)", BEFORE_ASSEMBLY, _warnings),
    FinalCheck("S75-BLANK", "a blank other than those completed at signing", AFTER_ASSEMBLY, _open_blanks),
    FinalCheck("S75-EMPTY-CELL", "an empty table cell, such as a measure with no target", AFTER_ASSEMBLY, _empty_cells),
    FinalCheck("S75-PLACEHOLDER", "a [\u25cf] placeholder anywhere in the drafted text", AFTER_ASSEMBLY, _placeholders),
)


def is_final(validation: Validation, asked: bool) -> bool:
    """A build is final when the user asks for it or the agreement says it is."""
    return asked or _framework_data(validation).get("status") == "final"


def gate_validation(validation: Validation) -> Validation:
    """The validation as a final build sees it: the before-assembly rows' findings replace the warnings."""
    if not _framework_data(validation):
        return validation
    found = [d for check in FINAL_CHECKS if check.stage == BEFORE_ASSEMBLY for d in check.findings(validation, None)]
    kept = [d for d in validation.diagnostics if d.level != WARNING]
    return replace(validation, diagnostics=tuple(sorted_diagnostics(kept + found)))


def gate_document(validation: Validation, document: tree.Document) -> list[Diagnostic]:
    """The after-assembly rows' findings for a drafted document."""
    return [d for check in FINAL_CHECKS if check.stage == AFTER_ASSEMBLY for d in check.findings(validation, document)]

