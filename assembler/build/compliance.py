"""The compliance report: each statutory requirement, where the YAML meets it,
and the clause of the built document that states it (or MISSING).

A requirement whose YAML is there but still tbc, blank or a placeholder is
INCOMPLETE: the form is met, the substance is not, and the report fails as
it does for MISSING. Reads the same requirement table as the validator, so
the two cannot drift.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from assembler.engine import tree
from assembler.model import schedule_order
from assembler.check.requirements import applicable_checks
from assembler.check.validate import Validation

MISSING = "MISSING"
INCOMPLETE = "INCOMPLETE"
NOT_BUILT = "(not built)"  # the clause column when validation errors stop the document being assembled


@dataclass(frozen=True)
class Row:
    scope: str  # "agreement" or "Schedule 3 (bcf)"
    regulation: str
    requirement: str
    code: str
    yaml: str  # file:line:col of each place that meets it, or MISSING
    clause: str  # "clause 7.2", "Schedule 3, paragraph 4", MISSING, or NOT_BUILT
    incomplete: str = ""  # what is still tbc, blank or a placeholder, with where: "" when complete

    @property
    def missing(self) -> bool:
        return MISSING in (self.yaml, self.clause)

    @property
    def status(self) -> str:
        """MISSING, INCOMPLETE or ok: the first two fail the report."""
        return MISSING if self.missing else INCOMPLETE if self.incomplete else "ok"

    @property
    def failed(self) -> bool:
        return self.status != "ok"


def _clause_numbers(document: tree.Document | None) -> dict[str, str]:
    """Stable key -> how a lawyer would cite it in this document."""
    if document is None:
        return {}
    cites = {}
    for section in document.sections:
        for block in section.blocks:
            if isinstance(block, tree.Para) and block.key:
                if section.kind == "schedule":
                    cites[block.key] = f"Schedule {section.number}, paragraph {block.full_number}"
                elif section.kind == "recitals":
                    cites[block.key] = f"recital {block.full_number}"
                else:
                    cites[block.key] = f"clause {block.full_number}"
    return cites


def compliance_rows(validation: Validation, document: tree.Document | None) -> list[Row]:
    files = validation.files
    if files is None or files.framework is None:
        return []
    cites = _clause_numbers(document)
    if document is not None:
        numbers = {s.key: s.number for s in document.sections if s.kind == "schedule"}
    else:  # the order the document would have: the schedules' own order, then their keys
        # Only schedules whose key and order are well formed can be placed; the rest show "?".
        datas = [doc.data for doc in files.schedules if isinstance(doc.data, dict)
                 and isinstance(doc.data.get("key"), str) and type(doc.data.get("order", 100)) is int]
        numbers = {d["key"]: str(n) for n, d in enumerate(schedule_order(datas), start=1)}
    rows = []
    schedules = tuple(files.schedules)
    for result in applicable_checks(files.framework, schedules):
        req = result.requirement
        is_framework = result.doc is files.framework
        if is_framework:
            scope, key = "agreement", req.clause
        else:
            schedule_key = result.doc.data.get("key", "?")
            scope = f"Schedule {numbers.get(schedule_key, '?')} ({schedule_key})"
            key = f"{schedule_key}/{req.clause}"
        if not result.met:
            yaml_where = MISSING
        elif result.locations:
            yaml_where = ", ".join(str(loc) for loc in result.locations)
        else:
            yaml_where = "(stated by the clause library)"
        # A schedule row may be stated in the schedule itself or, once for all schemes, in the body.
        clause = NOT_BUILT if document is None else cites.get(key) or cites.get(req.clause, MISSING)
        pending = _pending(result.incomplete)
        rows.append(Row(scope, req.regulation, req.requirement, req.code, yaml_where, clause, pending))
    return sorted(rows, key=_reading_order)


def _pending(incomplete) -> str:
    """The first thing still to settle and where, and how many more: short enough for a table cell."""
    if not incomplete:
        return ""
    where, reason = incomplete[0]
    more = f" and {len(incomplete) - 1} more" if len(incomplete) > 1 else ""
    return f"{reason} ({where}){more}"


def _reading_order(row: Row) -> tuple[int, str]:
    """The agreement's own rows first, then each schedule's in the order of the document."""
    if row.scope == "agreement":
        return (0, "")
    number = row.scope.split()[1]
    return (int(number) if number.isdigit() else 10**6, row.scope)


def format_text(rows: list[Row]) -> str:
    lines = []
    for row in rows:
        lines.append(f"{row.status:10} {row.scope:28} {row.regulation:14} {row.code:18} {row.clause:32} {row.yaml}")
        lines.append(f"           {row.requirement}")
        if row.incomplete:
            lines.append(f"           incomplete: {row.incomplete}")
    missing = sum(r.missing for r in rows)
    incomplete = sum(r.status == INCOMPLETE for r in rows)
    lines.append(f"{len(rows)} requirements checked, {missing} missing, {incomplete} incomplete")
    return "\n".join(lines)


def format_json(rows: list[Row]) -> str:
    return json.dumps([{**asdict(r), "missing": r.missing, "status": r.status} for r in rows], indent=2,
                      ensure_ascii=False)


def compliance_section(rows: list[Row]) -> tree.Section:
    """The annex for a draft build: requirement, regulation, YAML, clause.

    The clause numbers are those of the document the annex is added to; it
    comes last, so adding it changes no number before it.
    """
    intro = tree.Para([tree.Text(
        "This annex is for review only and does not form part of the Agreement. It lists each requirement "
        "of the Regulations, where the agreement's data meets it and the provision that states it.")], level=0)
    table = tree.Table(["Scope", "Regulation", "Requirement", "Met in the YAML at", "Stated in", "Status"],
                       [[r.scope, r.regulation, r.requirement, r.yaml, r.clause,
                         r.status + (f": {r.incomplete}" if r.incomplete else "")] for r in rows])
    return tree.Section("annex", "Compliance with the Regulations", [intro, table], key="compliance-annex")
