"""Who acts and who signs: an officer shared between the partners acts for only one of them where their
interests differ; a dispute step already taken is not taken again; an undated draft that may be signed
after it commences takes effect from its commencement; a CCG's successor can sign in its place
(review rounds 4 and 5, Portsmouth)."""

from __future__ import annotations

import shutil
from pathlib import Path

from assembler.build.pipeline import assemble_source
from assembler.check.validate import validate_source
from assembler.engine.text import render_text
from assembler.source.folder import DirectorySource
from conftest import ROOT, edit

PORTSMOUTH = ROOT / "agreements" / "portsmouth-framework-2022"
BCF_2017 = ROOT / "agreements" / "portsmouth-bcf-2017"
ICS_2017 = ROOT / "agreements" / "portsmouth-ics-2017"

SHARED = """shared_officers:
  - post: Director of Adult Social Care
    acts_for: [council, ccg]
    under: under a joint appointment
  - post: Director of Children's Services
    employed_by: council
    acts_for: [council, ccg]
"""


def _text(folder: Path) -> str:
    return " ".join(render_text(assemble_source(DirectorySource(str(folder))).document).split())


def _add(folder: Path, block: str, before: str = "finance:\n") -> None:
    edit(folder / "agreement.yaml", before, block + before)


def test_shared_officers_are_listed_and_act_for_one_partner_only_where_interests_differ(base_copy):
    _add(base_copy, SHARED)
    text = _text(base_copy)
    assert "(a) the Director of Adult Social Care, who acts for the Council and the CCG under a joint appointment; and" in text
    assert "(b) the Director of Children's Services, employed by the Council, who acts for the Council and the CCG." in text
    assert "In such a matter the officer acts only for the Partner that employs them or, if more than one" in text
    assert "the officer so named takes it instead" in text


def test_the_shared_officer_rule_holds_even_where_none_is_listed(base_copy):
    text = _text(base_copy)
    assert "must not act for more than one of them in a matter in which their interests differ" in text
    assert "The following officers hold posts in" not in text


def test_a_shared_officer_must_name_parties_of_the_agreement(base_copy):
    _add(base_copy, SHARED.replace("employed_by: council", "employed_by: counsil"))
    found = validate_source(DirectorySource(str(base_copy))).diagnostics
    refs = [d for d in found if d.code == "S75-PARTYREF"]
    assert refs and "counsil" in refs[0].message and refs[0].location.line > 0


def test_a_dispute_step_already_taken_is_passed_over(base_copy):
    text = _text(base_copy)
    assert ("A step is passed over if the persons named in it have already considered the Dispute and failed to "
            "resolve it, including as members of a Governance Body that has referred it") in text


def test_an_undated_draft_takes_effect_from_commencement_if_signed_later(base_copy):
    text = _text(base_copy)
    assert "If this Agreement is made after the Commencement Date, it takes effect from the Commencement Date" in text
    assert "In that case, each Partner ratifies and adopts" in text


def test_an_agreement_dated_before_it_commences_needs_no_ratification(base_copy):
    edit(base_copy / "agreement.yaml", "commencement: 2017-04-01\n", "agreement_date: 2017-03-30\ncommencement: 2017-04-01\n")
    text = _text(base_copy)
    assert "EFFECT FROM THE COMMENCEMENT DATE" not in text.upper()
    assert "ratifies and adopts" not in text


def test_an_agreement_dated_after_it_commences_ratifies_without_condition(base_copy):
    edit(base_copy / "agreement.yaml", "commencement: 2017-04-01\n",
         "agreement_date: 2017-05-02\nbackdating: {accepted: true}\ncommencement: 2017-04-01\n")
    text = _text(base_copy)
    assert "This Agreement is made after the Commencement Date but takes effect from it." in text
    assert "Each Partner ratifies and adopts" in text and "In that case, each Partner" not in text


