"""Facts across fields and files, one small function per rule, each with a stable code.

Rules run on schema-valid files only (the shape is checked in ``schema``).
Each yields Diagnostics; none prints or raises. ``RULES`` is the registry.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property, lru_cache
from collections.abc import Mapping
from typing import Any, Callable, Iterator

import yaml

from assembler.diagnostics import ERROR, WARNING, Diagnostic
from assembler.source.yamlfile import YamlFile
from assembler import law
from assembler.model import (
    COUNCIL_KINDS, NHS_KINDS, Money, add_years, agreement_end, backdated, financial_year_ok, law_date, line_risk,
    JOINT, line_payers, made_date, parse_date, party_kinds,
    total, year_bounds,
)
from assembler.resources import data_file

# The day CCGs were abolished and ICBs established, from the law-in-force table.
CCG_ABOLISHED = law.law_rows()["clinical-commissioning-groups"].until


@dataclass(frozen=True)
class Context:
    """What every rule sees: the framework file and the schema-valid schedule files."""

    framework: YamlFile
    schedules: tuple[YamlFile, ...]

    @property
    def data(self) -> dict:
        return self.framework.data

    @property
    def parties(self) -> dict[str, dict]:
        return {p["key"]: p for p in self.data["parties"]}

    @property
    def status(self) -> str:
        return self.data["status"]

    def strings(self, doc: YamlFile) -> list[tuple[tuple, str, bool]]:
        """``_strings(doc.data)`` for one of this agreement's files, walked once per validation: the invisible-
        character rule, the consistency rules and the prose checks all read every string of every file."""
        return self._walked[id(doc)][0]

    def texts(self, doc: YamlFile) -> list[tuple[tuple, str]]:
        """Every text value of one of its files (not the mapping keys) with its path, in document order."""
        return self._walked[id(doc)][1]

    @cached_property
    def _walked(self) -> dict[int, tuple[list, list]]:
        # By identity: the files are this context's own and live as long as it does (another file is a KeyError).
        walked = {}
        for doc in (self.framework, *self.schedules):
            found = _strings(doc.data)
            walked[id(doc)] = found, [(path, text) for path, text, is_key in found if not is_key]
        return walked


Rule = Callable[[Context], Iterator[Diagnostic]]
RULES: list[Rule] = []


def rule(fn: Rule) -> Rule:
    RULES.append(fn)
    return fn


def run_rules(ctx: Context) -> list[Diagnostic]:
    findings: list[Diagnostic] = []
    for check in RULES:
        findings.extend(check(ctx))
    return findings


def _at(doc: YamlFile, path, code: str, message: str, hint: str = "", level: str = ERROR, key: bool = False):
    where = doc.source.key_location(tuple(path)) if key else doc.source.locate(tuple(path))
    return Diagnostic(where, level, code, message, hint)


def _suggest(name: str, options) -> str:
    close = difflib.get_close_matches(str(name), sorted(options), n=1)
    return f"Did you mean '{close[0]}'?" if close else f"known: {', '.join(sorted(options))}"


def _has_both_sides(keys, parties) -> tuple[bool, bool]:
    kinds = [parties[k]["kind"] for k in keys if k in parties]
    return any(k in NHS_KINDS for k in kinds), any(k in COUNCIL_KINDS for k in kinds)


# --- parties ------------------------------------------------------------------


@rule
def parties_on_both_sides(ctx: Context):
    nhs, council = _has_both_sides(ctx.parties, ctx.parties)
    if not (nhs and council):
        missing = "NHS body" if not nhs else "local authority"
        yield _at(ctx.framework, ("parties",), "S75-PARTIES",
                  f"a section 75 agreement needs at least one NHS body and one local authority; it has no {missing}",
                  "add the missing party under parties: with its kind (e.g. icb or unitary_council)", key=True)


@rule
def party_keys_unique(ctx: Context):
    seen: dict[str, int] = {}
    for i, party in enumerate(ctx.data["parties"]):
        if party["key"] in seen:
            yield _at(ctx.framework, ("parties", i, "key"), "S75-PARTYKEY",
                      f"party key '{party['key']}' is used twice", "give each party its own key")
        seen[party["key"]] = i


def _party_refs(doc: YamlFile, framework: bool) -> Iterator[tuple[tuple, str]]:
    """Every place a file names a party key, as (path, key)."""
    data = doc.data
    if framework:
        for i, approval in enumerate(data.get("approvals", [])):
            yield ("approvals", i, "party"), approval["party"]
        for b, body in enumerate(data["governance"]["bodies"]):
            for m, member in enumerate(body["members"]):
                yield ("governance", "bodies", b, "members", m, "party"), member["party"]
        for i, earlier in enumerate(data.get("supersedes", [])):
            for n, key in enumerate(earlier["parties"]):
                yield ("supersedes", i, "parties", n), key
        for i, officer in enumerate(data.get("shared_officers", [])):
            if "employed_by" in officer:
                yield ("shared_officers", i, "employed_by"), officer["employed_by"]
            for n, key in enumerate(officer["acts_for"]):
                yield ("shared_officers", i, "acts_for", n), key
        for p, party in enumerate(data["parties"]):
            for s, signatory in enumerate(party["execution"]["signatories"]):
                if "party" in signatory:
                    yield ("parties", p, "execution", "signatories", s, "party"), signatory["party"]
        return
    for i, key in enumerate(data["partners"]):
        yield ("partners", i), key
    management = data.get("management", {})
    if management.get("host_partner", "tbc") != "tbc":  # tbc: not yet agreed, as a lead may be
        yield ("management", "host_partner"), management["host_partner"]
    if "party" in management.get("pool_manager", {}):
        yield ("management", "pool_manager", "party"), management["pool_manager"]["party"]
    lead = data.get("lead_commissioning")
    if lead:
        if lead.get("lead", "tbc") not in ("joint", "tbc"):
            yield ("lead_commissioning", "lead"), lead["lead"]
        for i, key in enumerate(lead.get("on_behalf_of", [])):
            yield ("lead_commissioning", "on_behalf_of", i), key
    provision = data.get("integrated_provision", {})
    if provision.get("provider", "tbc") != "tbc":
        yield ("integrated_provision", "provider"), provision["provider"]
    for i, key in enumerate(provision.get("on_behalf_of", [])):
        yield ("integrated_provision", "on_behalf_of", i), key
    for i, payment in enumerate(data.get("payments", [])):
        for role in ("from", "to"):
            yield ("payments", i, role), payment[role]
    for n, line in enumerate(data.get("lines", [])):
        if "lead" in line:
            yield ("lines", n, "lead"), line["lead"]
        for year, amounts in line["contributions"].items():
            for key in amounts:
                yield ("lines", n, "contributions", year, key), key
    for role in ("payer", "recipient"):
        if role in data.get("s256", {}):
            yield ("s256", role), data["s256"][role]
    for i, officer in enumerate(data.get("sign_off", [])):
        if "party" in officer:
            yield ("sign_off", i, "party"), officer["party"]
    for role in ("controller", "processor"):
        if role in data.get("data_protection", {}):
            yield ("data_protection", role), data["data_protection"][role]
    for n, line in enumerate(data.get("lines", [])):
        if line.get("spent_by", "tbc") not in ("tbc", JOINT):  # tbc: not yet agreed; joint: every contributor
            yield ("lines", n, "spent_by"), line["spent_by"]
    if "assets_owner" in data.get("exit", {}):
        yield ("exit", "assets_owner"), data["exit"]["assets_owner"]


@rule
def party_references_exist(ctx: Context):
    known = ctx.parties
    for doc, is_framework in [(ctx.framework, True)] + [(s, False) for s in ctx.schedules]:
        for path, key in _party_refs(doc, is_framework):
            if key not in known:
                is_key = path[-1] == key
                yield _at(doc, path, "S75-PARTYREF", f"'{key}' is not a party to this agreement",
                          _suggest(key, known), key=is_key)


MONITORING_BY = ("pool_manager", "lead_commissioner", "host_partner", "each_partner")
MONITORING_TO = ("partners", "nhs_england")
_KEY_LIKE = re.compile(r"^[a-z][a-z0-9_-]*$")


@rule
def governance_references_exist(ctx: Context):
    """Who reports, reviews and agrees contributions must be a party or a governance body the agreement has."""
    bodies = [b["key"] for b in ctx.data.get("governance", {}).get("bodies", [])]
    for doc in ctx.schedules:
        data = doc.data
        monitoring = data.get("management", {}).get("monitoring")
        for i, report in enumerate(monitoring if isinstance(monitoring, list) else []):
            if report["by"] not in MONITORING_BY and report["by"] not in data["partners"]:
                yield _at(doc, ("management", "monitoring", i, "by"), "S75-GOVREF",
                          f"'{report['by']}' gives a report but is neither a partner to this scheme nor one of "
                          f"{', '.join(MONITORING_BY)}", _suggest(report["by"], [*MONITORING_BY, *data["partners"]]))
            to = report["to"]
            if _KEY_LIKE.match(to) and to not in (*MONITORING_TO, *bodies, *data["partners"]):
                yield _at(doc, ("management", "monitoring", i, "to"), "S75-GOVREF",
                          f"'{to}' receives a report but is not a partner, a governance body, partners or nhs_england",
                          _suggest(to, [*MONITORING_TO, *bodies, *data["partners"]]))
        named = [(("contributions", "variation", "agreed_by"), data.get("contributions", {}).get("variation")),
                 (("contributions", "variation", "moves_between_lines_by"), data.get("contributions", {}).get("variation")),
                 (("duration", "review", "by"), data.get("duration", {}).get("review"))]
        for path, holder in named:
            key = holder.get(path[-1]) if isinstance(holder, dict) else None
            allowed = bodies if path[-1] == "moves_between_lines_by" else ["partners", *bodies]
            if key is not None and key not in allowed:
                yield _at(doc, path, "S75-GOVREF", f"'{key}' is not {'a governance body' if path[-1] == 'moves_between_lines_by' else 'partners or a governance body'} of this agreement",
                          _suggest(key, allowed) if allowed else "add the body under governance: bodies: in agreement.yaml")


JOINT_WORKING_IN_FORCE = dt.date(2022, 7, 1)  # NHS Act 2006 ss65Z5 and 65Z6 (Health and Care Act 2022)


@rule
def joint_committees_need_the_power_and_a_delegation(ctx: Context):
    """A joint committee exists only under ss65Z5-65Z6 (from 1 July 2022) and only to exercise delegated functions."""
    for b, body in enumerate(ctx.data.get("governance", {}).get("bodies", [])):
        if body.get("status") != "joint_committee":
            continue
        where = ("governance", "bodies", b, "status")
        if parse_date(law_date(ctx.data)) < JOINT_WORKING_IN_FORCE:
            yield _at(ctx.framework, where, "S75-JOINT-COMMITTEE",
                      f"the {body['name']} cannot be a joint committee: sections 65Z5 and 65Z6 of the NHS Act 2006, "
                      f"which allow one, came into force on 1 July 2022, after this agreement's date",
                      "use status: advisory, with each member acting under their own organisation's delegation")
        elif not body.get("delegated_authority"):
            yield _at(ctx.framework, where, "S75-JOINT-COMMITTEE",
                      f"the {body['name']} is a joint committee but its terms of reference delegate nothing to it",
                      "list the functions delegated to it under delegated_authority:, or use status: advisory")


@rule
def processor_named_with_its_controller(ctx: Context):
    for doc in ctx.schedules:
        dp = doc.data.get("data_protection", {})
        if dp.get("roles") != "controller_processor":
            continue
        missing = [role for role in ("controller", "processor") if role not in dp]
        if missing:
            yield _at(doc, ("data_protection", "roles"), "S75-PROCESSOR",
                      f"controller_processor needs the {' and the '.join(missing)} named",
                      "add controller: and processor: with the keys of two partners to this scheme")
        elif dp["controller"] == dp["processor"]:
            yield _at(doc, ("data_protection", "processor"), "S75-PROCESSOR",
                      "the controller and the processor are the same partner",
                      "name the partner that processes data on the other's instructions as processor:")


@rule
def own_overspend_knows_who_controls_each_line(ctx: Context):
    """Where risk follows control, a jointly funded line with no one named to bear its risk would have no one; it
    is shared in proportion to contributions only where the schedule says it is joint (model.line_risk)."""
    for doc in ctx.schedules:
        share = doc.data.get("risk_share", ctx.data["finance"]["risk_share"])
        if not _follows_control(share):
            continue
        for n, line in enumerate(doc.data.get("lines", [])):
            if line_risk(line, doc.data) is None:
                why = ("its spent_by: is still tbc" if line.get("spent_by") == "tbc" else
                       "it is funded by more than one partner and the schedule does not say which controls its spending")
                yield _at(doc, ("lines", n, "name"), "S75-RISK-CONTROL",
                          f"the line '{line['name']}' has no controlling partner ({why}), so under {share['model']} "
                          "no one bears its overspend",
                          "add spent_by: with the key of the partner that commissions or spends the line; or "
                          "spent_by: joint if the partners that fund it commission it together (each then bears its "
                          "overspend in proportion to its contribution to the line); or say how the scheme shares "
                          "its risk with the scheme's own risk_share: (proportional, agreed_percentages, capped or "
                          "joint_risk_pool)", level=WARNING)


@rule
def joint_line_has_more_than_one_contributor(ctx: Context):
    """spent_by: joint shares a line's overspend between those who fund it; with one funder that shares nothing and
    the document would call one partner's line joint."""
    names = {p["key"]: p["short_name"] for p in ctx.data["parties"]}
    for doc in ctx.schedules:
        for n, line in enumerate(doc.data.get("lines", [])):
            if line.get("spent_by") != JOINT:
                continue
            payers = sorted(line_payers(line))
            if len(payers) < 2:
                only = f"only {names.get(payers[0], payers[0])} contributes to it" if payers else "no partner contributes to it"
                yield _at(doc, ("lines", n, "spent_by"), "S75-RISK-JOINT",
                          f"the line '{line['name']}' is spent_by: joint, but {only}, so there is nothing to share "
                          "in proportion to contributions",
                          f"write spent_by: {payers[0] if payers else 'tbc'} (the partner that bears its overspend), or "
                          "add the other partners' contributions to the line")


