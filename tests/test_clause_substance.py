"""Clauses an unseen agreement needs: procurement by date, data roles per scheme, s117 after-care, exits that hold,
joint committees only where the law allows them."""

from __future__ import annotations

import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from assembler.build.pipeline import assemble_source, check_path
from assembler.engine.text import render_text
from assembler.source.folder import DirectorySource

from conftest import edit

CASES = Path(__file__).parent / "cases"
POOL = "schedules/pool.yaml"


def text_of(root: Path, schedule: str = "") -> str:
    """The agreement as plain text on one line, or only the schedule with key ``schedule``."""
    document = assemble_source(DirectorySource(str(root))).document
    if schedule:
        document = replace(document, sections=[s for s in document.sections if s.key == schedule])
    return " ".join(render_text(document).split())


def set_block(path: Path, key: str, block: str) -> None:
    """Replace the top-level ``key:`` block of a schedule (or add it) with ``block``; an empty block removes it."""
    text = re.sub(rf"(?m)^{key}:.*\n(?:[ ].*\n?)*", "", path.read_text(encoding="utf-8"))
    path.write_text(text.rstrip("\n") + "\n" + block, encoding="utf-8")


def dated(base_copy: Path, day: str) -> Path:
    edit(base_copy / "agreement.yaml", "commencement: 2017-04-01", f"agreement_date: {day}\ncommencement: 2017-04-01")
    return base_copy


@pytest.mark.parametrize("day, health, general", [
    ("2017-03-01", "National Health Service (Procurement, Patient Choice and Competition) (No. 2) Regulations 2013",
     "Public Contracts Regulations 2015"),
    ("2024-06-01", "Health Care Services (Provider Selection Regime) Regulations 2023", "Public Contracts Regulations 2015"),
    ("2026-01-15", "Health Care Services (Provider Selection Regime) Regulations 2023", "Procurement Act 2023"),
])
def test_procurement_cites_the_regime_in_force_on_the_agreements_date(base_copy, day, health, general):
    text = text_of(dated(base_copy, day))
    clause = text[text.index("PROCUREMENT"):text.index("POOLED FUNDS") if "POOLED FUNDS" in text else None]
    assert health in clause and general in clause
    others = {name for name in ("Provider Selection Regime", "Procurement, Patient Choice", "Procurement Act 2023",
                                "Public Contracts Regulations 2015") if name not in health and name not in general}
    for other in others:
        assert other not in clause, (day, other)
    # A term that outlives the regime it names still binds under the one that replaces it.
    assert clause.count("as amended or replaced from time to time") == 2, day


DATA = {  # (roles, the agreement's date): the words the Data Protection Legislation of that date uses
    ("separate_controllers", "2017-03-01"): "Each Partner is a separate data controller of the Personal Data it processes",
    ("separate_controllers", "2019-03-01"): "Each Partner is a separate controller of the Personal Data it processes",
    ("joint_controllers", "2017-03-01"): "The Partners to the Scheme are data controllers jointly of the Personal Data",
    ("joint_controllers", "2019-03-01"): "The Partners to the Scheme are joint controllers of the Personal Data "
                                         "processed for it. The information sharing agreement referred to below records",
}


@pytest.mark.parametrize("roles, day", sorted(DATA))
def test_each_scheme_states_the_data_roles_and_the_sharing_agreement(base_copy, roles, day):
    set_block(base_copy / POOL, "data_protection", f"""data_protection:
  roles: {roles}
  sharing_agreement: {{title: Northbridge Care Record Sharing Agreement, date: 2017-02-01}}
""")
    text = text_of(dated(base_copy, day), "pool")
    assert DATA[roles, day] in text
    assert "information sharing agreement entitled Northbridge Care Record Sharing Agreement, dated 1 February 2017" in text
    assessment = "data protection impact assessment" if day >= "2018-05-25" else "privacy impact assessment"
    assert f"must complete a {assessment} of the sharing" in text


def test_without_data_roles_the_scheme_leaves_marked_blanks_and_forbids_sharing(base_copy):
    set_block(base_copy / POOL, "data_protection", "")
    text = text_of(base_copy, "pool")
    assert "[●: the Partners’ roles in processing the data]" in text
    assert "No Personal Data may be shared for the Scheme until that agreement is in force" in text


