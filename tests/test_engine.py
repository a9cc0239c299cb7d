"""The assembly engine by value: numbering, references, definitions, money, the sandbox.

These use a small fixture clause library (tests/fixtures/library) so that a
change of wording in the real library cannot hide an engine bug.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from jinja2 import StrictUndefined, Undefined
from jinja2.sandbox import SandboxedEnvironment
from hypothesis import strategies as st

from assembler.engine import tree
from assembler.build.pipeline import check_source, library_for
from assembler.engine.assemble import _terms_used, assemble, render_document
from assembler.engine.language import FUNCTIONS
from assembler.engine.library import ValueSlots, load_library, make_environment
from assembler.model import Record
from assembler.diagnostics import BuildError
from assembler.source.folder import DirectorySource
from assembler.engine.number import number_section
from assembler.engine.text import inline_text, render_text
from assembler.check.validate import validate_source
from conftest import BASE, EXAMPLES, FIXTURE_LIBRARY, edit


def _agreement(path: Path = BASE):
    result = validate_source(DirectorySource(str(path)))
    assert result.agreement is not None, [d.format() for d in result.diagnostics]
    return result.agreement


def _build(path: Path = BASE, library: Path = FIXTURE_LIBRARY):
    return assemble(_agreement(path), library=load_library(library))


@pytest.fixture
def library(tmp_path) -> Path:
    """A throwaway copy of the fixture library, safe to edit."""
    import shutil

    target = tmp_path / "lib"
    shutil.copytree(FIXTURE_LIBRARY, target)
    return target


def _paras(document, kind):
    return [b for s in document.sections if s.kind == kind for b in s.blocks if isinstance(b, tree.Para)]


def test_body_numbering_follows_levels_and_restarts():
    document, _ = _build()
    numbered = [(p.number, p.full_number) for p in _paras(document, "body") if p.number]
    assert numbered[:4] == [("1.", "1"), ("1.1", "1.1"), ("1.2", "1.2"), ("2.", "2")]
    assert ("(a)", "2.2(a)") in numbered and ("(b)", "2.2(b)") in numbered
    assert ("(i)", "2.2(b)(i)") in numbered
    # After clause 3 starts, sub-clause numbering restarts at 3.1.
    assert ("3.1", "3.1") in numbered


def test_recitals_are_lettered_and_schedules_restart():
    document, _ = _build()
    assert [p.number for p in _paras(document, "recitals")][:2] == ["(A)", "(B)"]
    schedules = [s for s in document.sections if s.kind == "schedule"]
    assert [s.number for s in schedules] == ["1", "2", "3"]
    for section in schedules:
        first = next(b for b in section.blocks if isinstance(b, tree.Para) and b.number)
        assert first.number == "1."


def test_cross_references_carry_computed_numbers_and_wording():
    document, _ = _build()
    text = " ".join(render_text(document).split())
    assert "See clause 3.2 and Schedule 2." in text
    assert "(see clause 2.1)" in text
    refs = [p for b in _paras(document, "body") for p in b.parts if isinstance(p, tree.Ref)]
    assert {(r.key, r.number) for r in refs} >= {("termination.consequences", "3.2"), ("pooled-fund-management.host", "2.1")}


def test_broken_reference_is_an_error_not_a_blank(library):
    edit(library / "termination.clause", "<<pooled-fund-management.host>>", "<<pooled-fund-management.nowhere>>")
    with pytest.raises(BuildError) as caught:
        _build(library=library)
    assert any(d.code == "S75-XREF" and "pooled-fund-management.nowhere" in d.message for d in caught.value.diagnostics)


def test_definitions_alphabetical_bold_quoted_and_only_used_terms():
    document, _ = _build()
    definitions = [p for p in _paras(document, "body") if p.style == "Definition"]
    terms = [p.parts[1].text for p in definitions]
    assert terms == sorted(terms, key=str.lower) == ["Agreement", "Host Partner", "Partner"]
    assert all(p.parts[1].bold and p.parts[0].text == "“" for p in definitions)


@pytest.mark.parametrize("path", [BASE, *EXAMPLES], ids=lambda p: p.name)
def test_the_terms_gathered_while_rendering_are_the_terms_the_document_uses(path):
    """A whole build takes its terms from the renderer, not from a walk of the document: they must agree."""
    source = DirectorySource(str(path))
    base = load_library(FIXTURE_LIBRARY) if path == BASE else None
    rendered = render_document(check_source(source, library=base).agreement, library_for(source, base))
    assert rendered.used and rendered.used == _terms_used(rendered.document.sections)


def test_a_term_only_a_definition_uses_is_defined_and_used(library):
    edit(library / "pooled-fund-management.clause", "host in a Scheme.", "host in a [[Scheme]].\n  Scheme: a scheme.")
    document, warnings = _build(library=library)
    terms = [p.parts[1].text for p in _paras(document, "body") if p.style == "Definition"]
    assert terms == ["Agreement", "Host Partner", "Partner", "Scheme"]
    assert not [w for w in warnings if w.code == "S75-TERM-UNUSED"]


def test_undefined_term_is_an_error(library):
    edit(library / "termination.clause", "final accounts", "final accounts of the [[Pooled Budget]]")
    with pytest.raises(BuildError) as caught:
        _build(library=library)
    assert any(d.code == "S75-TERM" and "Pooled Budget" in d.message for d in caught.value.diagnostics)


def test_missing_value_names_the_clause(library):
    edit(library / "termination.clause", "{{ agreement.termination.notice_months }}", "{{ agreement.termination.grace_days }}")
    with pytest.raises(BuildError) as caught:
        _build(library=library)
    found = [d for d in caught.value.diagnostics if d.code == "S75-CLAUSE-DATA"]
    assert found and "termination" in found[0].message and found[0].location.file.endswith("termination.clause")


@pytest.mark.parametrize("attack", [
    "{{ agreement.__class__.__mro__ }}",
    "{{ ''.__class__.__subclasses__() }}",
    "{{ agreement._data }}",
])
def test_sandbox_refuses_python_internals(library, attack):
    edit(library / "termination.clause", "{{ agreement.termination.notice_months }}", attack)
    with pytest.raises(BuildError) as caught:
        _build(library=library)
    assert all("termination" in d.message for d in caught.value.diagnostics if d.code.startswith("S75-CLAUSE"))


def test_each_compiled_clause_sees_the_environment_s_globals_as_they_are_after_a_build():
    """Templates keep a copy of the globals (Templates' environment): nothing may change them once one is compiled."""
    library = load_library(FIXTURE_LIBRARY)
    assemble(_agreement(), library=library)
    env = library.templates.env
    assert env.globals == {f.name: f.function for f in FUNCTIONS}
    assert library.templates.compiled and all(t.globals == env.globals for t in library.templates.compiled.values())
    assert env.from_string("{{ in_force }}").globals is not env.globals


def test_the_sandbox_reads_a_record_exactly_as_jinja_s_own_sandbox_does():
    """Record fields take a short way through the clause sandbox; what comes back must not change."""
    record = Record({"name": "the Council", "items": "a field named like a method", "_hidden": "private",
                     "call": len, "format": "{0}".format, "nothing": None})
    ours = make_environment(ValueSlots())
    jinja = SandboxedEnvironment(undefined=StrictUndefined)
    for attribute in ("name", "items", "keys", "_hidden", "_data", "call", "format", "nothing", "missing", "__class__"):
        got, expected = ours.getattr(record, attribute), jinja.getattr(record, attribute)
        assert type(got) is type(expected), attribute
        if isinstance(expected, Undefined):
            assert got._undefined_hint == expected._undefined_hint and got._undefined_exception is \
                expected._undefined_exception, attribute
        elif attribute != "format":  # str.format comes back wrapped by the sandbox, a new wrapper each time
            assert got == expected, attribute


HOSTILE = "{{ 7*7 }} {% if x %}x{% endif %} <w:p> ]]> & [[Agreement]] <<termination>> [__blank__] \u2067isolated\u2069 🙂"


def test_yaml_text_is_inserted_literally(base_copy):
    import json
    import re

    path = base_copy / "agreement.yaml"
    text = path.read_text(encoding="utf-8")
    line = json.dumps(HOSTILE + " One budget.", ensure_ascii=False)
    path.write_text(re.sub(r"(?m)^  improvement: .*$", lambda _: f"  improvement: {line}", text), encoding="utf-8")
    document, _ = _build(base_copy)
    recital = _paras(document, "recitals")[0]
    text = inline_text(recital.parts)
    assert HOSTILE.lower() in text.lower()
    # The markup inside the value stayed text: no term use, reference or blank came from it.
    assert not any(isinstance(p, (tree.Ref, tree.Blank)) for p in recital.parts)
    assert "49" not in text


def test_money_tables_are_computed_from_lines(base_copy):
    document, _ = _build()
    schedule = next(s for s in document.sections if s.key == "pool")
    table = next(b for b in schedule.blocks if isinstance(b, tree.Table))
    total_row = table.rows[-1]
    assert total_row[0] == "Total" and total_row[-1] == "£1,500,000"
    assert ["Total capital", "", "£200,000", "\u2013", "£200,000"] in table.rows


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=5), min_size=1, max_size=40))
def test_numbering_is_unique_and_ordered(levels):
    levels = [1] + levels  # a section starts with a clause heading
    # The renderer refuses a 1.1.1 paragraph with no 1.1 above it; mirror that here.
    seen_level_two = False
    for i, level in enumerate(levels):
        if level == 3 and not seen_level_two:
            levels[i] = 2
        seen_level_two = levels[i] >= 2 and (seen_level_two or levels[i] == 2)
    section = tree.Section("body", "t", [tree.Para([], level=n) for n in levels])
    number_section(section)
    full = [b.full_number for b in section.blocks]
    assert len(set(full)) == len(full)
    headings = [int(b.number.rstrip(".")) for b in section.blocks if b.level == 1]
    assert headings == list(range(1, len(headings) + 1))


