"""The deed of variation reads as a lawyer would write it, and the diff reports
parties by key and money exactly: phrase edits, whole-paragraph replacement,
a renamed party, exact amounts in JSON."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from assembler.review import diff as semantic
from assembler.engine import tree
from assembler.engine.number import number_document
from assembler.engine.text import inline_text, render_text
from assembler.review.variation import build_deed, phrase_edits
from assembler.review.versions import load_version
from conftest import BASE, edit, s75

OLD_CCG = "NHS Northbridge Clinical Commissioning Group"
NEW_CCG = "NHS Northbridge and District Clinical Commissioning Group"  # a CCG merger: the kind stays ccg


@pytest.fixture
def versions(tmp_path: Path):
    """Two copies of the small agreement, ``old`` and ``new``; edit ``new``, then call ``load()``."""
    old, new = tmp_path / "old", tmp_path / "new"
    shutil.copytree(BASE, old)
    shutil.copytree(BASE, new)

    def load():
        return load_version(str(old)), load_version(str(new))

    load.old, load.new = old, new
    return load


def _deed_text(old, new) -> str:
    deed = build_deed(old.document, new.document, old.agreement, new.agreement)
    return " ".join(render_text(deed).split())


def _para(document: tree.Document, key: str) -> tree.Para:
    return next(b for s in document.sections for b in s.blocks if isinstance(b, tree.Para) and b.key == key)


def _provisions(deed: tree.Document) -> list[str]:
    """The operative provisions (clause 2.1.x of the deed), each with its items."""
    body = next(s for s in deed.sections if s.kind == "body")
    out: list[str] = []
    for block in body.blocks:
        if isinstance(block, tree.Para) and block.level == 3:
            out.append(inline_text(block.parts))
        elif isinstance(block, tree.Para) and block.level == 4 and out:
            out[-1] += " " + inline_text(block.parts)
    return out


# --- phrases -----------------------------------------------------------------------------


def test_a_reworded_phrase_is_one_replacement_that_gives_the_new_text(versions):
    edit(versions.new / "agreement.yaml", "      days: 20\n", "      days: 20\n  mediation: false\n")
    old, new = versions()
    before = _para(old.document, "dispute-resolution.courts")
    after = _para(new.document, "dispute-resolution.courts")
    old_text, new_text = inline_text(before.parts), inline_text(after.parts)
    assert "within 30 Working Days after the mediator is appointed" in old_text
    deed = build_deed(old.document, new.document, old.agreement, new.agreement)
    mine = [p for p in _provisions(deed) if p.startswith(f"In clause {before.full_number}")]
    assert len(mine) == 1, _provisions(deed)
    pattern = rf"In clause {re.escape(before.full_number)}, \u201c(.+?)\u201d is replaced by \u201c(.+?)\u201d\."
    found = re.fullmatch(pattern, mine[0])
    assert found, mine[0]
    was, now = found.groups()
    assert was == "within 30 Working Days after the mediator is appointed"
    assert now.startswith("under clause ")
    assert old_text.count(was) == 1
    assert old_text.replace(was, now) == new_text


@pytest.mark.parametrize("old, new, expected", [
    ("If it is not resolved within 30 Working Days after the mediator is appointed, any Partner may act.",
     "If it is not resolved under clause 20.2, any Partner may act.",
     [("within 30 Working Days after the mediator is appointed", "under clause 20.2")]),
    # Changes a few words apart are one phrase.
    ("The Council must tell the CCG in writing before the end of the month.",
     "The Trust must tell the ICB in writing before the end of the month.",
     [("Council must tell the CCG", "Trust must tell the ICB")]),
    # Figures keep their own form.
    ("The fund is £1,240,000, of which £400,000 is capital.",
     "The fund is £1,300,000, of which £450,000 is capital.",
     [("£1,240,000", "£1,300,000"), ("£400,000", "£450,000")]),
    # A phrase that occurs twice is quoted with enough of its context to be found once.
    ("The Council pays 10 in April and the CCG pays 10 in April each year.",
     "The Council pays 10 in April and the CCG pays 20 in May each year.",
     [("10 in April each", "20 in May each")]),
])
def test_phrase_edits_are_phrases_found_once(old, new, expected):
    edits = phrase_edits(old, new)
    assert edits == expected
    text = old
    for was, now in edits:
        assert old.count(was) == 1
        text = text.replace(was, now)
    assert text == new


def test_phrase_edits_give_up_on_a_rewrite_or_many_edits():
    old = "Help people stay independent in their own homes."
    assert phrase_edits(old, "Help carers get a break from caring in their own homes.") is None  # most words
    many = "The Council pays 1 and in the year after the CCG pays 2 and in the year after the Trust pays 3 " \
           "and in the year after the Board pays 4 and nobody pays more."
    assert phrase_edits(many, many.replace("1", "5").replace("2", "6").replace("3", "7")) is not None
    assert phrase_edits(many, many.replace("1", "5").replace("2", "6").replace("3", "7").replace("4", "8")) is None


def test_a_rewritten_paragraph_is_replaced_whole(versions):
    edit(versions.new / "schedules" / "pool.yaml", "staff: The Council provides the commissioning team.",
         "staff: The CCG seconds two reablement nurses to the integrated team.")
    old, new = versions()
    deed = build_deed(old.document, new.document, old.agreement, new.agreement)
    provisions = _provisions(deed)
    assert any(re.fullmatch(r"Paragraph 6\.1\.1 of Schedule 2 is deleted and replaced by:", p) for p in provisions), \
        provisions
    assert not any("is replaced by \u201c" in p for p in provisions), provisions
    text = " ".join(render_text(deed).split())
    assert "\u201c6.1.1 Staff: The CCG seconds two reablement nurses to the integrated team.\u201d" in text


# --- a renamed party ----------------------------------------------------------------------


def test_a_renamed_party_is_one_party_renamed_in_the_deed(versions):
    edit(versions.new / "agreement.yaml", f"name: {OLD_CCG}", f"name: {NEW_CCG}")
    old, new = versions()
    deed = build_deed(old.document, new.document, old.agreement, new.agreement)
    names = [p.name for p in new.agreement.parties]
    assert [p.name for p in deed.parties] == names
    execution = next(s for s in deed.sections if s.kind == "execution")
    assert [b.party_name for b in execution.blocks if isinstance(b, tree.SignatureBlock)] == names
    provisions = _provisions(deed)
    rename = (f"In the parties to the Agreement and throughout it, \u201c{OLD_CCG}\u201d is replaced by "
              f"\u201c{NEW_CCG}\u201d.")
    assert provisions == [rename]  # the recitals and tables that name it follow from this one provision
    assert OLD_CCG not in " ".join(render_text(deed).split()).replace(rename, "")


def test_the_diff_reports_a_renamed_party_as_changed(versions, capsys, monkeypatch):
    edit(versions.new / "agreement.yaml", f"name: {OLD_CCG}", f"name: {NEW_CCG}")
    code, out, err = s75(capsys, monkeypatch, "diff", str(versions.old), str(versions.new))
    assert code == 0, out + err
    party_lines = [line for line in out.splitlines() if line.startswith("~ party")]
    assert party_lines == [f"~ party [ccg]: {OLD_CCG} of 1 Station Road, Northbridge NB2 2BB (the CCG) -> "
                           f"{NEW_CCG} of 1 Station Road, Northbridge NB2 2BB (the CCG)"]
    code, out, err = s75(capsys, monkeypatch, "diff", str(versions.old), str(versions.new), "--format", "json")
    assert code == 0, out + err
    parties = [f for f in json.loads(out)["fields"] if f["field"] == "party"]
    assert parties == [{"field": "party", "key": "ccg",
                        "old": f"{OLD_CCG} of 1 Station Road, Northbridge NB2 2BB (the CCG)",
                        "new": f"{NEW_CCG} of 1 Station Road, Northbridge NB2 2BB (the CCG)"}]


# --- exact money in JSON ------------------------------------------------------------------


def test_json_money_has_exact_decimal_amounts(versions, capsys, monkeypatch):
    pool = versions.new / "schedules" / "pool.yaml"
    edit(pool, "council: 400000", "council: '450000.50'")
    edit(pool, "2017-18: 1500000", "2017-18: '1550000.50'")
    edit(pool, "ccg: 900000", "ccg: tbc")
    code, out, err = s75(capsys, monkeypatch, "diff", str(versions.old), str(versions.new), "--format", "json")
    assert code == 0, out + err
    data = json.loads(out)
    assert data["money"]
    for entry in data["money"]:
        assert set(entry) == {"schedule", "year", "line", "partner", "old", "new", "difference",
                              "old_amount", "new_amount", "difference_amount", "schedule_number", "schedule_title"}
        for name in ("old_amount", "new_amount", "difference_amount"):
            assert entry[name] is None or (isinstance(entry[name], str) and re.fullmatch(r"-?\d+(\.\d+)?", entry[name]))
    amounts = shown = {(m["line"], m["partner"]): m for m in data["money"]}
    line = amounts[("Community equipment", "Council")]
    assert (line["old_amount"], line["new_amount"], line["difference_amount"]) == ("400000", "450000.50", "50000.50")
    assert shown[("Community equipment", "Council")]["difference"] == "+£50,000.50"
    tbc = amounts[("Community equipment", "CCG")]
    assert (tbc["old_amount"], tbc["new_amount"], tbc["difference_amount"]) == ("900000", None, None)


def test_money_changes_carry_exact_amounts(versions):
    edit(versions.new / "schedules" / "pool.yaml", "council: 400000", "council: 340000")
    edit(versions.new / "schedules" / "pool.yaml", "2017-18: 1500000", "2017-18: 1440000")
    old, new = versions()
    result = semantic.diff_documents(old.document, new.document, old.agreement, new.agreement)
    line = next(m for m in result.money if m.line == "Community equipment" and m.partner == "Council")
    assert (line.old, line.new, line.difference) == ("£400,000", "£340,000", "-£60,000")
    assert (line.old_amount, line.new_amount, line.difference_amount) == ("400000", "340000", "-60000")


# --- diffs a reviewer reads at a glance ------------------------------------------------------


def test_consecutive_changed_words_are_one_change():
    words = semantic.word_diff("NHS Portsmouth Clinical Commissioning Group of 1 Station Road",
                               "NHS Hampshire and Isle of Wight Integrated Care Board of 1 Station Road")
    assert semantic.marked(words) == ("NHS [-Portsmouth Clinical Commissioning Group-]"
                                      "{+Hampshire and Isle of Wight Integrated Care Board+} of 1 Station Road")
    assert semantic.marked(semantic.word_diff("a b c d", "a x c y")) == "a [-b-]{+x+} c [-d-]{+y+}"


def test_the_redline_marks_a_run_of_changed_words_as_one_deletion_and_one_insertion():
    from assembler.review.redline import DEL, END, INS, diff_parts, diff_string

    marked = diff_string("NHS Portsmouth Clinical Commissioning Group", "NHS Hampshire and Isle of Wight ICB")
    assert marked.count(DEL) == marked.count(INS) == 1, marked
    parts = diff_parts([tree.Text("NHS Portsmouth Clinical Commissioning Group")], [tree.Text("NHS Wight ICB")])
    text = "".join(p.text for p in parts if isinstance(p, tree.Text))
    assert text.count(DEL) == text.count(INS) == 1 and text.count(END) == 2, text


def test_tables_are_compared_row_by_row():
    old = tree.Table(["Line", "Council"], [["Equipment", "£1"], ["Adaptations", "£2"], ["Total", "£3"]])
    new = tree.Table(["Line", "Council"], [["Equipment", "£1"], ["Telecare", "£5"], ["Adaptations", "£4"],
                                           ["Total", "£10"]])
    shown = semantic.marked(semantic.table_words(old, new)).split("\n")
    assert shown == ["{+Telecare | £5+}", "Adaptations | [-£2-]{+£4+}", "Total | [-£3-]{+£10+}"]


def test_diff_names_schedules_and_moved_paragraphs_and_no_field_names(versions, capsys, monkeypatch):
    edit(versions.new / "agreement.yaml", "      - Carers and carers' organisations\n", "")
    edit(versions.new / "agreement.yaml", "Director of Operations", "Director of Community Operations")
    code, out, _ = s75(capsys, monkeypatch, "diff", str(versions.old), str(versions.new))
    assert code == 0, out
    assert re.search(r"~ paragraph \d+ of Schedule 3 \(Terms of reference of the [A-Z][^)]+\) ", out), out
    assert not re.search(r"sign_off|signatories|\[[a-z-]+\]:", out), out
    assert not any(re.search(r"Schedule [a-z]", line) for line in out.splitlines()), out


def test_a_moved_paragraph_is_labelled_with_both_numbers():
    def doc(paras):
        blocks = [tree.Para([], level=1, key="c", heading="C")] + [tree.Para([tree.Text(t)], level=2) for t in paras]
        document = tree.Document("T", "S", "1", "draft", "", [], [tree.Section("body", "B", blocks, key="body")])
        number_document(document)
        return document

    result = semantic.diff_documents(doc(["One thing here.", "Two things here.", "Three things, old."]),
                                     doc(["Two things here.", "Three things, new."]))
    text = semantic.format_text(result)
    assert "1.3 \u2192 1.2 Three things, [-old-]{+new+}." in text, text


def test_money_totals_per_partner_year_and_agreement_with_the_year_before(versions):
    edit(versions.new / "schedules" / "pool.yaml", "        council: 400000\n",
         "        council: 400000\n      2018-19:\n        ccg: 990000\n        council: 660000\n")
    edit(versions.new / "schedules" / "pool.yaml", "    2017-18: 1500000\n", "    2017-18: 1500000\n    2018-19: 1650000\n")
    old, new = versions()
    totals = {(t.year, t.partner): t for t in semantic.money_totals(old.agreement, new.agreement)}
    council = totals[("2018-19", "Council")]
    # 2017-18: the Council paid £150,000 (lead) + £600,000 (pool) = £750,000.
    assert (council.old, council.new, council.difference) == (None, "£660,000", "+£660,000")
    assert council.previous == "-£90,000 (-12.0%) on 2017-18"
    whole = totals[("", "")]
    assert whole.old_amount == "1950000" and whole.new_amount == "3600000"
    assert ("2017-18", "Council") not in totals  # unchanged totals are not listed


def test_a_redline_is_never_marked_final(versions):
    import io
    import zipfile

    from assembler.review.redline import render_redline_bytes

    edit(versions.new / "agreement.yaml", "status: draft", "status: final")
    old, new = versions()
    data = render_redline_bytes(old.document, new.document)
    core = zipfile.ZipFile(io.BytesIO(data)).read("docProps/core.xml").decode()
    assert "<cp:contentStatus>redline</cp:contentStatus>" in core


def test_deed_warnings_for_an_undated_agreement_and_a_past_year(versions, capsys, monkeypatch, tmp_path):
    edit(versions.new / "schedules" / "pool.yaml", "council: 400000", "council: 450000")
    edit(versions.new / "schedules" / "pool.yaml", "2017-18: 1500000", "2017-18: 1550000")
    out = tmp_path / "deed.docx"
    code, _, err = s75(capsys, monkeypatch, "variation", str(versions.old), str(versions.new), "-o", str(out),
                       "--effective", "2018-06-01")
    assert code == 0, err
    assert re.search(r"agreement\.yaml:1:1: warning \[S75-DEED-UNSIGNED\] .*dated \[\u25cf\]", err), err
    assert "warning [S75-DEED-PAST-YEAR] the deed changes money for 2017-18" in err
    code, _, err = s75(capsys, monkeypatch, "variation", str(versions.old), str(versions.new), "-o", str(out),
                       "--effective", "2018-03-01")
    assert "S75-DEED-PAST-YEAR" not in err


def test_an_empty_deed_is_refused_by_the_command(versions, capsys, monkeypatch, tmp_path):
    out = tmp_path / "deed.docx"
    code, stdout, err = s75(capsys, monkeypatch, "variation", str(versions.old), str(versions.new), "-o", str(out))
    assert code == 2 and "[S75-DEED-EMPTY]" in stdout + err
    assert not out.exists()


def test_the_deed_cover_is_the_deeds_own(versions):
    edit(versions.new / "agreement.yaml", "version: '1.0'", "version: '2.3'")
    edit(versions.new / "agreement.yaml", "status: draft", "status: final")
    edit(versions.new / "agreement.yaml", "dispute_resolution:", "termination:\n  notice_months: 9\ndispute_resolution:")
    old, new = versions()
    draft = build_deed(old.document, new.document, old.agreement, new.agreement)
    assert (draft.version, draft.status, draft.date) == ("1", "draft", "")
    assert draft.title.startswith("Deed of variation")
    signed = build_deed(old.document, new.document, old.agreement, new.agreement, date="2018-03-01")
    assert (signed.status, signed.date) == ("for signature", "1 March 2018")
    assert "2.3" not in render_text(signed).split("AGREED TERMS")[0]


def test_a_succeeded_party_is_one_party_in_the_money(versions):
    for path in [versions.new / "agreement.yaml", *sorted((versions.new / "schedules").glob("*.yaml"))]:
        text = path.read_text(encoding="utf-8")
        path.write_text(re.sub(r"\bccg\b", "icb", text).replace("kind: icb", "kind: ccg"), encoding="utf-8")
    edit(versions.new / "agreement.yaml", OLD_CCG, NEW_CCG)
    old, new = versions()
    assert semantic.successions(old.agreement, new.agreement) == {"ccg": "icb"}
    assert semantic.money_changes(old.agreement, new.agreement) == []
    result = semantic.diff_documents(old.document, new.document, old.agreement, new.agreement)
    parties = [f for f in result.fields if f.field == "party"]
    assert len(parties) == 1 and parties[0].key == "icb", parties


def test_a_row_whose_first_cell_changed_is_one_row_changed():
    old = tree.Table(["Partner", "Address", "Attention"],
                     [["NHS Northbridge Clinical Commissioning Group", "1 Station Road, Northbridge", "Director"]])
    new = tree.Table(["Partner", "Address", "Attention"],
                     [["NHS Northbridge Integrated Care Board", "1 Station Road, Northbridge", "Director"]])
    assert semantic.marked(semantic.table_words(old, new)) == (
        "NHS Northbridge [-Clinical Commissioning Group-]{+Integrated Care Board+} | 1 Station Road, Northbridge | "
        "Director")