def test_controller_and_processor_are_named(base_copy):
    set_block(base_copy / POOL, "data_protection",
              "data_protection: {roles: controller_processor, controller: ccg, processor: council, "
              "impact_assessment_done: true}\n")
    text = text_of(base_copy, "pool")
    assert "must complete a privacy impact assessment" not in text
    assert "the CCG is the data controller, and the Council its data processor, of the Personal Data" in text.replace("The CCG", "the CCG")
    assert "have completed a privacy impact assessment" in text


def test_s117_aftercare_only_where_the_scheme_says_so(base_copy):
    assert "section 117 of the Mental Health Act 1983" not in text_of(base_copy)
    edit(base_copy / POOL, "governance_body: board", "governance_body: board\nmental_health_aftercare: true")
    text = text_of(base_copy)
    assert "AFTER-CARE UNDER SECTION 117 OF THE MENTAL HEALTH ACT 1983" in text
    assert "must not delay the provision of the services the person needs" in text


def test_exit_states_staff_contracts_and_assets(base_copy):
    set_block(base_copy / POOL, "exit", "exit: {staff: transfer_possible, contracts: novate_to_funder, assets_owner: council}\n")
    text = text_of(base_copy, "pool")
    assert "must consider whether the Transfer of Undertakings (Protection of Employment) Regulations 2006" in text
    assert "must, if that other Partner asks, be novated to it" in text
    assert "belong, when it ends, to the Council, which must pay each other Partner" in text


def test_the_agreement_cannot_be_ended_on_shorter_notice_than_its_longest_scheme(base_copy):
    assert "at least 6 months’ written notice." in text_of(base_copy)
    edit(base_copy / POOL, "duration:\n", "duration:\n  termination_notice_months: 12\n")
    text = text_of(base_copy)
    assert "at least 12 months’ written notice. That is the longest period of notice" in text


def test_a_joint_committee_needs_the_2022_powers(tmp_path):
    root = tmp_path / "agreement"
    shutil.copytree(CASES / "base", root)
    edit(root / "agreement.yaml", "      purpose: Oversees the Schemes and the Pooled Fund.\n",
         "      purpose: Oversees the Schemes and the Pooled Fund.\n      status: joint_committee\n"
         "      delegated_authority: [Approve the annual spending plan of each pooled fund.]\n")
    assert [d.code for d in check_path(str(root)) if d.level == "error"] == ["S75-JOINT-COMMITTEE"]
    shutil.rmtree(root)
    shutil.copytree(CASES / "base", root)
    for source in (CASES / "valid" / "icb-after-2022").rglob("*.yaml"):
        shutil.copyfile(source, root / source.relative_to(CASES / "valid" / "icb-after-2022"))
    edit(root / "agreement.yaml", "      purpose: Oversees the Schemes and the Pooled Fund.\n",
         "      purpose: Oversees the Schemes and the Pooled Fund.\n      status: joint_committee\n"
         "      delegated_authority: [Approve the annual spending plan of each pooled fund.]\n")
    text = text_of(root)
    assert "The Joint Commissioning Board is a joint committee of the Partners" in text
    assert "section 65Z5 of the NHS Act" in text and "is not a joint committee" not in text


def test_risk_follows_control_not_funding(base_copy):
    """The Council controls a line the CCG mostly funds: the Council, not the CCG, bears its overspend."""
    text = text_of(base_copy, "pool")
    assert "(a) Community equipment: the Council;" in text
    whole = text_of(base_copy)
    assert "Each Partner bears any Overspend on the lines of a Scheme whose spending it controls" in whole
    assert "in proportion to their Contributions to that part" not in whole


def test_a_jointly_funded_line_with_no_controller_is_left_for_the_schedule_to_say(base_copy):
    edit(base_copy / POOL, "    type: revenue\n    spent_by: council\n", "    type: revenue\n")
    assert "Community equipment: [●: Partner that controls spending on this line]" in text_of(base_copy, "pool")


def test_a_joint_line_shares_its_overspend_and_underspend_by_contribution(base_copy):
    """spent_by: joint (review round 5): the line's contributors share its overspend pro rata, stated in the schedule."""
    edit(base_copy / POOL, "    type: revenue\n    spent_by: council\n", "    type: revenue\n    spent_by: joint\n")
    text = text_of(base_copy, "pool")
    assert "(a) Community equipment: jointly commissioned; (b) Minor adaptations: the Council." in text
    assert ("Where the line is shown as jointly commissioned, the Partners that contribute to it bear the Overspend "
            "in proportion to their Contributions to it for the Financial Year") in text
    assert "An Underspend on a jointly commissioned line is treated as belonging to the Partners" in text
    whole = text_of(base_copy)
    assert ("Any Overspend on a line that the Scheme Specification shows as jointly commissioned is borne by the "
            "Partners that contribute to that line in proportion to their Contributions to it") in whole


