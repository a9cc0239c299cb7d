"""A deed of variation read literally turns the old agreement into the new one.

Each case makes a NEW version from the small agreement (its YAML, or the
clause library through the hidden ``--clauses DIR`` option), writes the deed,
applies the deed's provisions to OLD's clause tree (``apply_deed``), and
checks the result reads exactly as NEW: every clause, schedule, number,
reference and party. Some cases also pin how the deed says it: one insert
or delete for a list item, one renumbering provision whenever numbers move,
no edit that only renumbers.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import shutil
from pathlib import Path

import pytest
import yaml

from assembler.engine import tree
from assembler.engine.library import load_library
from assembler.engine.text import inline_text, render_text
from assembler.resources import clauses_dir
from assembler.review import apply as ops
from assembler.review.apply import ApplyError, apply_deed
from assembler.review.variation import build_deed, plan_deed
from assembler.review.versions import load_version
from conftest import BASE, edit

RENUMBERING = "are renumbered in order"
# Cases whose deed may replace a clause or schedule whole (the rest must be said as short edits).
WHOLE = {"schedules-reordered"}


# --- the changes -------------------------------------------------------------------------


def _notice(new, lib):
    edit(new / "agreement.yaml", "dispute_resolution:", "termination:\n  notice_months: 9\ndispute_resolution:")


def _money(new, lib):
    edit(new / "schedules" / "pool.yaml", "council: 400000", "council: 450000")
    edit(new / "schedules" / "pool.yaml", "2017-18: 1500000", "2017-18: 1550000")


def _money_year_added(new, lib):
    edit(new / "schedules" / "pool.yaml", "        council: 400000\n",
         "        council: 400000\n      2018-19:\n        ccg: 950000\n        council: 420000\n")
    edit(new / "schedules" / "pool.yaml", "    2017-18: 1500000\n", "    2017-18: 1500000\n    2018-19: 1370000\n")


def _row_added(new, lib):
    edit(new / "schedules" / "pool.yaml", "  - name: Minor adaptations",
         "  - name: Telecare\n    type: revenue\n    contributions:\n      2017-18:\n        ccg: 50000\n"
         "  - name: Minor adaptations")
    edit(new / "schedules" / "pool.yaml", "2017-18: 1500000", "2017-18: 1550000")


def _row_removed(new, lib):
    edit(new / "schedules" / "pool.yaml", "  - name: Community equipment",
         "  - name: Telecare\n    type: revenue\n    contributions:\n      2017-18:\n        ccg: 50000\n"
         "  - name: Community equipment")
    edit(new / "schedules" / "pool.yaml", "2017-18: 1500000", "2017-18: 1550000")


def _aim_added(new, lib):
    edit(new / "agreement.yaml", "  - Help people stay independent in their own homes.\n",
         "  - Help people stay independent in their own homes.\n  - Give carers a break.\n")


def _consultee_removed(new, lib):
    edit(new / "agreement.yaml", "      - Carers and carers' organisations\n", "")


def _dispute_step_added(new, lib):
    edit(new / "agreement.yaml", "    - who: The partners' chief executives\n",
         "    - who: The partners' directors\n      days: 15\n    - who: The partners' chief executives\n")


def _member_added(new, lib):
    edit(new / "agreement.yaml", "        - role: Director of Operations\n",
         "        - role: Director of Public Health\n          party: council\n          voting: false\n"
         "        - role: Director of Operations\n")


def _address(new, lib):
    edit(new / "agreement.yaml", "1 Station Road, Northbridge NB2 2BB", "2 Market Square, Northbridge NB2 9ZZ")


def _party_renamed(new, lib):
    """Two CCGs merged: the party keeps its key and kind under a new name."""
    edit(new / "agreement.yaml", "NHS Northbridge Clinical Commissioning Group",
         "NHS Northbridge and District Clinical Commissioning Group")
    edit(new / "agreement.yaml", "short_name: the CCG", "short_name: the District CCG")


def _party_succession(new, lib):
    """The CCG replaced by its ICB under a new key: one party succeeding another, not one out and one in."""
    _party_renamed(new, lib)
    for path in [new / "agreement.yaml", *sorted((new / "schedules").glob("*.yaml"))]:
        text = path.read_text(encoding="utf-8")
        text = re.sub(r"\bccg\b", "icb", text).replace("kind: icb", "kind: ccg")
        path.write_text(text, encoding="utf-8")


def _schedule_added(new, lib):
    added = (new / "schedules" / "lead.yaml").read_text(encoding="utf-8")
    for old, now in (("key: lead", "key: dementia"), ("Carers' Support Services", "Dementia Advisers"),
                     ("Carers' support contract", "Dementia adviser service"), ("ccg: 300000", "ccg: 210000")):
        added = added.replace(old, now)
    (new / "schedules" / "dementia.yaml").write_text(added, encoding="utf-8")


def _schedule_removed(new, lib):
    (new / "schedules" / "lead.yaml").unlink()


def _schedule_added_and_removed(new, lib):
    _schedule_added(new, lib)
    _schedule_removed(new, lib)


def _schedules_reordered(new, lib):
    edit(new / "schedules" / "pool.yaml", "kind: scheme\n", "kind: scheme\norder: 1\n")


def _library(lib: Path, name: str, old: str, new: str) -> None:
    edit(lib / f"{name}.clause", old, new)


def _wording(new, lib):
    _library(lib(), "notices", "must be in writing and sent to", "must be in writing, signed, and sent to")


def _clause_added(new, lib):
    folder = lib()
    (folder / "public-statements.clause").write_text(
        "key: public-statements\nheading: Public statements\n---\n"
        "- No [[Partner]] may make a public statement about a [[Scheme]] without first\n"
        "  consulting the other [[Partner|Partners]].\n", encoding="utf-8")
    edit(folder / "outline.yaml", "  - notices\n", "  - notices\n  - public-statements\n")


def _clause_deleted(new, lib):
    edit(lib() / "outline.yaml", "  - force-majeure\n", "")


def _clause_moved(new, lib):
    folder = lib()
    edit(folder / "outline.yaml", "  - notices\n", "")
    edit(folder / "outline.yaml", "  - complaints\n", "  - complaints\n  - notices\n")


def _clause_split(new, lib):
    """The last two paragraphs of Notices become a clause of their own."""
    folder = lib()
    text = (folder / "notices.clause").read_text(encoding="utf-8")
    head, _, tail = text.partition("- {#change}")
    (folder / "notices.clause").write_text(head, encoding="utf-8")
    (folder / "notice-changes.clause").write_text(
        "key: notice-changes\nheading: Changes to addresses for notices\n---\n- {#change}" + tail, encoding="utf-8")
    edit(folder / "outline.yaml", "  - notices\n", "  - notices\n  - notice-changes\n")


def _paragraph_inserted(new, lib):
    _library(lib(), "notices", "- {#proceedings}",
             "- {#copies} A [[Partner]] may ask for a copy of any notice to be sent to a second address.\n"
             "- {#proceedings}")


def _paragraph_deleted(new, lib):
    text = (lib() / "notices.clause")
    body = text.read_text(encoding="utf-8")
    start = body.index("- {#working-hours}")
    end = body.index("- {#formal-notices}")
    text.write_text(body[:start] + body[end:], encoding="utf-8")


def _list_item_deleted(new, lib):
    _library(lib(), "notices", "--- if sent by post, at 9.00am on the second [[Working Day]] after posting; and\n", "")


CASES = {
    "phrase": _notice,
    "money": _money,
    "money-year-added": _money_year_added,
    "table-row-added": _row_added,
    "table-row-first": _row_removed,
    "list-item-added": _aim_added,
    "list-item-removed": _consultee_removed,
    "dispute-step-added": _dispute_step_added,
    "member-row-added": _member_added,
    "party-address": _address,
    "party-renamed": _party_renamed,
    "party-succession": _party_succession,
    "schedule-added": _schedule_added,
    "schedule-removed": _schedule_removed,
    "schedule-added-and-removed": _schedule_added_and_removed,
    "schedules-reordered": _schedules_reordered,
    "library-wording": _wording,
    "clause-added": _clause_added,
    "clause-deleted": _clause_deleted,
    "clause-moved": _clause_moved,
    "clause-split": _clause_split,
    "paragraph-inserted": _paragraph_inserted,
    "paragraph-deleted": _paragraph_deleted,
    "list-item-deleted-in-clause": _list_item_deleted,
}


# --- running a case ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def old_version():
    return load_version(str(BASE))


def _versions(tmp_path: Path, change, old_version):
    new = tmp_path / "new"
    shutil.copytree(BASE, new)
    library = tmp_path / "clauses"

    def lib() -> Path:
        if not library.exists():
            shutil.copytree(clauses_dir(), library)
        return library

    change(new, lib)
    return old_version, load_version(str(new), load_library(library) if library.exists() else None)


def _reading(document: tree.Document) -> str:
    """Everything a deed can vary: parties, clauses, schedules (not the agreement's own version,
    status and date, nor who signed it)."""
    kept = [s for s in document.sections if s.kind != "execution"]
    return render_text(dataclasses.replace(document, sections=kept, version="", status="", date=""))


def _provisions(deed: tree.Document) -> list[str]:
    body = next(s for s in deed.sections if s.kind == "body")
    return [" ".join(p.parts[0].text.split()) for p in body.blocks
            if isinstance(p, tree.Para) and p.level in (2, 3) and p.parts and p.full_number.startswith("2.")]


@pytest.mark.parametrize("name", sorted(CASES))
def test_old_plus_deed_is_new(name, tmp_path, old_version):
    old, new = _versions(tmp_path, CASES[name], old_version)
    plan = plan_deed(old.document, new.document, old.agreement, new.agreement)
    assert not plan.empty, name
    if name not in WHOLE:
        assert not [op for op in plan.ops if isinstance(op, (ops.Replace, ops.ReplaceSchedule))], plan.ops
    numbered = re.compile(r"(Schedules?|clauses?|paragraphs?)\s+[\d.]+(\([a-z]+\))*")
    for op in plan.ops:
        for before, after in getattr(op, "pairs", ()):
            if isinstance(op, ops.Phrases):
                assert numbered.sub(r"\1 N", before) != numbered.sub(r"\1 N", after), f"only renumbers: {op}"
    applied = apply_deed(old.document, plan.ops)
    got, want = _reading(applied), _reading(new.document)
    assert got == want, "".join(difflib.unified_diff(got.splitlines(True), want.splitlines(True), n=1))
    deed = build_deed(old.document, new.document, old.agreement, new.agreement, plan=plan)
    provisions = _provisions(deed)
    assert sum(RENUMBERING in p for p in provisions) == (1 if plan.renumbered else 0), provisions
    if _reading(old.document).replace(" ", "") != want.replace(" ", "") and plan.renumbered:
        assert provisions[-1].endswith("to take account of the variations in this clause.")


def _plan(tmp_path, change, old_version):
    old, new = _versions(tmp_path, change, old_version)
    plan = plan_deed(old.document, new.document, old.agreement, new.agreement)
    return old, new, plan, [" ".join([p.text, *p.items]) for p in plan.provisions]


def test_a_deleted_list_item_is_one_deletion_then_renumbering(tmp_path, old_version):
    old, new, plan, said = _plan(tmp_path, _list_item_deleted, old_version)
    assert len(said) == 1 and re.fullmatch(r"Clause \d+\.2\(b\) is deleted\.", said[0]), said
    assert plan.renumbered


def test_an_added_schedule_inserts_list_items_and_renumbers_once(tmp_path, old_version):
    old, new, plan, said = _plan(tmp_path, _schedule_added, old_version)
    assert plan.renumbered
    assert not [s for s in said if re.search(r"\u201c\d+\u201d is replaced by \u201c\d+\u201d", s)], said
    assert not [s for s in said if "Carers' Support Services\u201d is replaced" in s], said
    assert any(s.startswith("The schedule set out in Annex A is added to the Agreement as Schedule 1") for s in said)
    assert any("Dementia Advisers, described in the Scheme Specification in Schedule 1" in
               " ".join(inline_text(b.parts) for b in p.quoted if isinstance(b, tree.Para))
               for p in plan.provisions), said


def test_a_removed_schedule_deletes_its_list_items(tmp_path, old_version):
    old, new, plan, said = _plan(tmp_path, _schedule_removed, old_version)
    assert "Schedule 1 (Carers' Support Services) is deleted." in said
    assert any(re.fullmatch(r"Clause [\d.]+\(a\) is deleted\.", s) for s in said), said
    assert plan.renumbered


def test_a_succeeding_party_is_one_provision(tmp_path, old_version):
    old, new, plan, said = _plan(tmp_path, _party_succession, old_version)
    parties = [s for s in said if "party" in s]
    assert len(parties) == 1 and parties[0].startswith("NHS Northbridge and District Clinical Commissioning Group "
                                                       "succeeds NHS Northbridge Clinical Commissioning Group"), said
    assert not any("ceases to be a party" in s or "becomes a party" in s for s in said)


def test_a_broken_provision_does_not_apply(old_version):
    with pytest.raises(ApplyError):
        apply_deed(old_version.document, [ops.Phrases(ops.Place("body", "3.1"), (("no such words", "x"),))])
    with pytest.raises(ApplyError):
        apply_deed(old_version.document, [ops.Delete(ops.Place("9", "1.1"))])


def test_a_deed_with_no_changes_is_refused(old_version):
    from assembler.diagnostics import UsageError

    with pytest.raises(UsageError) as error:
        build_deed(old_version.document, old_version.document, old_version.agreement, old_version.agreement)
    assert error.value.diagnostics[0].code == "S75-DEED-EMPTY"


def test_there_are_at_least_twenty_cases():
    assert len(CASES) >= 20
    assert yaml  # the cases edit YAML as text, as a person would


def test_a_schedule_swapped_for_another_deletes_and_inserts_its_list_items(tmp_path, old_version):
    """The issue's case: one schedule removed, one added; items are never rewritten by position."""
    old, new, plan, said = _plan(tmp_path, _schedule_added_and_removed, old_version)
    assert not [s for s in said if "is replaced by" in s], said
    assert sum(bool(re.fullmatch(r"(Clause|Paragraph) [\d.]+\(a\)( of Schedule \d+)? is deleted\.", s))
               for s in said) == 3, said  # the schemes' items, and each one's line in the performance schedule
    assert sum(s.startswith("The following is inserted before") for s in said) == 3, said
    assert not plan.renumbered  # a new Schedule 1 for the old one: no number the old text had moves