@rule
def common_seal_only_for_councils(ctx: Context):
    for i, party in enumerate(ctx.data["parties"]):
        if party["execution"]["method"] == "common_seal" and party["kind"] not in COUNCIL_KINDS:
            yield _at(ctx.framework, ("parties", i, "execution", "method"), "S75-SEAL",
                      f"{party['name']} is an NHS body and has no common seal",
                      "use method: signatories with its authorised signatory")


@rule
def deed_signed_by_more_than_one(ctx: Context):
    """A council's deed is sealed, or signed by two officers as its standing orders allow; one signature is doubtful."""
    if ctx.data.get("executed_as", "deed") != "deed":
        return
    for i, party in enumerate(ctx.data["parties"]):
        execution = party["execution"]
        if (party["kind"] in COUNCIL_KINDS and execution["method"] == "signatories"
                and len(execution.get("signatories", [])) < 2):
            yield _at(ctx.framework, ("parties", i, "execution", "signatories"), "S75-DEED-SIGNATURE",
                      f"{party['name']} executes this agreement as a deed by one officer's signature; a council executes a "
                      "deed under its common seal, or by the officers its standing orders authorise to sign deeds",
                      "use method: common_seal, add the second authorised officer, or set "
                      "executed_as: under_hand if the Partners sign it as a simple contract", level=WARNING)


