"""Optional fields whose absence the clause library drafts as a marked blank.

A draft may leave them out, but a final build refuses every blank, so the
user should hear about each at validation, at the schedule that lacks it and
by the field's name, not first from the final gate. The fields, their blanks
and the conditions that avoid them are data (``data/blanks.yaml``), kept in
step with the clauses that print them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import yaml

from assembler.check.rules import Context, rule
from assembler.diagnostics import WARNING, Diagnostic, Location
from assembler.resources import data_file
from assembler.source.yamlfile import YamlFile

_MISSING = object()


@dataclass(frozen=True)
class BlankField:
    field: str
    clause: str
    blanks: tuple[str, ...]
    unless: tuple[tuple[str, object], ...]
    hint: str

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(self.field.split("."))


@lru_cache(maxsize=None)
def blank_fields() -> tuple[BlankField, ...]:
    rows = yaml.safe_load(data_file("blanks.yaml").read_text(encoding="utf-8"))
    return tuple(BlankField(r["field"], r["clause"], tuple(r["blanks"]), tuple((r.get("unless") or {}).items()),
                            r["hint"]) for r in rows)


def _get(data, path):
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return _MISSING
        data = data[key]
    return data


def _holds(condition: tuple[str, object], framework: dict, schedule: dict) -> bool:
    path, wanted = condition
    if path.startswith("agreement."):
        return _get(framework, path.split(".")[1:]) is not _MISSING
    return _get(schedule, path.split(".")) == wanted


def missing_fields(framework: dict, doc: YamlFile) -> list[tuple[Location, BlankField]]:
    """(where, row) for each row whose field this scheme lacks, so that its clause prints a blank."""
    if not isinstance(doc.data, dict) or doc.data.get("kind") != "scheme":
        return []
    found = []
    for row in blank_fields():
        if _get(doc.data, row.path) is not _MISSING or any(_holds(c, framework, doc.data) for c in row.unless):
            continue
        parent = row.path[:-1]
        while parent and _get(doc.data, parent) is _MISSING:
            parent = parent[:-1]
        found.append((doc.source.key_location(parent or ("key",)), row))
    return found


def message(row: BlankField) -> str:
    blanks = " and ".join(f"'[{label}]'" for label in row.blanks)
    return (f"'{row.field}' is not given, so the schedule prints the blank {blanks}, "
            "which a final build refuses")


@rule
def blanks_from_missing_fields(ctx: Context):
    """Warn in a draft about each blank an optional field's absence leaves, naming the field."""
    for doc in ctx.schedules:
        for where, row in missing_fields(ctx.data, doc):
            yield Diagnostic(where, WARNING, "S75-BLANK-FIELD", message(row), row.hint)
