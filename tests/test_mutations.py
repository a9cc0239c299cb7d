"""Mistakes an audit made by hand in the production code that the suite once let through.

Each test here fails on one of them (the others are caught in
test_money_tables.py, test_numbering.py and test_gate.py):

- an empty list (``outcomes: []``) counted as a requirement met;
- "paragraph N of Schedule M" worded as a paragraph of the citing schedule
  (or the reverse).

The tests after them kill what scripts/mutate.py found surviving in
engine/xref.py: where a broken reference is reported, references into a
schedule clause that failed, a key's scope, and the plain wording of a
schedule built on its own.
"""

from __future__ import annotations

import copy
import json

from assembler.diagnostics import Location
from assembler.engine import tree
from assembler.engine.number import number_document
from assembler.engine.text import inline_text
from assembler.engine.xref import resolve_references, targets
from tests.conftest import edit, s75


def test_an_empty_list_does_not_meet_a_requirement(base_copy, capsys, monkeypatch):
    edit(base_copy / "schedules" / "pool.yaml",
         "outcomes:\n  - More people still at home 91 days after leaving hospital.\n", "outcomes: []\n")
    code, out, _ = s75(capsys, monkeypatch, "compliance", str(base_copy), "--format", "json")
    rows = {(r["scope"], r["regulation"]): r for r in json.loads(out)}
    aims = [r for (scope, regulation), r in rows.items() if regulation == "reg 7(3)(a)"]
    assert code == 1 and [r["status"] for r in aims] == ["MISSING"]
    assert "outcomes" in aims[0]["yaml"] or aims[0]["missing"]


def test_an_empty_mapping_and_blank_text_do_not_meet_a_requirement(base_copy, capsys, monkeypatch):
    edit(base_copy / "schedules" / "pool.yaml", "  monitoring: Monthly budget reports to the Joint Commissioning Board.\n",
         "  monitoring: ''\n")
    code, out, _ = s75(capsys, monkeypatch, "compliance", str(base_copy), "--format", "json")
    statuses = {r["regulation"]: r["status"] for r in json.loads(out) if r["regulation"] == "reg 7(3)(g)"}
    assert code == 1 and statuses == {"reg 7(3)(g)": "MISSING"}


def _para(key: str, level: int, *parts) -> tree.Para:
    return tree.Para(list(parts), level=level, key=key)


def _document() -> tree.Document:
    """A body citing a schedule's paragraph and the schedule citing its own and the body's."""
    recitals = tree.Section("recitals", "Background", [_para("recital-a", 1, tree.Text("A."))], key="recitals")
    body = tree.Section("body", "Agreed terms", [
        _para("one", 1), _para("one.a", 2), _para("one.b", 2),
        _para("", 4, tree.Text("see "), tree.Ref("pool/aims.second"), tree.Text(", "), tree.Ref("schedule:pool"),
              tree.Text(", "), tree.Ref("recital-a"), tree.Text(" and "), tree.Ref("one.b")),
    ], key="body")
    pool = tree.Section("schedule", "Pool", [
        _para("pool/aims", 1), _para("pool/aims.first", 2), _para("pool/aims.second", 2),
        _para("", 2, tree.Text("under "), tree.Ref("aims.second"), tree.Text(" and "), tree.Ref("one.a")),
    ], key="pool", number="1")
    other = tree.Section("schedule", "Other", [
        _para("other/x", 1), _para("", 2, tree.Text("as "), tree.Ref("pool/aims.first")),
    ], key="other", number="2")
    return tree.Document("T", "", "1", "draft", "", [], [recitals, body, pool, other])


def test_references_are_worded_for_where_they_stand():
    document = _document()
    number_document(document)
    assert resolve_references(document) == []
    body, pool, other = document.sections[1], document.sections[2], document.sections[3]
    assert inline_text(body.blocks[3].parts) == ("see paragraph 1.2 of Schedule 1, Schedule 1, recital (A) "
                                                 "and clause 1.2")
    assert inline_text(pool.blocks[3].parts) == "under paragraph 1.2 and clause 1.1"
    assert inline_text(other.blocks[1].parts) == "as paragraph 1.1 of Schedule 1"
    ref = next(p for p in body.blocks[3].parts if isinstance(p, tree.Ref))
    assert (ref.key, ref.number) == ("pool/aims.second", "1.2")