SUCCEEDS_HINT = "keep the party's key and commencement date, name the ICB with kind: icb and record " \
                "succeeds: {name: <the CCG's name>, kind: ccg, date: 2022-07-01}"


@rule
def ccg_and_icb_dates(ctx: Context):
    start = parse_date(ctx.data["commencement"])
    end = agreement_end(ctx.data)
    for i, party in enumerate(ctx.data["parties"]):
        where = ("parties", i, "kind")
        succeeded_ccg = party.get("succeeds", {}).get("kind") == "ccg"
        if party["kind"] == "ccg" and start >= CCG_ABOLISHED:
            yield _at(ctx.framework, where, "S75-CCG",
                      f"{party['name']} is a CCG, but CCGs were abolished on 1 July 2022 and this agreement commences on {start.isoformat()}",
                      "name the integrated care board (kind: icb) that took over the CCG's functions")
        elif party["kind"] == "ccg" and end >= CCG_ABOLISHED and "succeeded_by" not in party:
            yield _at(ctx.framework, where, "S75-CCG-TRANSFER",
                      f"{party['name']} is a CCG and the agreement runs past 30 June 2022: its rights and duties passed to the ICB on 1 July 2022",
                      f"if the agreement is made when the ICB is known, name it in the successor clause with succeeded_by: "
                      f"{{name: <the ICB's name>, kind: icb, date: 2022-07-01}}; after the transfer, {SUCCEEDS_HINT}; "
                      "or end the agreement by 30 June 2022", level=WARNING)
        elif party["kind"] == "icb" and start < CCG_ABOLISHED and not succeeded_ccg:
            yield _at(ctx.framework, where, "S75-ICB",
                      f"{party['name']} is an ICB, but ICBs were established on 1 July 2022 and this agreement commences on {start.isoformat()}",
                      f"if the ICB took over a CCG that was a party, {SUCCEEDS_HINT}; otherwise name the clinical "
                      "commissioning group (kind: ccg)")


def _named_kind(name: str) -> str | None:
    """The kind of body a legal name says it is ("... Integrated Care Board" -> icb), if it says one."""
    for kind, row in party_kinds().items():
        words = row.get("name_says")
        if words and re.search(rf"\b{re.escape(words)}\b", name, re.IGNORECASE):
            return kind
    return None


@rule
def party_name_matches_kind(ctx: Context):
    """A name and a kind that disagree ('... Clinical Commissioning Group', kind: icb) are wrong whatever the date."""
    for i, party in enumerate(ctx.data["parties"]):
        bodies = [(("parties", i), party)]
        for field in ("succeeds", "succeeded_by"):
            if field in party:
                bodies.append((("parties", i, field), party[field]))
        for path, body in bodies:
            said = _named_kind(body["name"])
            if said and said != body["kind"]:
                yield _at(ctx.framework, path + ("kind",), "S75-PARTY-NAME",
                          f"'{body['name']}' is named as a body of kind {said}, but its kind is {body['kind']}",
                          f"correct the name or write kind: {said}")


SUCCESSION_HINTS = {
    "succeeds": {"term": "a successor takes over during the term; a body that was already in place at commencement "
                         "is simply named as the party",
                 "side": "correct the kind of the party or of the body it succeeds",
                 "ccg": f"write kind: icb for the party and date: {CCG_ABOLISHED.isoformat()}"},
    "succeeded_by": {"term": "record only a succession that falls in the term; one before commencement means the "
                             "successor is the party",
                     "side": "correct the kind of the successor",
                     "ccg": f"write kind: icb and date: {CCG_ABOLISHED.isoformat()}"},
}


