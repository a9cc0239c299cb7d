"""Checks of a council's layer clauses that the built-in library meets by its tests.

The clause language itself (conditions, blocks, filters, functions and
``needs``, each where the outline uses the clause) is checked by
:func:`assembler.engine.library.check_clause`, the same check every
built-in clause passes at load. What the built-in library's tests check
with the schemas in hand (that each value a clause reads is one the model
can have) is checked here, because a layer is only read when an agreement
names it. The reference and term scans feed the whole-library checks in
:mod:`assembler.build.layers`.
"""

from __future__ import annotations

import re
from functools import lru_cache

from jinja2 import nodes
from jinja2.sandbox import SandboxedEnvironment

from assembler.check.schema import property_names
from assembler.diagnostics import ERROR, Diagnostic, Location
from assembler.engine.library import (
    MARKER_LINE, REF, TERM, Clause, check_clause,
)
from assembler.model import COMPUTED

# Names a template may read besides the schemas' fields and the model's computed values:
# methods of the model's records and money rows, and Jinja's own loop variable.
MODEL_METHODS = frozenset({
    "get", "items", "keys", "values", "year", "rows", "partner_totals", "revenue_total", "capital_total", "total",
    "amounts", "name", "type", "amount", "is_tbc",
    "index", "index0", "first", "last", "revindex", "revindex0", "length",
})


@lru_cache(maxsize=None)
def known_names() -> frozenset[str]:
    """Every name a clause may read: fields of either schema, computed values, record methods."""
    return frozenset(property_names("framework") | property_names("schedule")
                     | {n for names in COMPUTED.values() for n in names} | MODEL_METHODS)


# The scans below run over every clause of the merged library at each load; clauses are
# immutable, so each is scanned once per process.


@lru_cache(maxsize=4096)
def anchors(clause: Clause) -> frozenset[str]:
    """The ``{#anchor}`` names of a clause's paragraphs (in any branch of its template)."""
    found = set()
    for line in clause.body.split("\n"):
        match = MARKER_LINE.match(line)
        if match and match.group(2):
            found.add(match.group(2))
    return frozenset(found)


def header_line(text: str, name: str) -> int:
    """The line of the clause file's header where ``name:`` (or a defined term) is written; 1 if not found."""
    pattern = re.compile(r"^\s*['\"]?" + re.escape(name) + r"['\"]?\s*:")
    for number, line in enumerate(text.split("\n"), start=1):
        if line == "---":
            break
        if pattern.match(line):
            return number
    return 1


def _error(where: Location, code: str, message: str, hint: str = "") -> Diagnostic:
    return Diagnostic(where, ERROR, code, message, hint)


def lint_clause(env: SandboxedEnvironment, clause: Clause, scopes: dict[str, set[str]]) -> list[Diagnostic]:
    """Problems of one layer clause: the language check of the built-in library (where the merged
    outline uses it, ``scopes``), then every value it reads or needs being one the agreement can have."""
    problems = check_clause(env, clause, scopes)
    if problems:
        return problems
    known = known_names()
    unknown = {}
    for node in env.parse(clause.body).find_all(nodes.Getattr):
        if node.attr not in known:
            unknown.setdefault(node.attr, clause.location(node.lineno))
    for _, definition in clause.defines:
        for node in env.parse(definition).find_all(nodes.Getattr):
            if node.attr not in known:
                unknown.setdefault(node.attr, clause.item_location("defines", 0))
    for name, where in sorted(unknown.items(), key=lambda item: (item[1].line, item[0])):
        problems.append(_error(where, "S75-CLAUSE", f"clause '{clause.key}' reads '{name}', which the agreement never has",
                               "s75 schema framework (or schedule) lists the fields a clause can read"))
    for i, need in enumerate(clause.needs):
        if any(part not in known for part in need.split(".")[1:]):
            problems.append(_error(clause.item_location("needs", i), "S75-CLAUSE",
                                   f"clause '{clause.key}' needs '{need}', which is not a value of the agreement",
                                   "write needs as agreement.x.y or schedule.x, as s75 schema lists them"))
    return problems


@lru_cache(maxsize=4096)
def references(clause: Clause) -> tuple[tuple[str, Location], ...]:
    """Each ``<<key>>`` or ``<<key.anchor>>`` a clause makes (not ``<<schedule:key>>``), with its line."""
    found = []
    for number, line in enumerate(clause.body.split("\n"), start=1):
        found += [(m.group(2), clause.location(number)) for m in REF.finditer(line) if not m.group(1)]
    for _, definition in clause.defines:
        found += [(m.group(2), clause.location(1)) for m in REF.finditer(definition) if not m.group(1)]
    return tuple(found)


@lru_cache(maxsize=4096)
def terms_used(clause: Clause) -> tuple[tuple[str, Location], ...]:
    """Each ``[[Term]]`` a clause uses, in its body or its definitions, with its line."""
    found = []
    for number, line in enumerate(clause.body.split("\n"), start=1):
        found += [(m.group(1).strip(), clause.location(number)) for m in TERM.finditer(line)]
    for _, definition in clause.defines:
        found += [(m.group(1).strip(), clause.location(1)) for m in TERM.finditer(definition)]
    return tuple(found)