def _own_overspend_lead(base_copy: Path) -> Path:
    """The base's lead-commissioning scheme (the Council leads for the CCG) with risk following control."""
    set_block(base_copy / "schedules/lead.yaml", "risk_share", "")
    return base_copy


def test_a_lead_commissioner_does_not_bear_the_overspend_of_the_partner_it_commissions_for(base_copy):
    """Westshire Sch 3 (review round 5): the lead commissions from the other's money; risk stays with that money."""
    lead = _own_overspend_lead(base_copy) / "schedules/lead.yaml"
    edit(lead, "        ccg: 300000\n        council: 150000\n", "        ccg: 300000\n")
    assert "(a) Carers' support contract: the CCG." in text_of(base_copy, "lead")
    # the money still goes to the lead that spends it: the CCG's £300,000 payment matches its contribution
    assert not [d for d in check_path(str(base_copy)) if d.code.startswith(("S75-PAYMENT", "S75-RISK"))]


def test_a_line_both_fund_that_the_lead_commissions_for_both_is_joint(base_copy):
    _own_overspend_lead(base_copy)
    text = text_of(base_copy, "lead")
    assert "(a) Carers' support contract: jointly commissioned." in text
    assert "the Council" not in text.split("Carers' support contract:")[-1][:20]


def test_the_lead_bears_a_line_only_where_the_schedule_says_so(base_copy):
    lead = _own_overspend_lead(base_copy) / "schedules/lead.yaml"
    edit(lead, "    type: revenue\n", "    type: revenue\n    spent_by: council\n")
    assert "(a) Carers' support contract: the Council." in text_of(base_copy, "lead")


def test_a_scheme_that_alone_follows_control_says_the_lead_does_not_bear_for_commissioning(base_copy):
    """The framework shares overspends pro rata, so its clause has no lead rule; the scheme that follows control
    states it itself."""
    edit(base_copy / "agreement.yaml", "    model: own_overspend\n", "    model: proportional\n")
    lead = base_copy / "schedules/lead.yaml"
    set_block(lead, "risk_share", "risk_share:\n  model: own_overspend\n")
    text = text_of(base_copy, "lead")
    assert ("A Partner that commissions or provides the Services on behalf of another Partner does not by doing so "
            "bear an Overspend on a line that the other Partner’s Contribution funds") in text
    assert "(a) Carers' support contract: jointly commissioned." in text
    # Where the framework itself follows control, its clause states the rule once for every scheme.
    edit(base_copy / "agreement.yaml", "    model: proportional\n", "    model: own_overspend\n")
    text = text_of(base_copy, "lead")
    assert "(a) Carers' support contract: jointly commissioned." in text and "does not by doing so bear" not in text


def test_a_commitment_beyond_the_contributions_binds_only_who_agreed_and_is_shared_by_contribution(base_copy):
    """Review B r4/r5 (Portsmouth BCF 2017 Sch 2 para 2.10): a group may authorise over-commitment and move money
    between schemes; the terms of reference send both to the risk schedule, which says who agrees and who bears it."""
    document = assemble_source(DirectorySource(str(base_copy))).document
    risk = next(s for s in document.sections if s.key == "generated-risk-share-schedule")
    whole = text_of(base_copy)
    assert (f"takes effect subject to Schedule {risk.number}, which says who must agree to such a commitment and "
            "who bears any Overspend that results from it or from the move") in whole
    assert ("the commitment binds a Partner only if that Partner, or its member of the Governance Body acting under "
            "authority that the Partner has given, has agreed to it in writing") in whole
    assert ("any part of an Overspend that results from a commitment agreed in that way is borne by the Partners to "
            "the Scheme in proportion to their Contributions to it for the Financial Year, unless the decision that "
            "agreed the commitment provides otherwise") in whole
    assert ("the move does not change which Partner bears an Overspend on any line, or the shares in which Partners "
            "bear it, unless the decision that makes the move says so") in whole


