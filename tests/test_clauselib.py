"""The whole clause library, checked without any agreement.

Every template parses; every value a clause reads exists in the model;
every condition and block is in the closed vocabulary; every cross-reference
names a key that exists; every term used is defined exactly once.
"""

from __future__ import annotations

import re

import pytest
from jinja2 import nodes

from assembler.engine.library import (
    BLOCK_LINE, BLOCKS, BODY_CONDITIONS, REF, SCHEDULE_CONDITIONS, TERM, ValueSlots, check_template,
    default_library, make_environment,
)
from assembler.law import candidates
from assembler.model import COMPUTED
from assembler.check.requirements import requirements
from assembler.check.schema import _resolve, load_schema

LIBRARY = default_library()
CLAUSES = sorted(LIBRARY.clauses.values(), key=lambda c: c.key)
ENV = make_environment(ValueSlots())


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


# Every field name the YAML may carry, plus what the model computes, plus Record/Mapping methods.
KNOWN_NAMES = (_properties(load_schema("framework")) | _properties(load_schema("schedule"))
               | {n for names in COMPUTED.values() for n in names}
               | {"get", "items", "keys", "values", "year", "rows", "partner_totals", "revenue_total",
                  "capital_total", "total", "amounts", "name", "type", "amount", "is_tbc"}
               # Jinja's own loop variable.
               | {"index", "index0", "first", "last", "revindex", "revindex0", "length"})


def _attribute_chains(tree):
    """Names read as attributes anywhere in a template (agreement.x.y -> x, y)."""
    for node in tree.find_all(nodes.Getattr):
        yield node.attr


@pytest.mark.parametrize("clause", CLAUSES, ids=lambda c: c.key)
def test_template_parses(clause):
    assert check_template(ENV, clause) == []


@pytest.mark.parametrize("clause", CLAUSES, ids=lambda c: c.key)
def test_every_data_name_exists_in_the_model(clause):
    sources = [clause.body] + [definition for _, definition in clause.defines]
    unknown = set()
    for source in sources:
        unknown |= {name for name in _attribute_chains(ENV.parse(source)) if name not in KNOWN_NAMES}
    for need in clause.needs:
        unknown |= {part for part in need.split(".")[1:] if part not in KNOWN_NAMES}
    assert not unknown, f"{clause.path}: reads {sorted(unknown)}, which the model does not have"


@pytest.mark.parametrize("clause", CLAUSES, ids=lambda c: c.key)
def test_conditions_and_blocks_are_in_the_vocabulary(clause):
    for condition in clause.applies:
        name = condition.removeprefix("not ").strip()
        assert name in BODY_CONDITIONS | SCHEDULE_CONDITIONS, f"{clause.path}: unknown condition {name!r}"
    for line in clause.body.splitlines():
        block = BLOCK_LINE.match(line.strip())
        if block:
            assert block.group(1) in BLOCKS, f"{clause.path}: unknown block ::{block.group(1)}"


def _anchors() -> set[str]:
    keys = set()
    for clause in CLAUSES:
        keys.add(clause.key)
        keys |= {f"{clause.key}.{a}" for a in re.findall(r"^-+\s+\{#([a-z0-9-]+)\}", clause.body, re.M)}
    for generated in LIBRARY.outline.generated:  # a keyed generated schedule's parts are cited as KEY/part
        if generated.key:
            keys |= {f"{generated.key}/{k}" for k in keys if k.split(".")[0] in generated.parts}
    return keys


def test_every_reference_key_exists():
    keys = _anchors()
    broken = []
    for clause in CLAUSES:
        for match in REF.finditer(clause.body + " ".join(d for _, d in clause.defines)):
            if not match.group(1) and match.group(2) not in keys:
                broken.append(f"{clause.path}: <<{match.group(2)}>>")
    assert not broken


def test_every_term_used_is_defined_exactly_once():
    defined: dict[str, list[str]] = {}
    for clause in CLAUSES:
        for term, _ in clause.defines:
            defined.setdefault(term, []).append(clause.key)
    twice = {t: k for t, k in defined.items() if len(k) > 1}
    assert not twice, f"defined more than once: {twice}"
    used = set()
    for clause in CLAUSES:
        text = clause.body + " ".join(d for _, d in clause.defines)
        used |= {m.group(1).strip() for m in TERM.finditer(text)}
    assert not used - set(defined), f"used but never defined: {sorted(used - set(defined))}"
    assert not set(defined) - used, f"defined but never used: {sorted(set(defined) - used)}"


def test_requirement_table_points_at_real_clauses():
    keys = _anchors()
    for req in requirements():
        assert req.clause in keys, f"{req.id} names clause {req.clause!r}, which the library does not have"


@pytest.mark.parametrize("clause", CLAUSES, ids=lambda c: c.key)
def test_every_law_lookup_names_a_topic_or_row(clause):
    """law('x') and in_force('x') must name a topic or row of assembler/data/law.yaml."""
    unknown = []
    for source in [clause.body] + [definition for _, definition in clause.defines]:
        for call in ENV.parse(source).find_all(nodes.Call):
            if isinstance(call.node, nodes.Name) and call.node.name in ("law", "in_force"):
                topic = call.args[0].value if call.args and isinstance(call.args[0], nodes.Const) else None
                try:
                    candidates(topic)
                except KeyError:
                    unknown.append(f"{call.node.name}({topic!r})")
    assert not unknown, f"{clause.path}: {unknown}"
