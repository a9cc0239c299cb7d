"""The whole clause library, checked without any agreement.

Every template parses; every value a clause reads exists in the model;
every condition and block is in the closed vocabulary; every cross-reference
names a key that exists; every term used is defined exactly once.
"""

from __future__ import annotations

import re

import pytest
from jinja2 import nodes

from assembler.engine.language import BLOCK_NAMES, CONDITION_NAMES, condition_name
from assembler.engine.library import (
    BLOCK_LINE, REF, TERM, ValueSlots, check_clause, check_template, clause_scopes, default_library,
    make_environment,
)
from assembler.check.schema import property_names
from assembler.model import COMPUTED
from assembler.check.requirements import requirements
from assembler.law import candidates

LIBRARY = default_library()
CLAUSES = sorted(LIBRARY.clauses.values(), key=lambda c: c.key)
ENV = make_environment(ValueSlots())


# Every field name the YAML may carry, plus what the model computes, plus Record/Mapping methods.
KNOWN_NAMES = (property_names("framework") | property_names("schedule")
               | {n for names in COMPUTED.values() for n in names} | {"get", "items", "keys", "values"}
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
def test_conditions_and_blocks_are_in_the_language_and_scope_where_the_outline_uses_them(clause):
    scopes = clause_scopes(LIBRARY.outline, clause.key)  # empty for a clause rendered outside the outline (the deed)
    for written in clause.applies:
        condition = CONDITION_NAMES[condition_name(written)]
        assert condition.name == "always" or set(scopes) == {condition.scope}, f"{clause.path}: {written} in {scopes}"
    for line in clause.body.splitlines():
        block = BLOCK_LINE.match(line.strip())
        if block:
            needs = BLOCK_NAMES[block.group(1)].needs
            assert not needs or all(needs in names for names in scopes.values()), f"{clause.path}: ::{block.group(1)}"
    assert check_clause(ENV, clause, scopes) == []


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