def test_dfg_passed_on_in_a_two_tier_area_names_the_districts_as_grantees_not_parties(tmp_path):
    root = tmp_path / "agreement"
    shutil.copytree(CASES / "base", root)
    for source in (CASES / "valid" / "dfg-county-passes-to-districts").rglob("*.yaml"):
        shutil.copyfile(source, root / source.relative_to(CASES / "valid" / "dfg-county-passes-to-districts"))
    text = text_of(root, "pool")
    assert "The district councils are not parties to this Agreement" in text
    assert "must attach the conditions that the BCF Requirements place on the grant" in text
    assert "must require each district council to report" not in text
    assert "available for disabled people of any age, including children" in text


def test_agreed_percentages_are_stated_partner_by_partner(base_copy):
    set_block(base_copy / POOL, "risk_share",
              "risk_share:\n  model: agreed_percentages\n  percentages: {council: '33.34', ccg: '66.66'}\n")
    text = text_of(base_copy, "pool")
    assert ("in the following agreed percentages, whichever Partner contributes to or controls the line on which it "
            "arises: (a) the Council: 33.34 per cent; and (b) the CCG: 66.66 per cent.") in text
    assert "in proportion to their Contributions" not in text.split("Overspends and underspends")[-1].split("Underspend")[0]


def test_caps_are_stated_in_money_and_what_is_beyond_them_is_referred(base_copy):
    set_block(base_copy / POOL, "risk_share",
              "risk_share:\n  model: capped\n  caps: {council: 250000, ccg: '500000.50'}\n")
    text = text_of(base_copy, "pool")
    assert ("than the following cap: (a) the Council: £250,000; and (b) the CCG: £500,000.50.") in text
    assert "No Partner is liable for it without its written agreement" in text
    # Without percentages the caps sit on risk that follows control: the line's controller is named.
    assert "(a) Community equipment: the Council;" in text


def test_framework_percentages_cover_every_party_and_schemes_of_some_of_them(base_copy):
    edit(base_copy / "agreement.yaml", "  risk_share:\n    model: own_overspend\n",
         "  risk_share:\n    model: agreed_percentages\n    percentages: {council: 40, ccg: 60, trust: 0}\n")
    text = text_of(base_copy)
    assert ("(a) the Council: 40 per cent; (b) the CCG: 60 per cent; and (c) the Trust: 0 per cent.") in text
    assert "they share each Overspend on it in the same proportions to one another" in text
    assert "(a) Community equipment: the Council;" not in text_of(base_copy, "pool")


def test_a_risk_pool_can_be_funded_in_agreed_percentages(base_copy):
    set_block(base_copy / POOL, "risk_share",
              "risk_share:\n  model: joint_risk_pool\n  risk_pool: 300000\n  percentages: {council: 40, ccg: 60}\n")
    text = text_of(base_copy, "pool")
    assert ("met first from a joint risk pool of £300,000 held for the Scheme. The Partners fund the risk pool, and "
            "meet any Overspend that it cannot meet, in the following agreed percentages: (a) the Council: 40 per "
            "cent; and (b) the CCG: 60 per cent.") in text


def test_each_line_of_a_pooled_and_aligned_scheme_says_where_its_money_goes(base_copy):
    """Pooled lines are paid in, aligned lines are kept: never 'all Contributions are paid in' and 'all are kept'."""
    edit(base_copy / POOL, "  - pooled_fund\n", "  - pooled_fund\n  - aligned_budget\n")
    edit(base_copy / POOL, "    type: revenue\n    spent_by: council\n", "    type: revenue\n    fund: pooled\n    spent_by: council\n")
    edit(base_copy / POOL, "    type: capital\n", "    type: capital\n    fund: aligned\n")
    text = text_of(base_copy, "pool")
    assert ("Community equipment: pooled. Each Partner must pay its Contribution to this line into the Pooled Fund"
            in text)
    assert ("Minor adaptations: aligned. Each Partner holds its Contribution to this line as a Non-Pooled Fund, "
            "and pays nothing into the Pooled Fund for it." in text)
    assert "Each Partner must pay its Contributions into the Pooled Fund" not in text
    assert "Each Partner’s Contribution to a line that paragraph" in text
    assert "Each Partner’s Contribution to the Scheme is held by that Partner as a Non-Pooled Fund" not in text


def test_an_underspend_brought_forward_keeps_its_earmark(base_copy):
    set_block(base_copy / POOL, "brought_forward", "brought_forward:\n  year: 2016-17\n  amount: 120000\n"
              "  earmarked:\n    - amount: 50000\n      type: capital\n      purpose: towards a new care record\n")
    text = text_of(base_copy, "pool")
    assert ("The Pooled Fund also holds the Underspend left in the pooled fund for the Scheme at the end of the "
            "Financial Year 2016-17, which is £120,000." in text)
    assert ("£50,000 of it, which is capital, is earmarked towards a new care record, and may be spent only for "
            "that purpose." in text)