def test_written_document_uses_each_terms_wording(tmp_path):
    """[[Partner|Partners]] must read "Partners" in Word, not the bare term."""
    import docx

    from assembler.word.writer import write_docx

    document, _ = _build()
    target = tmp_path / "terms.docx"
    write_docx(document, target)
    text = "\n".join(p.text for p in docx.Document(str(target)).paragraphs)
    assert "The Partners expect that" in text



def test_a_schemes_underspend_rule_keeps_the_frameworks_rule_on_expiry(tmp_path):
    import shutil

    root = tmp_path / "agreement"
    shutil.copytree(BASE, root)
    edit(root / "agreement.yaml", "    treatment: return_to_contributor\n",
         "    treatment: return_to_contributor\n    on_expiry: return_to_contributor\n")
    edit(root / "schedules" / "pool.yaml", "governance_body: board",
         "underspend:\n  treatment: non_recurrent_only\ngovernance_body: board")
    schedule = next(s for s in _agreement(root).schedules if s.key == "pool")
    assert schedule.effective_underspend.treatment == "non_recurrent_only"
    assert schedule.effective_underspend.on_expiry == "return_to_contributor"
    edit(root / "schedules" / "pool.yaml", "  treatment: non_recurrent_only\n",
         "  treatment: non_recurrent_only\n  on_expiry: pro_rata\n")
    schedule = next(s for s in _agreement(root).schedules if s.key == "pool")
    assert schedule.effective_underspend.on_expiry == "pro_rata"