def test_an_undated_ccg_agreement_has_an_execution_block_for_the_successor():
    text = _text(PORTSMOUTH)
    execution = text[text.rindex("EXECUTION"):]
    assert ("If this Agreement is signed on or after 1 July 2022, NHS Portsmouth Clinical Commissioning Group does "
            "not sign it: NHS Hampshire and Isle of Wight Integrated Care Board signs it in its place") in execution
    assert ("Executed as a deed by NHS Hampshire and Isle of Wight Integrated Care Board acting by its authorised "
            "signatories:") in execution
    assert execution.count("Signature:") == 5  # two for the Council's seal, one for the CCG, two for the ICB


def test_an_agreement_dated_before_the_transfer_has_no_successor_block(tmp_path):
    folder = tmp_path / "portsmouth"
    shutil.copytree(PORTSMOUTH, folder)
    edit(folder / "agreement.yaml", "commencement: 2022-04-01\n", "agreement_date: 2022-03-31\ncommencement: 2022-04-01\n")
    execution = _text(folder)
    execution = execution[execution.rindex("EXECUTION"):]
    assert "signs it in its place" not in execution
    assert execution.count("Signature:") == 3


def test_an_agreement_restated_continues_and_is_not_ended():
    """Seed 002: the ICS agreement remains a separate agreement; this one restates it, it does not end it."""
    text = _text(ICS_2017)
    assert ("This Agreement amends and restates the following agreement between the Partners (or their "
            "predecessors), which continues in force from the Commencement Date only in the form set out in this "
            "Agreement") in text
    assert "The restatement does not end an Earlier Agreement that it restates" in text
    assert "ends at the start of the Commencement Date" not in text
    assert "This Agreement amends and restates each Earlier Agreement on the terms of clause" in text


def test_a_restated_agreement_needs_no_transition_but_a_replaced_one_does(base_copy):
    earlier = """supersedes:
  - title: Northbridge Equipment Agreement
    date: 2015-04-01
    parties: [council, ccg]
    effect: restates
"""
    edit(base_copy / "agreement.yaml", "term:\n", earlier + "term:\n")
    assert [d.code for d in validate_source(DirectorySource(str(base_copy))).diagnostics if d.level == "error"] == []
    edit(base_copy / "agreement.yaml", "    effect: restates\n", "")
    errors = [d for d in validate_source(DirectorySource(str(base_copy))).diagnostics if d.level == "error"]
    assert errors and "transition" in errors[0].message


def test_a_shared_group_lists_what_belongs_to_the_other_agreement_apart():
    """One list of duties in both agreements; each prints the other's items for information, not as its own."""
    bcf, ics = _text(BCF_2017), _text(ICS_2017)
    plan = "gree the annual business plan of the Integrated Commissioning Service"
    move = "ove the Partners' Contributions between the individual Schemes of the Better Care Fund plan"
    elsewhere = "it is neither a responsibility nor an authority under this Agreement"
    assert bcf.index(elsewhere) < bcf.index("under the Integrated Commissioning Service Partnership Agreement: a" + plan)
    assert "(a) M" + move in bcf or "M" + move in bcf.split(elsewhere)[0]
    assert ics.index(elsewhere) < ics.index("under the Better Care Fund Partnership Agreement: m" + move)
    assert "A" + plan in ics.split(elsewhere)[0]


def test_the_consultation_recital_is_one_sentence_of_who_was_consulted(base_copy):
    text = _text(base_copy)
    assert ("jointly consulted the persons who appeared to them to be affected by the arrangements, namely People who "
            "use community equipment and reablement services and Carers and carers' organisations, in a consultation "
            "that ended on 10 February 2017.") in text
    assert "Those consulted were" not in text


def test_the_cabinet_authorised_the_execution_not_the_signing():
    """Seed 000 para 2.1: the Chief Executive may agree final amendments and authorise the execution."""
    text = _text(PORTSMOUTH)
    assert ("authorised its Chief Executive to agree final amendments to this Agreement and to authorise its "
            "execution in its final form") in text
    assert "to agree final amendments to this Agreement and to complete it" not in text