def test_scheme_end_says_who_owns_the_assets_and_how_balances_are_settled(base_copy):
    text = text_of(base_copy, "pool")
    assert "belong, when it ends, to the Partner that bought them, which must pay each other Partner" in text
    assert re.search(r"Money of the Scheme left when it ends, after all its commitments have been met, is settled "
                     r"as clause \d+\.\d+ provides", text)
    set_block(base_copy / POOL, "exit", "exit: {staff: none, contracts: held_by_commissioner, assets_owner: ccg}\n")
    text = text_of(base_copy, "pool")
    assert "belong, when it ends, to the CCG, which must pay" in text and "the Partner that bought them" not in text


def test_framework_caps_are_stated_in_money_for_every_party(base_copy):
    edit(base_copy / "agreement.yaml", "  risk_share:\n    model: own_overspend\n",
         "  risk_share:\n    model: capped\n    caps: {council: 250000, ccg: 500000, trust: '0'}\n")
    text = text_of(base_copy)
    assert ("in total towards the Overspends on the Schemes to which this clause applies, than the following cap: "
            "(a) the Council: £250,000; (b) the CCG: £500,000; and (c) the Trust: £0.") in text
    assert "Each Partner bears any Overspend on the lines of a Scheme whose spending it controls" in text


HARINGEY = Path(__file__).resolve().parent.parent / "agreements" / "haringey-2016"
LD = "schedules/learning-disabilities.yaml"
NO_DELEGATION = "No Partner spends another Partner’s Contribution or exercises another Partner’s Functions"


@pytest.fixture
def haringey(tmp_path) -> Path:
    """A copy of the Haringey 2016 example, whose schemes are lead-commissioned and aligned before they are pooled."""
    return Path(shutil.copytree(HARINGEY, tmp_path / "haringey"))


def test_lead_commissioning_runs_during_an_aligned_phase_and_the_lead_is_put_in_funds(haringey):
    text = text_of(haringey, "learning-disabilities")
    assert NO_DELEGATION not in text
    assert "Aligning the budgets does not itself delegate any Partner’s Functions" in text
    assert ("the lead commissioning arrangements in paragraph 8, which delegate commissioning Functions under section "
            "75(2)(b) or (c) of the NHS Act, apply during an Aligned Budget Phase") in text
    assert ("each Partner on whose behalf the Lead Commissioner commissions Services must pay the Lead Commissioner "
            "for them, or reimburse it, from that Partner’s own aligned budget. It must pay monthly in arrears") in text
    assert "the Lead Commissioner is not required to meet them from its own Contribution" in text
    whole = text_of(haringey)
    assert "including by paying a Lead Commissioner that exercises those Functions on its behalf" in whole
    assert "the lead commissioning arrangements in it, which delegate commissioning Functions" in whole


def test_an_aligned_lead_scheme_with_payment_terms_is_funded_on_those_terms(haringey):
    set_block(haringey / LD, "payments", "payments:\n  - from: ccg\n    to: council\n    amount: 120000\n"
              "    frequency: quarterly\n    timing: in_arrears\n    invoiced: true\n    days: 30\n")
    text = text_of(haringey, "learning-disabilities")
    assert re.search(r"from that Partner’s own aligned budget, as paragraph \d+\.\d+ provides", text)
    assert "It must pay monthly in arrears" not in text


def test_an_aligned_phase_with_no_lead_commissioner_delegates_nothing(haringey):
    edit(haringey / LD, "  - lead_commissioning\n", "")
    set_block(haringey / LD, "lead_commissioning", "")
    edit(haringey / LD, "    - by: lead_commissioner\n", "    - by: council\n")
    text = text_of(haringey, "learning-disabilities")
    assert NO_DELEGATION in text
    assert "exercises another Partner’s Functions because their budgets are aligned" in text
    assert "put in funds" not in text and "Lead Commissioner" not in text


