"""Static checks of clause files, without any agreement: markup, conditions, data names, terms, references.

The built-in library is held to these by its tests; a council's layer
(:mod:`assembler.build.layers`) is held to them when an agreement loads it,
so a mistake in house wording is found, with its file and line, before
anything is assembled.
"""

from __future__ import annotations

import re
from functools import lru_cache

from jinja2 import nodes
from jinja2.sandbox import SandboxedEnvironment

from assembler.check.schema import _resolve, load_schema
from assembler.diagnostics import ERROR, Diagnostic, Location
from assembler.engine.library import (
    BLOCK_LINE, BLOCKS, BODY_CONDITIONS, MARKER_LINE, REF, SCHEDULE_CONDITIONS, TERM, Clause, ValueSlots,
    check_template, make_environment,
)
from assembler.model import COMPUTED

# Names a template may read besides the schemas' fields and the model's computed values:
# methods of the model's records and money rows, and Jinja's own loop variable.
MODEL_METHODS = frozenset({
    "get", "items", "keys", "values", "year", "rows", "partner_totals", "revenue_total", "capital_total", "total",
    "amounts", "name", "type", "amount", "is_tbc",
    "index", "index0", "first", "last", "revindex", "revindex0", "length",
})


def _properties(schema) -> set[str]:
    schema = _resolve(schema)
    names = set(schema.get("properties", {}))
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            names |= _properties(schema[key])
    for sub in schema.get("properties", {}).values():
        names |= _properties(sub)
    for sub in schema.get("anyOf", []) + schema.get("oneOf", []):
        names |= _properties(sub)
    return names


@lru_cache(maxsize=None)
def known_names() -> frozenset[str]:
    """Every name a clause may read: fields of either schema, computed values, record methods."""
    return frozenset(_properties(load_schema("framework")) | _properties(load_schema("schedule"))
                     | {n for names in COMPUTED.values() for n in names} | MODEL_METHODS)


@lru_cache(maxsize=None)
def _environment() -> SandboxedEnvironment:
    return make_environment(ValueSlots())


# The three scans below run over every clause of the merged library at each load; clauses are
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


def lint_clause(clause: Clause, text: str) -> list[Diagnostic]:
    """Problems of one clause file on its own: template syntax, conditions, blocks, data names."""
    env = _environment()
    problems = check_template(env, clause)
    for condition in clause.applies:
        name = condition.removeprefix("not ").strip()
        if name not in BODY_CONDITIONS | SCHEDULE_CONDITIONS:
            problems.append(_error(Location(str(clause.path), header_line(text, "applies"), 1), "S75-CLAUSE",
                                   f"clause '{clause.key}' applies under an unknown condition '{name}'",
                                   "use a condition listed in clauses/README.md"))
    for number, line in enumerate(clause.body.split("\n"), start=1):
        block = BLOCK_LINE.match(line.strip())
        if block and block.group(1) not in BLOCKS:
            problems.append(_error(clause.location(number), "S75-CLAUSE", f"unknown block ::{block.group(1)}",
                                   "blocks: " + ", ".join(f"::{b}" for b in sorted(BLOCKS))))
    if problems:
        return problems  # a template that does not parse cannot be read for names
    known = known_names()
    unknown = {}
    for node in env.parse(clause.body).find_all(nodes.Getattr):
        if node.attr not in known:
            unknown.setdefault(node.attr, node.lineno)
    for _, definition in clause.defines:
        for node in env.parse(definition).find_all(nodes.Getattr):
            if node.attr not in known:
                unknown.setdefault(node.attr, 1 - clause.body_line + header_line(text, "defines"))
    for name, line in sorted(unknown.items(), key=lambda item: (item[1], item[0])):
        problems.append(_error(clause.location(line), "S75-CLAUSE",
                               f"clause '{clause.key}' reads '{name}', which the agreement never has",
                               "s75 schema framework (or schedule) lists the fields a clause can read"))
    for need in clause.needs:
        unknown = [part for part in need.split(".")[1:] if part not in known]
        if unknown or need.split(".")[0] not in ("agreement", "schedule", "body"):
            problems.append(_error(Location(str(clause.path), header_line(text, "needs"), 1), "S75-CLAUSE",
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