def _succession_findings(ctx: Context, i: int, field: str, code: str, old: Mapping, new: Mapping):
    """A succession (recorded on parties[i][field]) falls in the term, stays on one side, and a CCG's goes to an ICB."""
    start = parse_date(ctx.data["commencement"])
    end = agreement_end(ctx.data)
    if "extension" in ctx.data["term"]:
        end = add_years(end, ctx.data["term"]["extension"]["years"])
    day = parse_date(ctx.data["parties"][i][field]["date"])
    hints = SUCCESSION_HINTS[field]
    if not (start < day <= end):
        yield _at(ctx.framework, ("parties", i, field, "date"), code,
                  f"{new['name']} succeeds {old['name']} on {day.isoformat()}, outside the agreement's term "
                  f"({start.isoformat()} to {end.isoformat()})", hints["term"])
    if (old["kind"] in NHS_KINDS) != (new["kind"] in NHS_KINDS):
        yield _at(ctx.framework, ("parties", i, field, "kind"), code,
                  f"{new['name']} ({new['kind']}) cannot succeed {old['name']} ({old['kind']}): "
                  "an NHS body succeeds an NHS body and a local authority a local authority", hints["side"])
    if old["kind"] == "ccg" and (new["kind"] != "icb" or day != CCG_ABOLISHED):
        yield _at(ctx.framework, ("parties", i, field, "date"), code,
                  f"a CCG's rights and liabilities passed to an integrated care board on {CCG_ABOLISHED.isoformat()}; "
                  f"this records {new['kind']} on {day.isoformat()}", hints["ccg"])


@rule
def succession_is_possible(ctx: Context):
    """A successor takes over during the term, from a body on the same side, on the day the law made the change."""
    for i, party in enumerate(ctx.data["parties"]):
        if party.get("succeeds"):
            yield from _succession_findings(ctx, i, "succeeds", "S75-SUCCEEDS", party["succeeds"], party)


@rule
def expected_succession_is_possible(ctx: Context):
    """A successor recorded in advance takes over during the term, on the same side, on the day the law fixes."""
    for i, party in enumerate(ctx.data["parties"]):
        if party.get("succeeded_by"):
            yield from _succession_findings(ctx, i, "succeeded_by", "S75-SUCCEEDED-BY", party, party["succeeded_by"])


@rule
def backdated_agreement(ctx: Context):
    """An agreement made after it commences takes effect retrospectively: the partners must mean it."""
    if "backdating" in ctx.data or not backdated(ctx.data):
        return
    made = made_date(ctx.data)
    when = (f"is made on {made}" if "agreement_date" in ctx.data
            else f"cannot be signed before its last approval on {made}")
    yield _at(ctx.framework, ("commencement",), "S75-BACKDATED",
              f"the agreement commences on {ctx.data['commencement']} but {when}: it takes effect "
              "retrospectively and ratifies what the partners did in between",
              "confirm it with backdating: {accepted: true} (and, optionally, since_commencement: what the "
              "partners have done since), or move the commencement date", level=WARNING)


@rule
def superseded_agreements(ctx: Context):
    """An earlier agreement names parties to this one, and the schedule that continues it exists."""
    schedules = {doc.data["key"] for doc in ctx.schedules}
    for i, earlier in enumerate(ctx.data.get("supersedes", [])):
        key = earlier.get("schedule")
        if key and key not in schedules:
            yield _at(ctx.framework, ("supersedes", i, "schedule"), "S75-SUPERSEDES",
                      f"'{key}' is not a schedule of this agreement", _suggest(key, schedules))
        transition = earlier.get("transition", {})  # none for an agreement restated, which carries on whole
        needs_schedule = [name for name in ("pooled_fund_balances", "contracts")
                          if transition.get(name) in ("carry_forward", "continue")]
        if needs_schedule and not key:
            yield _at(ctx.framework, ("supersedes", i, "transition", needs_schedule[0]), "S75-SUPERSEDES",
                      f"'{earlier['transition'][needs_schedule[0]]}' needs the schedule that continues the earlier "
                      "agreement", "add schedule: with the key of that schedule")
        if earlier["date"] != "tbc" and parse_date(earlier["date"]) >= parse_date(ctx.data["commencement"]):
            yield _at(ctx.framework, ("supersedes", i, "date"), "S75-SUPERSEDES",
                      f"the earlier agreement is dated {earlier['date']}, not before this one commences "
                      f"({ctx.data['commencement']})", "check the date of the earlier agreement")


# --- dates ----------------------------------------------------------------------


@rule
def dates_in_order(ctx: Context):
    start = parse_date(ctx.data["commencement"])
    if "end" in ctx.data["term"] and parse_date(ctx.data["term"]["end"]) <= start:
        yield _at(ctx.framework, ("term", "end"), "S75-DATES",
                  f"the term ends ({ctx.data['term']['end']}) before it starts ({ctx.data['commencement']})",
                  "the end date must be after the commencement date")
    end = agreement_end(ctx.data)
    for doc in ctx.schedules:
        duration = doc.data.get("duration", {})
        s_start = parse_date(duration.get("start", ctx.data["commencement"]))
        s_end = parse_date(duration["end"]) if "end" in duration else end
        if "start" in duration and not (start <= s_start <= end):
            yield _at(doc, ("duration", "start"), "S75-DATES",
                      f"the scheme starts on {duration['start']}, outside the agreement's term ({start.isoformat()} to {end.isoformat()})",
                      "a scheme must start within the agreement's term")
        if "end" in duration and not (s_start < s_end <= end):
            yield _at(doc, ("duration", "end"), "S75-DATES",
                      f"the scheme ends on {duration['end']}, which is before it starts or after the agreement ends ({end.isoformat()})",
                      "a scheme must end after it starts and no later than the agreement")
        previous_end = None
        for i, phase in enumerate(doc.data.get("phases", [])):
            p_start = parse_date(phase["start"])
            p_end = parse_date(phase["end"]) if "end" in phase else None
            if p_end is not None and p_end < p_start:
                yield _at(doc, ("phases", i, "end"), "S75-DATES", "this phase ends before it starts",
                          "put the phase's end after its start")
            if previous_end is not None and p_start <= previous_end:
                yield _at(doc, ("phases", i, "start"), "S75-DATES",
                          f"this phase starts on {phase['start']}, before the previous phase ends",
                          "phases must follow one another in date order")
            previous_end = p_end or p_start


@rule
def financial_years_valid(ctx: Context):
    start = parse_date(ctx.data["commencement"])
    end = agreement_end(ctx.data)
    if "extension" in ctx.data["term"]:
        end = add_years(end, ctx.data["term"]["extension"]["years"])
    for doc in ctx.schedules:
        paths = [(("lines", n, "contributions", y), y) for n, l in enumerate(doc.data.get("lines", []))
                 for y in l["contributions"]]
        paths += [(("contributions", "stated_totals", y), y)
                  for y in doc.data.get("contributions", {}).get("stated_totals", {})]
        for path, year in paths:
            if not financial_year_ok(year):
                yield _at(doc, path, "S75-FY", f"'{year}' is not a financial year",
                          f"a financial year runs 1 April to 31 March: write {year[:4]}-{(int(year[:4]) + 1) % 100:02d}",
                          key=True)
                continue
            first, last = year_bounds(year)
            if last < start or first > end:
                yield _at(doc, path, "S75-FY",
                          f"financial year {year} falls outside the agreement's term ({start.isoformat()} to {end.isoformat()})",
                          "correct the year, or the agreement's term", key=True)