def test_the_bcf_money_has_its_host_and_pool_manager_from_the_first_day_of_an_aligned_scheme(haringey):
    """s223GA: the BCF money is pooled from the start, so the host and pool manager paragraph reaches the aligned
    phase for that money; a scheme without BCF money keeps it to the pooled phases."""
    text = text_of(haringey, "older-people")
    assert ("This paragraph applies during each Pooled Fund Phase and, to the money that the BCF Requirements "
            "require to be held in a pooled fund, from the first day of the Scheme, including during an Aligned "
            "Budget Phase.") in text
    assert "The provisions of this Agreement about the Pooled Fund, the Host Partner and the Pool Manager apply to " \
           "that money at all times" in text
    assert "This paragraph applies during each Pooled Fund Phase. " in text_of(haringey, "learning-disabilities")


PORTSMOUTH_BCF = Path(__file__).resolve().parent.parent / "agreements" / "portsmouth-bcf-2017"


def test_a_group_shared_with_another_agreement_is_not_established_anew(tmp_path):
    """Seed 002: one management group serves two separate agreements; neither agreement may remake or rewrite it alone."""
    root = tmp_path / "bcf"
    shutil.copytree(PORTSMOUTH_BCF, root)
    text = text_of(root)
    group = "Better Care and Integrated Commissioning Service Partnership Management Group"
    assert "The Partners establish the following Governance Bodies" not in text
    assert (f"The {group} is a single joint group of the Partners that also acts under the Integrated Commissioning "
            "Service Partnership Agreement between them dated [●: date of that agreement], as amended and restated on "
            "[●: date of its amendment and restatement]. This Agreement does not establish it anew.") in text
    assert re.search(rf"The terms of reference of the {group} may be changed only by a variation of both this "
                     r"Agreement and the other agreement under which it acts, in the same terms .{0,80}A change made "
                     "under one of those agreements alone has no effect", text)
    assert re.search(r"is dealt with once, under the dispute resolution procedure of whichever of the two agreements "
                     r"the matter mainly concerns: under clause \d+ if it mainly concerns this Agreement", text)
    assert re.search(r"to be resolved under clause \d+ or, if it concerns both this Agreement and the other agreement "
                     rf"under which the {group} acts, as clause \d+\.\d+ provides", text)
    # without shared_with the same group is established by this agreement alone, as before
    set_block_in = (root / "agreement.yaml")
    lines = set_block_in.read_text(encoding="utf-8")
    cut = re.sub(r"(?m)^      shared_with:\n(?:        .*\n)+", "", lines)
    assert cut != lines
    set_block_in.write_text(cut, encoding="utf-8")
    text = text_of(root)
    assert "The Partners establish the following Governance Bodies" in text
    assert "anew" not in text and "dealt with once" not in text


WESTSHIRE = Path(__file__).resolve().parent / "unseen" / "westshire-2024"
CEOS = "          - the Chief Executive of the Council and the Chief Executive of the ICB\n"


@pytest.fixture
def westshire(tmp_path) -> Path:
    """A copy of the unseen Westshire 2024 agreement."""
    return Path(shutil.copytree(WESTSHIRE, tmp_path / "westshire"))


def _ladder(root: Path) -> str:
    text = text_of(root, "governance-bodies")
    return text[text.index("If the Voting Members of the Westshire"):][:700]


def test_a_deadlock_already_taken_to_the_last_dispute_step_goes_straight_to_mediation(westshire):
    """Westshire: the Board's deadlock goes to the two Chief Executives, who are the last step of clause 22.2; it
    must not loop back to the Board members and the Chief Executives again."""
    ladder = _ladder(westshire)
    assert "in that order" not in ladder
    assert re.search(r"is a Dispute\. Having already been through the steps in clause \d+\.\d+, it goes straight to "
                     r"mediation under clause \d+\.\d+\.", ladder), ladder


def test_a_deadlock_referred_to_an_earlier_step_resumes_after_it(westshire):
    edit(westshire / "agreement.yaml", "    - who: the Chief Executive of the Council and the Chief Executive of the ICB\n"
         "      days: 20\n", "    - who: the Chief Executive of the Council and the Chief Executive of the ICB\n"
         "      days: 20\n    - who: the Leader of the Council and the Chair of the ICB\n      days: 10\n")
    ladder = _ladder(westshire)
    assert "starting with the step that follows the reference to the Chief Executive of the Council and the Chief " \
           "Executive of the ICB" in ladder, ladder


def test_a_deadlock_referred_elsewhere_is_a_dispute_from_the_start(westshire):
    edit(westshire / "agreement.yaml", CEOS, "          - the Director of Adult Social Care\n"
         "          - the ICB's Chief Operating Officer\n")
    ladder = _ladder(westshire)
    assert "it is referred in turn to the Director of Adult Social Care and the ICB’s Chief Operating Officer" in ladder \
        or "it is referred in turn to the Director of Adult Social Care and the ICB's Chief Operating Officer" in ladder, ladder
    assert re.search(r"cannot resolve is a Dispute, to be resolved under clause \d+\.", ladder), ladder


