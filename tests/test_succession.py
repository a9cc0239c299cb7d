"""Agreements in relation to time and to other agreements: a party's successor, the earlier
agreements an agreement replaces, and an agreement that takes effect before it is made."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from assembler.build.pipeline import assemble_source
from assembler.check.validate import validate_source
from assembler.engine.text import render_text
from assembler.source.folder import DirectorySource
from conftest import ROOT, edit

CASES = ROOT / "tests" / "cases"
PORTSMOUTH = ROOT / "agreements" / "portsmouth-framework-2022"


def _text(folder: Path) -> str:
    return re.sub(r"\s+", " ", render_text(assemble_source(DirectorySource(str(folder))).document))


def _codes(folder: Path) -> list[str]:
    return [d.code for d in validate_source(DirectorySource(str(folder))).diagnostics]


def _case(name: str, tmp_path: Path) -> Path:
    """A valid case laid over the base agreement."""
    target = tmp_path / "agreement"
    shutil.copytree(CASES / "base", target)
    shutil.copytree(CASES / "valid" / name, target, dirs_exist_ok=True)
    return target


def test_icb_succeeding_a_ccg_keeps_the_commencement_date_and_recites_the_transfer(tmp_path):
    folder = _case("icb-succeeds-ccg", tmp_path)
    assert _codes(folder) == []
    text = _text(folder)
    assert "NHS Northbridge Integrated Care Board (as successor to NHS Northbridge Clinical Commissioning Group)" in text
    assert ("It was abolished on 1 July 2022 under the Health and Care Act 2022, and all its property, rights and "
            "liabilities, including those under this Agreement, passed to NHS Northbridge Integrated Care Board "
            "under a transfer scheme made by NHS England under section 14Z28 of the National Health Service Act "
            "2006") in text
    assert "takes effect on the Commencement Date and continues until the end of 31 March 2023" in text
    assert "governing body of NHS Northbridge Clinical Commissioning Group, to any of its officers" in text


def test_without_succeeds_an_icb_before_july_2022_is_refused_and_the_hint_names_the_field(tmp_path):
    folder = _case("icb-succeeds-ccg", tmp_path)
    edit(folder / "agreement.yaml",
         "    succeeds: {name: NHS Northbridge Clinical Commissioning Group, kind: ccg, date: 2022-07-01}\n", "")
    found = validate_source(DirectorySource(str(folder))).diagnostics
    icb = [d for d in found if d.code == "S75-ICB"]
    assert icb and "succeeds:" in icb[0].hint


def _without_successor(tmp_path: Path) -> Path:
    """The Portsmouth framework as it would be without the ICB recorded in advance."""
    folder = tmp_path / "portsmouth"
    shutil.copytree(PORTSMOUTH, folder)
    edit(folder / "agreement.yaml", "    succeeded_by: {name: NHS Hampshire and Isle of Wight Integrated Care Board,"
         " kind: icb, date: 2022-07-01}\n", "")
    return folder


def test_ccg_transfer_warning_points_at_succeeded_by_and_succeeds(tmp_path):
    found = validate_source(DirectorySource(str(_without_successor(tmp_path)))).diagnostics
    transfer = [d for d in found if d.code == "S75-CCG-TRANSFER"]
    assert transfer and "succeeds: {name:" in transfer[0].hint and "succeeded_by: {name:" in transfer[0].hint
    assert "S75-CCG-TRANSFER" not in _codes(PORTSMOUTH)


def test_without_a_recorded_successor_the_clause_keeps_the_conditional_form(tmp_path):
    text = _text(_without_successor(tmp_path))
    assert "If NHS Portsmouth Clinical Commissioning Group is abolished during the Term" in text
    assert "each reference to the governing body of NHS Portsmouth Clinical Commissioning Group" in text
    assert "notices to the CCG must be given to the Successor" in text
    assert "Hampshire" not in text


def test_portsmouth_names_its_expected_successor_and_the_date_but_no_act_not_yet_law():
    text = _text(PORTSMOUTH)
    assert ("NHS Portsmouth Clinical Commissioning Group is expected to be abolished on 1 July 2022 by legislation "
            "establishing integrated care boards, and its functions and its property, rights and liabilities are then "
            "expected to pass to NHS Hampshire and Isle of Wight Integrated Care Board") in text
    assert "pass to NHS Hampshire and Isle of Wight Integrated Care Board (or, if the enactment names another" in text
    assert "is abolished during the Term" not in text
    # signed late, the successor signs in the CCG's place and adopts what was done before the transfer
    assert ("If this Agreement is signed on or after 1 July 2022, NHS Hampshire and Isle of Wight Integrated Care "
            "Board signs it in place of NHS Portsmouth Clinical Commissioning Group, as its Successor. This Agreement "
            "then takes effect between NHS Hampshire and Isle of Wight Integrated Care Board and the other Partners as "
            "from the Commencement Date, and NHS Hampshire and Isle of Wight Integrated Care Board adopts, and is bound "
            "by, everything done") in text
    # review r6 B3-5: the ICB is never said to be a party from a date before it existed
    assert "is then a party" not in text and "a party to this Agreement from the Commencement Date" not in text
    # undated, so the agreement speaks at its commencement, 1 April 2022: before Royal Assent on 28 April 2022
    assert "Health and Care Act 2022" not in text


def test_a_successor_known_when_the_act_is_law_is_named_with_the_act_and_the_transfer_power(tmp_path):
    folder = _case("ccg-succeeded-by-icb", tmp_path)
    assert "S75-CCG-TRANSFER" not in _codes(folder)
    text = _text(folder)
    assert ("Under the Health and Care Act 2022, NHS Northbridge Clinical Commissioning Group is abolished on "
            "1 July 2022, and on that day its functions and its property, rights and liabilities pass to NHS "
            "Northbridge Integrated Care Board, which is therefore its Successor (the transfer being made by a scheme "
            "under section 14Z28 of the National Health Service Act 2006).") in text
    assert "is expected to be abolished" not in text
    assert "is abolished during the Term" not in text


def test_a_successor_whose_name_says_another_kind_is_refused(tmp_path):
    folder = _case("ccg-succeeded-by-icb", tmp_path)
    edit(folder / "agreement.yaml", "kind: icb, date: 2022-07-01}", "kind: nhs_trust, date: 2022-07-01}")
    codes = _codes(folder)
    assert "S75-PARTY-NAME" in codes and "S75-SUCCEEDED-BY" in codes


def test_agreement_ending_before_abolition_has_no_successor_clause(tmp_path):
    text = _text(_case("ccg-ending-2022-06-30", tmp_path))
    assert "Successor" not in text


def test_trust_merger_uses_the_same_field(tmp_path):
    folder = _case("icb-succeeds-ccg", tmp_path)
    edit(folder / "agreement.yaml", "    name: Northbridge Community Health NHS Trust\n",
         "    name: Northbridge Community Health NHS Trust\n"
         "    succeeds: {name: Southbridge Community NHS Trust, kind: nhs_trust, date: 2019-10-01,"
         " by: the Southbridge Community NHS Trust (Dissolution) Order 2019}\n")
    assert _codes(folder) == []
    text = _text(folder)
    assert ("On 1 October 2019 its rights and liabilities under this Agreement passed to Northbridge Community "
            "Health NHS Trust by the Southbridge Community NHS Trust (Dissolution) Order 2019") in text


def test_portsmouth_ends_the_agreements_it_replaces_and_the_entire_agreement_clause_agrees():
    text = _text(PORTSMOUTH)
    assert "This Agreement replaces the following agreements between the Partners" in text
    assert "(the section 75 agreement for the Better Care Fund), dated [●: date of earlier agreement]" in text
    assert "This Agreement ends each Earlier Agreement on the terms of clause" in text
    assert "does not end or vary any other agreement between the Partners unless" in text
    assert "This Agreement does not end or vary any other agreement" not in text


def test_transition_choices_are_drafted(tmp_path):
    folder = _case("supersedes-earlier", tmp_path)
    assert _codes(folder) == []
    text = _text(folder)
    assert "Northbridge Community Equipment Agreement, dated 31 March 2014, between Northbridge City Council and" in text
    assert "is paid into the Pooled Fund of the Scheme in Schedule" in text
    assert "each contract let under it continues in force" in text
    assert "no person’s employment changes" in text
    assert "is borne by the Partner that would have borne it under it" in text
    assert "[●: what happens" not in text


def test_backdated_agreement_ratifies_what_was_done(tmp_path):
    folder = _case("backdated-accepted", tmp_path)
    assert _codes(folder) == []
    text = _text(folder)
    assert "This Agreement is made after the Commencement Date but takes effect from it." in text
    assert "The Council has run the equipment service" in text
    assert "ratifies and adopts everything done in good faith" in text


def test_agreement_approved_before_commencement_ratifies_only_if_signed_later(tmp_path):
    text = _text(_case("supersedes-earlier", tmp_path))  # undated; every approval before commencement
    assert "This Agreement is made after the Commencement Date but takes effect from it" not in text
    assert "If this Agreement is made after the Commencement Date, it takes effect from" in text


# --- the reviewer's path: v1 names the CCG, v2 the ICB that succeeded it ---------------------------

ICB = "NHS Hampshire and Isle of Wight Integrated Care Board"
CCG = "NHS Portsmouth Clinical Commissioning Group"


@pytest.fixture
def v2(tmp_path):
    folder = tmp_path / "v2"
    shutil.copytree(PORTSMOUTH, folder)
    edit(folder / "agreement.yaml", f"    name: {CCG}\n    short_name: the CCG\n    kind: ccg\n",
         f"    name: {ICB}\n    short_name: the ICB\n    kind: icb\n"
         f"    succeeds: {{name: {CCG}, kind: ccg, date: 2022-07-01}}\n")
    return folder


def test_v2_with_succeeds_validates_and_keeps_its_dates(v2):
    assert "S75-ICB" not in _codes(v2) and "S75-SUCCEEDS" not in _codes(v2)
    text = _text(v2)
    assert f"{ICB} (as successor to {CCG})" in text
    assert "continues until the end of 31 March 2025" in text


def test_diff_shows_one_party_change(v2, capsys, monkeypatch):
    import json
    from conftest import s75
    code, out, err = s75(capsys, monkeypatch, "diff", str(PORTSMOUTH), str(v2), "--format", "json")
    assert code == 0, err
    parties = [f for f in json.loads(out)["fields"] if f["field"] == "party"]
    assert len(parties) == 1 and parties[0]["key"] == "ccg"
    assert parties[0]["old"].startswith(CCG) and parties[0]["new"].startswith(f"{ICB} (as successor to {CCG})")


def test_variation_recites_the_transfer_and_substitutes_the_name_without_moving_dates(v2):
    from assembler.review.variation import build_deed
    from assembler.review.versions import load_version
    old, new = load_version(str(PORTSMOUTH)), load_version(str(v2))
    deed = build_deed(old.document, new.document, old.agreement, new.agreement)
    text = re.sub(r"\s+", " ", render_text(deed))
    recitals = re.sub(r"\s+", " ", render_text(deed).split("AGREED TERMS")[0])
    assert (f"On 1 July 2022 {CCG}, a party to the Agreement, was abolished under the Health and Care Act 2022"
            in recitals)
    assert "under section 14Z28 of the National Health Service Act 2006" in recitals
    assert f"“{CCG}” is replaced by “{ICB}”" in text
    assert [p.name for p in deed.parties] == ["Portsmouth City Council", f"{ICB} (as successor to {CCG})"]
    variation = text.split("2. VARIATION", 1)[1].split("3. EFFECT OF THIS DEED", 1)[0]
    assert "1 April 2022" not in variation and "31 March 2025" not in variation


def test_a_pending_decision_is_recited_as_proposed_with_blanks_and_a_known_one_as_taken(tmp_path):
    pending = tmp_path / "pending"
    shutil.copytree(CASES / "base", pending)
    shutil.copytree(CASES / "invalid" / "decision-pending", pending, dirs_exist_ok=True)
    (pending / "expect.yaml").unlink()
    text = _text(pending)
    assert ("It was proposed that the Governing Body of NHS Northbridge Clinical Commissioning Group decide on "
            "22 March 2017 whether to approve the CCG’s entry into this Agreement. On [●: date of the "
            "decision] the Governing Body [●: decision taken].") in text
    assert "On 22 March 2017 the Governing Body" not in text
    known = _text(_case("decision-recorded", tmp_path))
    assert "On 22 March 2017 the Governing Body of NHS Northbridge Clinical Commissioning Group approved in " \
           "principle the CCG’s entry into this Agreement." in known
    assert "decision taken]" not in known


def test_haringey_recites_the_meetings_its_report_was_to_go_to_not_decisions_it_could_not_know():
    text = _text(ROOT / "agreements" / "haringey-2016")
    assert "decide on 13 September 2016 whether to approve the Council’s entry" in text
    assert "decide on 23 September 2016 whether to approve the CCG’s entry" in text
    assert " approved the Council’s entry" not in text and " approved the CCG’s entry" not in text


@pytest.mark.parametrize("name", ["haringey-2016", "southampton-bcf-2017", "portsmouth-bcf-2017"])
def test_each_example_ends_the_earlier_agreement_its_seed_speaks_of(name):
    text = _text(ROOT / "agreements" / name)
    assert ("This Agreement replaces the following agreement between the Partners (or their predecessors), which "
            "ends at the start of the Commencement Date") in text
    assert "This Agreement ends each Earlier Agreement on the terms of clause" in text
    if name != "portsmouth-bcf-2017":  # the one whose balance is carried forward (issue 12's drafting)
        assert "[●: what happens to its pooled fund balances]" in text