# --- schedules -------------------------------------------------------------------


@rule
def schedule_keys_unique(ctx: Context):
    seen: dict[str, str] = {}
    for doc in ctx.schedules:
        key = doc.data["key"]
        if key in seen:
            yield _at(doc, ("key",), "S75-SCHEDKEY", f"schedule key '{key}' is also used by {seen[key]}",
                      "give each schedule its own key")
        else:
            seen[key] = doc.display


@rule
def schedule_partners_on_both_sides(ctx: Context):
    for doc in ctx.schedules:
        if doc.data["kind"] == "financial_governance":
            continue
        nhs, council = _has_both_sides(doc.data["partners"], ctx.parties)
        if not (nhs and council):
            missing = "NHS body" if not nhs else "local authority"
            yield _at(doc, ("partners",), "S75-PARTNERS",
                      f"this schedule's partners include no {missing}; partnership arrangements need both",
                      "list at least one NHS body and one local authority under partners:", key=True)


def _not_partner(doc: YamlFile, path, key: str, what: str, code: str, ctx: Context, at_key: bool = False):
    partners = doc.data["partners"]
    if key in ctx.parties and key not in partners:
        return _at(doc, path, code, key=at_key, message= f"{what} '{key}' is not a partner in this schedule (partners: {', '.join(partners)})",
                   hint=_suggest(key, partners) if difflib.get_close_matches(key, partners, n=1) else f"add '{key}' to partners:, or choose one of {', '.join(partners)}")
    return None


@rule
def host_and_lead_are_partners(ctx: Context):
    for doc in ctx.schedules:
        host = doc.data.get("management", {}).get("host_partner")
        if host:
            found = _not_partner(doc, ("management", "host_partner"), host, "host_partner", "S75-HOST", ctx)
            if found:
                yield found
        lead = doc.data.get("lead_commissioning", {}).get("lead")
        if lead and lead not in ("joint", "tbc"):
            found = _not_partner(doc, ("lead_commissioning", "lead"), lead, "lead commissioner", "S75-LEAD", ctx)
            if found:
                yield found
        provider = doc.data.get("integrated_provision", {}).get("provider")
        if provider and provider != "tbc":
            found = _not_partner(doc, ("integrated_provision", "provider"), provider, "providing partner",
                                 "S75-PROVIDER", ctx)
            if found:
                yield found


@rule
def payments_between_partners(ctx: Context):
    """A payment under the scheme goes from one of its partners to another."""
    for doc in ctx.schedules:
        for i, payment in enumerate(doc.data.get("payments", [])):
            for role, what in (("from", "payment from"), ("to", "payment to")):
                found = _not_partner(doc, ("payments", i, role), payment[role], what, "S75-PAYMENT", ctx)
                if found:
                    yield found
            if payment["from"] == payment["to"]:
                yield _at(doc, ("payments", i, "to"), "S75-PAYMENT",
                          f"this payment is from '{payment['from']}' to itself",
                          "name the partner that pays under from: and the partner paid under to:")


@rule
def pool_manager_is_of_the_host(ctx: Context):
    """Reg 7(4): the host partner appoints one of its own officers as pool manager."""
    for doc in ctx.schedules:
        management = doc.data.get("management", {})
        host, manager = management.get("host_partner"), management.get("pool_manager", {}).get("party")
        if host in doc.data["partners"] and manager and host != manager:  # a host outside: S75-HOST says so
            yield _at(doc, ("management", "pool_manager", "party"), "S75-POOL-MANAGER",
                      f"the pool manager must be an officer of the host partner ('{host}'), not of '{manager}' "
                      "(regulation 7(4))",
                      f"set pool_manager party: {host}, or make '{manager}' the host partner")


# Which models read which numbers: a share that names numbers it does not use would mislead.
_USES_PERCENTAGES = {"agreed_percentages", "capped", "joint_risk_pool"}
_BY_CONTROL = {"own_overspend"}  # and capped without percentages: see _follows_control


def _follows_control(share: dict) -> bool:
    """Overspends fall on the partner that controls the line: own_overspend, or caps without agreed percentages."""
    return share["model"] in _BY_CONTROL or (share["model"] == "capped" and "percentages" not in share)


def _risk_share_places(ctx: Context):
    """(file, path, risk share, the partners it is between) for the framework's and each schedule's own."""
    yield ctx.framework, ("finance", "risk_share"), ctx.data["finance"]["risk_share"], list(ctx.parties)
    for doc in ctx.schedules:
        if "risk_share" in doc.data:
            yield doc, ("risk_share",), doc.data["risk_share"], list(doc.data["partners"])


def _by_partner(doc, path, share, field, partners, code, what):
    """Every partner named once in ``share[field]``, and no one else; each finding at its key."""
    given = share[field]
    for key in given:
        if key not in partners:
            yield _at(doc, path + (field, key), code,
                      f"{what} names '{key}', which is not a partner here (partners: {', '.join(partners)})",
                      f"remove {key}:, or make it a partner", key=True)
    missing = [p for p in partners if p not in given]
    if missing:
        yield _at(doc, path + (field,), code,
                  f"{what} does not name {', '.join(missing)}, so the agreement could not say "
                  f"{'its share' if field == 'percentages' else 'its cap'}"
                  f"{'' if len(missing) == 1 else ' for each of them'}",
                  f"add {missing[0]}: to {field}: (write 0 for a partner that bears nothing)"
                  if field == "percentages" else f"add {missing[0]}: to {field}: with its cap in pounds", key=True)


def _percent(value) -> Decimal | None:
    return None if value == "tbc" else Decimal(str(value))