def test_s117_costs_outside_the_scheme_default_to_contribution_shares_with_the_dispute_route(westshire):
    text = text_of(westshire, "mental-health")
    assert "Until they agree such a policy, it is shared in proportion to their Contributions to the Scheme for the " \
           "Financial Year in which it arises" in text
    assert re.search(r"A disagreement about a share is a Dispute under clause \d+\.", text)
    assert "policy, equally" not in text


def test_an_nhs_commissioner_holds_its_own_bcf_line_and_accounts_to_the_pool_manager(westshire):
    """Westshire: the ICB's out-of-hospital line is not paid to the Council host; the ICB pays its own providers and
    the amounts count as its Contribution. The adult social care line, which the Council spends, is paid over."""
    text = text_of(westshire, "bcf")
    held = text[text.index("which holds its own Contribution"):][:1400]
    assert "NHS commissioned out-of-hospital services: the ICB." in held
    assert "Adult social care services" not in held
    assert "Its Contribution to the line is the amount shown for it in the table, not the amount it spends." in held
    assert "The Pool Manager must account for those payments as expenditure of the Pooled Fund" in held


def test_an_unspent_held_line_stays_in_the_pool_and_the_nhs_minimum_is_never_returned(westshire):
    """Review r6 W1: what the ICB does not spend of the line it holds is paid to the host or carried forward, and
    neither clause 12's return of underspends nor the schedule lets the NHS minimum fall below the minimum."""
    text = text_of(westshire)
    bcf = text_of(westshire, "bcf")
    assert "Any part of that Contribution not spent by the end of a Financial Year remains part of the Pooled Fund: " \
           "the Partner must pay it to the Host Partner within 30 days after the end of that year, unless the " \
           "Governance Body that oversees the Scheme decides before then that it is carried forward on the line" in bcf
    # ...while the scheme lasts: when it ends for good, the balance is settled as clause 12 says (review r7 A)
    assert re.search(r"While the Scheme continues, whatever clause \d+\.\d+ or this Schedule says about Underspends, "
                     r"no part of the Minimum NHS Contribution is returned to the NHS body that paid it, or leaves the "
                     r"Pooled Fund", bcf), bcf
    assert "While the Better Care Fund arrangement continues, no rule in this clause returns to an NHS body any part " \
           "of the minimum contribution that the NHS bodies must make to the Better Care Fund" in text


def test_a_non_bcf_agreement_has_no_nhs_minimum_rule(base_copy):
    assert "Minimum NHS Contribution" not in text_of(base_copy)


SOUTHAMPTON = Path(__file__).resolve().parent.parent / "agreements" / "southampton-bcf-2017"


@pytest.fixture
def southampton(tmp_path) -> Path:
    """A copy of the Southampton example beside a copy of its house clause library."""
    shutil.copytree(SOUTHAMPTON.parent / "southampton-house-clauses", tmp_path / "southampton-house-clauses")
    return Path(shutil.copytree(SOUTHAMPTON, tmp_path / "southampton-bcf-2017"))


def test_an_nhs_partner_holds_its_own_share_of_a_joint_line_it_lets_contracts_for(southampton):
    """Review r6 S1: the CCG's share of the jointly commissioned lines is not paid to the Council host; the CCG keeps
    what its own contracts need and pays the rest in. A joint line whose `lead` is the CCG is held by it whole."""
    root = southampton
    bcf = text_of(root, "bcf")
    assert "Clusters: the CCG, for its own share of this jointly commissioned line;" in bcf
    assert "keeps under paragraph" in bcf and "only the part of its Contribution to the line that is to be spent " \
                                               "under the contracts it lets for the line" in bcf
    edit(root / "schedules" / "bcf.yaml", "    name: Clusters\n    type: revenue\n",
         "    name: Clusters\n    type: revenue\n    lead: ccg\n")
    bcf = text_of(root, "bcf")
    assert "Clusters: the CCG;" in bcf and "Carers: the CCG, for its own share" in bcf


def test_a_joint_line_led_by_the_host_is_not_held(southampton):
    root = southampton
    edit(root / "schedules" / "bcf.yaml", "    name: Clusters\n    type: revenue\n",
         "    name: Clusters\n    type: revenue\n    lead: council\n")
    assert "Clusters: the CCG" not in text_of(root, "bcf")


