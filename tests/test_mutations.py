"""Mistakes an audit made by hand in the production code that the suite once let through.

Each test here fails on one of them (the others are caught in
test_money_tables.py, test_numbering.py and test_gate.py):

- an empty list (``outcomes: []``) counted as a requirement met;
- "paragraph N of Schedule M" worded as a paragraph of the citing schedule
  (or the reverse).
"""

from __future__ import annotations

import json

from assembler.engine import tree
from assembler.engine.number import number_document
from assembler.engine.text import inline_text
from assembler.engine.xref import resolve_references
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