@rule
def risk_share_is_complete(ctx: Context):
    """Each model has the numbers its clause states: steps, a pool, percentages that make 100, a cap per partner."""
    for doc, path, share, partners in _risk_share_places(ctx):
        model = share["model"]
        if model == "cascade" and not share.get("cascade"):
            yield _at(doc, path + ("model",), "S75-RISK-SHARE",
                      "the cascade model needs its steps: which sources meet an overspend, in order",
                      "add cascade: with steps from other_underspends, risk_pool, reduce_uncommitted_spend, "
                      "outside_funding")
        if model == "joint_risk_pool" and "risk_pool" not in share:
            yield _at(doc, path + ("model",), "S75-RISK-SHARE",
                      "the joint risk pool has no amount; the agreement would show a blank to complete",
                      "add risk_pool: with the amount held (or tbc while drafting)", level=WARNING)
        if model == "agreed_percentages" and "percentages" not in share:
            yield _at(doc, path + ("model",), "S75-RISK-PERCENT",
                      "agreed_percentages needs each partner's percentage of an overspend",
                      f"add percentages: with each partner's share, e.g. {{{partners[0]}: 60, "
                      f"{partners[-1]}: 40}}, adding up to 100")
        if model == "capped" and "caps" not in share:
            yield _at(doc, path + ("model",), "S75-RISK-CAP",
                      "the capped model needs each partner's cap, in pounds",
                      f"add caps: with the most each partner pays towards overspends in a year, e.g. "
                      f"{{{partners[0]}: 500000, {partners[-1]}: 250000}}")
        for field, users, code in (("percentages", _USES_PERCENTAGES, "S75-RISK-PERCENT"),
                                   ("caps", {"capped"}, "S75-RISK-CAP")):
            if field in share and model not in users:
                yield _at(doc, path + (field,), code,
                          f"{field} are given, but the {model} model does not use them, so the agreement would "
                          "not state them", f"remove {field}:, or choose a model that uses them "
                          f"({', '.join(sorted(users))})", key=True)
            elif field in share:
                yield from _by_partner(doc, path, share, field, partners, code, f"{field}:")
        if model in _USES_PERCENTAGES and "percentages" in share:
            values = [_percent(v) for v in share["percentages"].values()]
            if None not in values and sum(values) != 100:
                yield _at(doc, path + ("percentages",), "S75-RISK-PERCENT",
                          f"the percentages add up to {sum(values)}, not 100, so an overspend would be "
                          f"{'over' if sum(values) > 100 else 'under'}-met",
                          "correct them so that they add up to exactly 100", key=True)


@rule
def framework_percentages_reach_each_scheme(ctx: Context):
    """Under the framework's percentages, a scheme whose partners all have 0 per cent would leave its overspend to no one."""
    share = ctx.data["finance"]["risk_share"]
    if "percentages" not in share or share["model"] not in _USES_PERCENTAGES:
        return
    for doc in _schemes_with_lines(ctx):
        if "risk_share" in doc.data:
            continue
        shares = [_percent(share["percentages"].get(p, 0)) for p in doc.data["partners"]]
        if None not in shares and sum(shares) == 0:
            yield _at(doc, ("partners",), "S75-RISK-PERCENT",
                      "the agreement's percentages give none of this scheme's partners a share, so no one would "
                      "meet an overspend on it", "give the scheme its own risk_share:", key=True)


def _schemes_with_lines(ctx: Context):
    return [doc for doc in ctx.schedules if doc.data["kind"] == "scheme" and doc.data.get("lines")]


@rule
def contributions_only_from_partners(ctx: Context):
    for doc in ctx.schedules:
        for n, line in enumerate(doc.data.get("lines", [])):
            for year, amounts in line["contributions"].items():
                for key in amounts:
                    found = _not_partner(doc, ("lines", n, "contributions", year, key), key,
                                         "contribution from", "S75-CONTRIB", ctx, at_key=True)
                    if found:
                        yield found


@rule
def stated_totals_match(ctx: Context):
    for doc in ctx.schedules:
        stated = doc.data.get("contributions", {}).get("stated_totals", {})
        for year, value in stated.items():
            computed = total(Money.parse(amount)
                             for line in doc.data.get("lines", [])
                             for amount in line["contributions"].get(year, {}).values())
            given = Money.parse(value)
            if given.is_tbc or computed.is_tbc:
                continue
            if given != computed:
                yield _at(doc, ("contributions", "stated_totals", year), "S75-TOTAL",
                          f"the stated total for {year} is {given} but the lines add up to {computed} (difference {Money(given.amount - computed.amount)})",
                          "correct the figures in lines:, or the stated total; totals are computed from the lines")


@rule
def governance_bodies_exist(ctx: Context):
    bodies = [b["key"] for b in ctx.data["governance"]["bodies"]]
    by = ctx.data["term"].get("review", {}).get("by")
    if by and by not in bodies:
        yield _at(ctx.framework, ("term", "review", "by"), "S75-GOVREF",
                  f"'{by}' is not a governance body of this agreement", _suggest(by, bodies))
    for doc in ctx.schedules:
        key = doc.data.get("governance_body")
        if key and key not in bodies:
            yield _at(doc, ("governance_body",), "S75-GOVREF",
                      f"'{key}' is not a governance body in agreement.yaml", _suggest(key, bodies))


@rule
def governance_bodies_have_voting_members(ctx: Context):
    for b, body in enumerate(ctx.data["governance"]["bodies"]):
        voting = {m["party"] for m in body["members"] if m["voting"]}
        missing = [p["short_name"] for p in ctx.data["parties"] if p["key"] not in voting]
        if missing:
            yield _at(ctx.framework, ("governance", "bodies", b, "members"), "S75-MEMBERS",
                      f"the {body['name']} has no voting member for {', '.join(missing)}, so it can never be quorate",
                      "add a voting member (voting: true) for each party", key=True)


@rule
def better_care_fund_is_pooled(ctx: Context):
    """Arrangements that leave out pooled_fund; with no arrangements at all, the requirement row (same code) reports it."""
    for doc in ctx.schedules:
        arrangements = doc.data.get("arrangements") or []
        if doc.data.get("better_care_fund") and arrangements and "pooled_fund" not in arrangements:
            yield _at(doc, ("arrangements",), "S75-BCF",
                      "a Better Care Fund schedule must be a pooled fund: the NHS money may only be paid into a fund pooled under section 75(2)(a) (s223GA NHS Act 2006)",
                      "add pooled_fund to arrangements:", key=True)


@rule
def better_care_fund_has_a_host(ctx: Context):
    """The BCF money must be in a pooled fund from the scheme's first day (s223GA), so it needs a host and a pool
    manager then, even while the rest of the scheme is aligned or its lead (and so its host) is still undecided."""
    for doc in ctx.schedules:
        host = doc.data.get("management", {}).get("host_partner")
        if doc.data.get("better_care_fund") and host == "tbc":
            phased = any(p.get("arrangement") == "aligned_budget" for p in doc.data.get("phases", []))
            yield _at(doc, ("management", "host_partner"), "S75-BCF-HOST",
                      "the Better Care Fund money has no host partner: it must be held in a pooled fund, with a host "
                      "and a pool manager, from the first day of the scheme" + (", including its aligned phase"
                                                                               if phased else "") + " (s223GA NHS Act 2006)",
                      "name the host now (for example the host under the previous Better Care Fund agreement), even "
                      "if the lead commissioner is agreed later", level=WARNING)