def _with_broken_reference() -> tree.Document:
    document = _document()
    document.sections[1].blocks[3].parts.append(tree.Ref("nowhere.else"))
    number_document(document)
    return document


def test_a_reference_to_a_missing_key_is_reported_once():
    [problem] = resolve_references(_with_broken_reference())
    assert problem.code == "S75-XREF" and "'nowhere.else'" in problem.message


def test_a_reference_into_a_clause_that_failed_to_render_is_not_reported_again():
    assert resolve_references(_with_broken_reference(), failed={"nowhere"}) == []
    assert len(resolve_references(_with_broken_reference(), failed={"elsewhere"})) == 1


# --- references: what scripts/mutate.py found no test for -----------------------------------------------------


def test_a_broken_reference_is_reported_at_its_paragraphs_clause_line_and_names_the_section():
    document = _with_broken_reference()
    document.sections[1].blocks[3].source = Location("clauses/one.clause", 12, 3)
    [problem] = resolve_references(document)
    assert problem.location == Location("clauses/one.clause", 12, 3)
    assert problem.message == "reference to 'nowhere.else' in body Agreed terms does not resolve"
    assert inline_text(document.sections[1].blocks[3].parts).endswith(" and clause 1.2the provisions on nowhere.else")


def test_a_broken_reference_without_a_source_line_is_reported_at_the_library_and_by_schedule_number():
    document = _document()
    document.sections[3].blocks[1].parts.append(tree.Ref("gone"))
    number_document(document)
    [problem] = resolve_references(document)
    assert str(problem.location) == "clauses:1:1"
    assert problem.message == "reference to 'gone' in schedule 2 does not resolve"


def test_a_reference_into_a_schedule_clause_that_failed_is_not_reported_again_scoped_or_not():
    document = _document()
    document.sections[2].blocks[3].parts.append(tree.Ref("lost.part"))  # written in Schedule 1 ("pool")
    number_document(document)
    assert resolve_references(copy.deepcopy(document), failed={"pool/lost"}) == []
    assert resolve_references(copy.deepcopy(document), failed={"lost"}) == []
    assert len(resolve_references(copy.deepcopy(document), failed={"other/lost"})) == 1


def test_a_key_of_the_whole_agreement_wins_over_a_schedules_local_key_of_the_same_name():
    """``<<one.a>>`` in a schedule means the body's clause 1.1, even when the schedule has a local one.a."""
    document = _document()
    pool = document.sections[2]
    pool.blocks[3:3] = [_para("pool/one", 1), _para("pool/one.a", 2)]
    number_document(document)
    assert resolve_references(document) == []
    assert inline_text(pool.blocks[5].parts) == "under paragraph 1.2 and clause 1.1"


def test_a_schedule_built_on_its_own_names_the_rest_of_the_agreement_in_plain_words():
    whole = _document()
    number_document(whole)
    outside = targets(whole)
    alone = tree.Document("T", "", "1", "draft", "", [], [
        tree.Section("schedule", "Other", [
            _para("other/x", 1),
            _para("", 2, tree.Ref("pool/aims.first"), tree.Text("; "), tree.Ref("schedule:pool"), tree.Text("; "),
                  tree.Ref("recital-a"), tree.Text("; "), tree.Ref("one.b"), tree.Text("; "), tree.Ref("x")),
        ], key="other", number="2")])
    number_document(alone)
    assert resolve_references(alone, outside=outside) == []
    assert inline_text(alone.sections[0].blocks[1].parts) == (
        "paragraph 1.1 of Schedule 1 to the Agreement; Schedule 1 to the Agreement; recital (A) of the Agreement; "
        "clause 1.2 of the Agreement; paragraph 1")
    assert [p.number for p in alone.sections[0].blocks[1].parts if isinstance(p, tree.Ref)] == ["1"]