@pytest.mark.parametrize("basis, words", [
    (None, "are provided under these arrangements, as section 75(2)(d) of the NHS Act allows"),
    ("section_113", "are placed at the other Partner’s disposal under an agreement under section 113 of the Local "
                    "Government Act 1972"),
])
def test_contracts_are_let_in_a_partners_name_and_shared_staff_act_on_a_stated_basis(southampton, basis, words):
    """Review r6 S2: where each Partner exercises only its own Functions, the schedule says in whose name contracts
    are let, that a joint decision is each Partner's own, and on what basis staff of one act for the other."""
    root = southampton
    if basis:
        edit(root / "schedules" / "bcf.yaml", "  accommodation: Each Partner provides",
             f"  staff_basis: {basis}\n  accommodation: Each Partner provides")
    bcf = text_of(root, "bcf")
    assert "Each contract for the Scheme is let in the name of the Partner whose Functions it serves" in bcf
    assert "the members for each Partner decide it for that Partner alone" in bcf
    assert words in bcf


def test_light_wording_of_r6(westshire):
    """Review r6 W3-W5: no 'controls' for a lead's lines, no 'without change' before designations, the execution
    lead-in describes the seal, the body's own post-termination duties add to the default ones, assets at book value."""
    text = text_of(westshire)
    assert "lines of the Scheme that the ICB commissions as Lead Commissioner, paid over to it" in text
    assert "that the ICB controls" not in text and "without change" not in text
    assert re.search(r"In addition to paragraph \d+\.\d+, after termination the Westshire Joint Commissioning Board "
                     r"must:", text)
    assert "its share of their net book value in its accounts at that date" in text


@pytest.mark.parametrize("route, present, absent", [
    ("paid_by_pool_manager", None, "which holds its own Contribution"),
    ("reimbursed", "the Pool Manager reimburses that Partner for what it has properly paid to providers, monthly in "
                   "arrears", "which holds its own Contribution"),
])
def test_the_schedule_can_choose_another_route_for_a_commissioners_line(westshire, route, present, absent):
    edit(westshire / "schedules" / "bcf.yaml", "    party: council\n  monitoring:\n",
         f"    party: council\n  commissioner_lines: {route}\n  monitoring:\n")
    text = text_of(westshire, "bcf")
    assert absent not in text
    if present:
        assert present in text and "NHS commissioned out-of-hospital services: the ICB." in text


@pytest.mark.parametrize("post, words", [
    ("host", "The Pool Manager is employed by the Host Partner."),
    ("joint", "The post of Pool Manager is held under a joint appointment by the Partners. In managing the Pooled "
              "Fund its holder acts only as an officer of the Host Partner, as regulation 7(4) of the Regulations "
              "requires"),
    ("tbc", "The post of Pool Manager is [●: the Host Partner’s own, or held jointly by the Partners]."),
])
def test_the_pool_managers_post_is_stated_or_left_as_a_blank(base_copy, post, words):
    edit(base_copy / POOL, "    party: council\n  monitoring:", f"    party: council\n  pool_manager_post: {post}\n  monitoring:")
    assert words in text_of(base_copy, "pool")


def test_a_joint_line_is_pooled_unless_the_schedule_chooses_to_hold_shares(southampton):
    """Review r7 B (Portsmouth 2022): an overspend on a joint line is shared across the whole line, so by default
    its money is pooled; a partner that holds its own share under a chosen route bears the overspend on what it
    pays from it, and the proportional share applies only to the pooled part."""
    bcf = text_of(southampton, "bcf")
    assert "It bears any Overspend, and keeps in the Pooled Fund for the line any Underspend, on the part it " \
           "holds. The sharing of an Overspend or Underspend on a jointly commissioned line in proportion to " \
           "Contributions applies only to the part of the line paid into the Pooled Fund, in proportion to what " \
           "each Partner paid into the Pooled Fund for it." in bcf
    # the first year has no earlier split to fall back on: what the contracts actually cost (review r8 A)
    assert "the part agreed for the previous Financial Year or, for the first, what it pays or commits under " \
           "those contracts in that year" in bcf
    edit(southampton / "schedules" / "bcf.yaml", "  commissioner_lines: held_by_commissioner\n", "")
    bcf = text_of(southampton, "bcf")
    assert "for its own share of this jointly commissioned line" not in bcf
    assert "on the part it holds" not in bcf