@rule
def dfg_is_capital(ctx: Context):
    for doc in ctx.schedules:
        for n, line in enumerate(doc.data.get("lines", [])):
            if line.get("category") == "dfg" and line["type"] != "capital":
                yield _at(doc, ("lines", n, "type"), "S75-DFG",
                          f"'{line['name']}' is Disabled Facilities Grant, which is a capital grant",
                          "write type: capital")
            if "pass_through_to" in line and line.get("category") != "dfg":
                yield _at(doc, ("lines", n, "pass_through_to"), "S75-DFG",
                          f"'{line['name']}' is passed to district councils, which only the Disabled Facilities "
                          "Grant is", "give this line category: dfg, or remove pass_through_to", key=True)


_HOUSING_GRANT_FUNCTION = re.compile(r"disabled facilities|housing grants, construction and regeneration", re.I)


@rule
def county_councils_pass_the_dfg_on(ctx: Context):
    """In a two-tier area the districts are the housing authorities: a county holds no DFG functions of its own."""
    for doc in ctx.schedules:
        councils = [ctx.parties[p] for p in doc.data["partners"] if p in ctx.parties and ctx.parties[p]["kind"] in COUNCIL_KINDS]
        if not councils or any(c["kind"] != "county_council" for c in councils):
            continue
        for n, line in enumerate(doc.data.get("lines", [])):
            if line.get("category") == "dfg" and not line.get("pass_through_to"):
                yield _at(doc, ("lines", n, "name"), "S75-DFG-COUNTY",
                          f"'{line['name']}' is Disabled Facilities Grant paid to a county council, which is not a housing "
                          "authority: the grant must be passed on to the district councils",
                          "add pass_through_to: with each district council and its amount")
        for n, text in enumerate(doc.data.get("functions", {}).get("health_related", [])):
            if _HOUSING_GRANT_FUNCTION.search(text):
                yield _at(doc, ("functions", "health_related", n), "S75-DFG-COUNTY",
                          "a county council has no functions under Part 1 of the Housing Grants, Construction and "
                          "Regeneration Act 1996 to put into a section 75 scheme; the district councils hold them",
                          "remove this function; the grant is passed to the districts under the Better Care Fund conditions")


@rule
def dfg_comes_from_councils(ctx: Context):
    """The Disabled Facilities Grant is a grant to local housing authorities: no NHS body pays it."""
    for doc in ctx.schedules:
        for n, line in enumerate(doc.data.get("lines", [])):
            if line.get("category") != "dfg":
                continue
            for year, amounts in line["contributions"].items():
                for key in amounts:
                    party = ctx.parties.get(key)
                    if party and party["kind"] in NHS_KINDS:
                        yield _at(doc, ("lines", n, "contributions", year, key), "S75-DFG-NHS",
                                  f"'{line['name']}' is Disabled Facilities Grant, a capital grant paid to "
                                  f"councils, but {year} shows a contribution from {party['name']}, an NHS body",
                                  "record the grant as the council's contribution; NHS money goes in another line",
                                  key=True)


@rule
def dfg_passed_on_in_full(ctx: Context):
    """Each district council's amount is stated, and together they are the whole line, year by year."""
    for doc in ctx.schedules:
        for n, line in enumerate(doc.data.get("lines", [])):
            districts = line.get("pass_through_to")
            if not districts:
                continue
            years = sorted(line["contributions"])
            where = ("lines", n, "pass_through_to")
            passed: dict[str, list[Money]] = {year: [] for year in years}
            for d, district in enumerate(districts):
                if "amount" in district and len(years) > 1:
                    yield _at(doc, where + (d, "amount"), "S75-DFG-SPLIT",
                              f"{district['name']} has one amount, but the line runs for {len(years)} years "
                              f"({', '.join(years)})", "write amounts: with the amount for each year", key=True)
                    continue
                amounts = {years[0]: district["amount"]} if "amount" in district else district["amounts"]
                for year in sorted(set(amounts) - set(years)):
                    yield _at(doc, where + (d, "amounts", year), "S75-DFG-SPLIT",
                              f"{district['name']} has an amount for {year}, a year the line has no contributions for",
                              f"the line's years are {', '.join(years)}", key=True)
                for year in years:
                    if year not in amounts:
                        yield _at(doc, where + (d, "amounts"), "S75-DFG-SPLIT",
                                  f"{district['name']} has no amount for {year}", f"add {year}: to its amounts", key=True)
                    else:
                        passed[year].append(Money.parse(amounts[year]))
            for year in years:
                given = total(passed[year])
                whole = total(Money.parse(a) for a in line["contributions"][year].values())
                if len(passed[year]) == len(districts) and not (given.is_tbc or whole.is_tbc) and given != whole:
                    yield _at(doc, where, "S75-DFG-SPLIT",
                              f"in {year} the district councils' amounts add up to {given}, but the line's "
                              f"contributions are {whole} (difference {Money(whole.amount - given.amount)})",
                              "the whole grant passes to the district councils: correct their amounts or the "
                              "line's contributions", key=True)


@rule
def phases_use_listed_arrangements(ctx: Context):
    for doc in ctx.schedules:
        listed = doc.data.get("arrangements", [])
        for i, phase in enumerate(doc.data.get("phases", [])):
            if phase["arrangement"] not in listed:
                yield _at(doc, ("phases", i, "arrangement"), "S75-PHASE",
                          f"the phase uses {phase['arrangement']}, which is not listed under arrangements:",
                          f"add {phase['arrangement']} to arrangements:")


@rule
def schedule_kind_matches_content(ctx: Context):
    for doc in ctx.schedules:
        kind = doc.data["kind"]
        if kind == "scheme" and "arrangements" not in doc.data:
            yield _at(doc, ("kind",), "S75-REQUIRED", "a scheme schedule must list its arrangements",
                      "add arrangements: e.g. [pooled_fund]")
        if kind == "s256":
            s256 = doc.data.get("s256")
            if s256 is None:
                yield _at(doc, (), "S75-S256", "an s256 schedule must say who pays whom and for what",
                          "add s256: with payer, recipient, purpose and conditions")
                continue
            parties = ctx.parties
            if s256["payer"] in parties and parties[s256["payer"]]["kind"] not in NHS_KINDS:
                yield _at(doc, ("s256", "payer"), "S75-S256", "under section 256 the payer must be an NHS body",
                          "name the NHS body as payer")
            if s256["recipient"] in parties and parties[s256["recipient"]]["kind"] not in COUNCIL_KINDS:
                yield _at(doc, ("s256", "recipient"), "S75-S256",
                          "under section 256 the recipient must be a local authority", "name the council as recipient")
        if kind == "financial_governance" and "rules" not in doc.data:
            yield _at(doc, ("kind",), "S75-REQUIRED", "a financial governance schedule must list its rules",
                      "add rules: with one financial rule per item")