def test_an_icb_succeeding_a_ccg_under_its_key_applies(tmp_path):
    """The reviewer's path: a signed framework naming a CCG, then the ICB that succeeded it
    (``succeeds:`` recorded, key kept): the deed renames it throughout and gives its entry."""
    portsmouth = BASE.parent.parent.parent / "agreements" / "portsmouth-framework-2022"
    ccg, icb = "NHS Portsmouth Clinical Commissioning Group", "NHS Hampshire and Isle of Wight Integrated Care Board"
    new = tmp_path / "v2"
    shutil.copytree(portsmouth, new)
    edit(new / "agreement.yaml", f"    name: {ccg}\n    short_name: the CCG\n    kind: ccg\n",
         f"    name: {icb}\n    short_name: the ICB\n    kind: icb\n"
         f"    succeeds: {{name: {ccg}, kind: ccg, date: 2022-07-01}}\n")
    old, new = load_version(str(portsmouth)), load_version(str(new))
    plan = plan_deed(old.document, new.document, old.agreement, new.agreement)
    said = [" ".join([p.text, *p.items]) for p in plan.provisions]
    got, want = _reading(apply_deed(old.document, plan.ops)), _reading(new.document)
    assert got == want, "".join(difflib.unified_diff(got.splitlines(True), want.splitlines(True), n=1))
    assert any(s.startswith("In the parties to the Agreement and throughout it") for s in said), said
    assert any(s.startswith(f"In the parties to the Agreement, the entry for {icb} is replaced by") for s in said)
    assert "established under section 14Z25\u201d" in " ".join(said)  # "14D" -> "14Z25" is one word, said in context