@rule
def sign_off_by_every_partner(ctx: Context):
    """A schedule signed off separately binds every partner to it only if each of them signs (s256: payer and recipient)."""
    for doc in ctx.schedules:
        officers = doc.data.get("sign_off")
        if not officers:
            continue
        s256 = doc.data.get("s256", {})
        needed = [s256[r] for r in ("payer", "recipient") if r in s256] + list(doc.data["partners"])
        signing = {o.get("party") for o in officers}
        missing = [key for key in dict.fromkeys(needed) if key in ctx.parties and key not in signing]
        if missing:
            names = ", ".join(ctx.parties[k]["name"] for k in missing)
            yield _at(doc, ("sign_off",), "S75-SIGN-OFF",
                      f"the sign-off of this schedule has no signatory for {names}, a partner to it"
                      + (" (under section 256 both the payer and the recipient sign)" if s256 else ""),
                      f"add an officer with party: {missing[0]} under sign_off:", key=True)


@lru_cache(maxsize=None)
def _excluded() -> tuple[tuple[str, re.Pattern], ...]:
    rows = yaml.safe_load(data_file("excluded.yaml").read_text(encoding="utf-8"))
    return tuple((row["name"], re.compile(row["pattern"], re.IGNORECASE)) for row in rows)


@rule
def excluded_functions_refused(ctx: Context):
    for doc in ctx.schedules:
        texts = [(("functions", group, i), text)
                 for group in ("nhs", "health_related")
                 for i, text in enumerate(doc.data.get("functions", {}).get(group, []))]
        texts += [(("services", "kinds", i), text) for i, text in enumerate(doc.data.get("services", {}).get("kinds", []))]
        for path, text in texts:
            for name, pattern in _excluded():
                if pattern.search(text):
                    yield _at(doc, path, "S75-EXCLUDED",
                              f"{name} cannot be included in partnership arrangements (found in {text!r})",
                              "remove it: the Regulations exclude surgery, radiotherapy, termination of pregnancy, endoscopy, Class 4 laser and other invasive treatments, and emergency ambulance services")


# --- invisible characters -----------------------------------------------------------

# Fields that name something: a party, a schedule, a role. A reader must see exactly what they say.
_NAME_FIELDS = frozenset({"key", "name", "short_name", "title", "role"})
_OVERRIDES = re.compile("[\u202a-\u202e]")  # embeddings and overrides: they reorder the text after them
_ISOLATES = {"\u2066": 1, "\u2067": 1, "\u2068": 1, "\u2069": -1}  # opened and closed within one value
_ISOLATE_ANY = re.compile("[\u2066-\u2069]")


def _strings(data: Any, path=(), keys: bool = True) -> list[tuple[tuple, str, bool]]:
    """(path, text, is a mapping key) for every string in ``data`` (with ``keys``, mapping keys too), in document
    order. Gathered into one list by plain recursion: a chain of generators resumed every value at every level
    was a tenth of validation's time."""
    found: list[tuple[tuple, str, bool]] = []
    _gather_strings(data, path, found, keys)
    return found


def _gather_strings(data: Any, path: tuple, found: list, keys: bool) -> None:
    if isinstance(data, dict):
        for key, value in data.items():
            where = path + (key,)
            if keys and isinstance(key, str):
                found.append((where, key, True))
            if isinstance(value, str):  # most values: no call to find that out
                found.append((where, value, False))
            elif isinstance(value, (dict, list)):
                _gather_strings(value, where, found, keys)
    elif isinstance(data, list):
        for i, value in enumerate(data):
            if isinstance(value, str):
                found.append((path + (i,), value, False))
            elif isinstance(value, (dict, list)):
                _gather_strings(value, path + (i,), found, keys)
    elif isinstance(data, str):
        found.append((path, data, False))


def _invisible_problem(text: str, is_name: bool) -> str:
    """Why ``text`` may not be printed as it is, or "".

    In a name or key any invisible formatting character (Unicode category
    Cf: direction marks, zero-width spaces and joiners, soft hyphens) is
    refused: an unterminated right-to-left override in a short name once
    reversed every paragraph that named the party. In other text only the
    direction isolates are allowed, and only in balanced pairs.
    """
    if is_name:
        if text.isascii():
            return ""  # no ASCII character is invisible formatting (category Cf)
        bad = next((ch for ch in text if unicodedata.category(ch) == "Cf"), None)
        return _char_name(bad) if bad else ""
    if text.isascii():
        return ""  # most text: the overrides and isolates are all outside ASCII
    override = _OVERRIDES.search(text)
    if override:
        return _char_name(override.group())
    if not _ISOLATE_ANY.search(text):
        return ""  # most text: one scan in C instead of a loop over its characters
    depth = 0
    for ch in text:
        depth += _ISOLATES.get(ch, 0)
        if depth < 0:
            return _char_name(ch) + " with no isolate open before it"
    return "a direction isolate (U+2066-U+2068) that is never closed by U+2069" if depth else ""


def _char_name(ch: str) -> str:
    return f"the invisible character U+{ord(ch):04X} ({unicodedata.name(ch, 'unnamed')})"


@rule
def no_invisible_formatting(ctx: Context):
    for doc in (ctx.framework, *ctx.schedules):
        for path, text, is_key in ctx.strings(doc):
            is_name = is_key or (bool(path) and path[-1] in _NAME_FIELDS)
            problem = _invisible_problem(text, is_name)
            if problem:
                what = "this key" if is_key else "this name" if is_name else "this text"
                yield _at(doc, path, "S75-INVISIBLE", f"{what} holds {problem}, which can change or hide how "
                          "the words around it read in the document",
                          "delete it (retype the text if it was pasted)", key=is_key)


# --- tbc -------------------------------------------------------------------------


@rule
def decisions_known(ctx: Context):
    """An approval still pending is recited with blanks for the decision; the final gate refuses it."""
    for i, approval in enumerate(ctx.data.get("approvals", [])):
        if approval.get("decision") == "pending":
            yield _at(ctx.framework, ("approvals", i, "decision"), "S75-DECISION-PENDING",
                      f"the decision of the {approval['body']} is not yet known (decision: pending); the recital "
                      "prints a blank for it and its date",
                      "once the body has decided, record the decision it took (e.g. approved) and its date",
                      level=WARNING)


@rule
def nothing_to_be_confirmed(ctx: Context):
    for doc in (ctx.framework, *ctx.schedules):
        for path in (path for path, text in ctx.texts(doc) if text == "tbc"):
            if path == ("management", "host_partner") and doc.data.get("better_care_fund"):
                continue  # S75-BCF-HOST reports it, saying why it matters: one finding for one mistake
            yield _at(doc, path, "S75-TBC", "this value is still to be confirmed (tbc)",
                      "allowed in a draft; it must be settled before a final build", level=WARNING)
