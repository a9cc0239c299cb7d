"""The clause language, declared once: conditions, blocks, filters and functions.

Every name a clause file may use beyond plain Jinja is a row here, with
what it means and the Python that gives it effect. The renderer evaluates
conditions and builds blocks from these rows, the sandbox takes its filters
and functions from them, ``load_library`` refuses a clause that names
anything else (or a condition of the wrong scope), and the tables in
clauses/README.md are generated from them (scripts/update_docs.py; a test
keeps them in step).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from jinja2 import pass_context

from assembler import law
from assembler.engine import tree
from assembler.engine.text import BLANK_MARK
from assembler.model import Money, Record, add_years, backdated, format_date, format_money, total

BODY = "body"  # about the whole agreement: recitals, operative clauses, generated schedules
SCHEDULE = "schedule"  # about one schedule: the parts of a schedule of that kind


class ClauseValueError(ValueError):
    """A filter or function of the language was given a value it cannot take: the clause's fault, not the engine's."""


# --- conditions (``applies:``) ---------------------------------------------------


@dataclass(frozen=True)
class Condition:
    name: str
    scope: str  # BODY or SCHEDULE: what ``holds`` is asked about
    meaning: str
    holds: Callable[[Record], bool]
    reads: tuple[str, ...] = ()  # the model values it reads, as a clause's needs: names them


def _arrangements(schedule) -> tuple:
    return tuple(schedule.get("arrangements", ()))


def _any_schedule(test: Callable[[Record], bool]) -> Callable[[Record], bool]:
    return lambda agreement: any(test(s) for s in agreement.schedules)


def _arranged(name: str) -> Callable[[Record], bool]:
    return lambda schedule: name in _arrangements(schedule)


_COMMISSIONING = ("lead_commissioning", "integrated_provision", "aligned_budget")


def _has_succession(agreement) -> bool:
    return any("succeeds" in p or "succeeded_by" in p for p in agreement.parties)


def _ccg_past_abolition(agreement) -> bool:
    """The agreement names a CCG and may run (with any extension) past the day CCGs were abolished."""
    abolished = law.law_rows()["clinical-commissioning-groups"].until
    last_day = law.as_date(agreement.end)
    if "extension" in agreement.term:
        last_day = add_years(last_day, agreement.term.extension.years)
    return any(p.kind == "ccg" for p in agreement.parties) and last_day >= abolished


def _risk(model: str) -> Callable[[Record], bool]:
    return lambda agreement: agreement.finance.risk_share.model == model


CONDITIONS: tuple[Condition, ...] = (
    Condition("always", BODY, "always holds (the same as leaving `applies` out)", lambda a: True),
    Condition("any_pooled_fund", BODY, "some schedule is a pooled fund", _any_schedule(_arranged("pooled_fund"))),
    Condition("any_aligned_budget", BODY, "some schedule is an aligned budget", _any_schedule(_arranged("aligned_budget"))),
    Condition("any_lead_commissioning", BODY, "some schedule is lead commissioning",
              _any_schedule(_arranged("lead_commissioning"))),
    Condition("any_integrated_provision", BODY, "some schedule is integrated provision",
              _any_schedule(_arranged("integrated_provision"))),
    Condition("any_commissioning", BODY, "some schedule is lead commissioning, integrated provision or an aligned budget",
              _any_schedule(lambda s: any(a in _arrangements(s) for a in _COMMISSIONING))),
    Condition("any_s256", BODY, "some schedule is a section 256 payment", _any_schedule(lambda s: s.kind == "s256")),
    Condition("any_capital", BODY, "some schedule has a capital line", _any_schedule(lambda s: bool(s.capital_lines))),
    Condition("any_better_care_fund", BODY, "some schedule is the Better Care Fund",
              _any_schedule(lambda s: bool(s.get("better_care_fund")))),
    Condition("any_phased", BODY, "some schedule has phases", _any_schedule(lambda s: "phases" in s)),
    Condition("risk_own_overspend", BODY, "the risk share model is own_overspend", _risk("own_overspend")),
    Condition("risk_proportional", BODY, "the risk share model is proportional", _risk("proportional")),
    Condition("risk_joint_risk_pool", BODY, "the risk share model is joint_risk_pool", _risk("joint_risk_pool")),
    Condition("risk_cascade", BODY, "the risk share model is cascade", _risk("cascade")),
    Condition("has_extension", BODY, "the term may be extended", lambda a: "extension" in a.term),
    Condition("has_information_sharing", BODY, "the agreement has information_sharing",
              lambda a: "information_sharing" in a),
    Condition("backdated", BODY, "the agreement commences before it is made", lambda a: bool(backdated(a))),
    Condition("may_be_backdated", BODY,
              "`backdated`, or the agreement is undated and so may be signed after it commences",
              lambda a: bool(backdated(a)) or "agreement_date" not in a),
    Condition("has_succession", BODY, "a party `succeeds` another, or records the body it is `succeeded_by`",
              _has_succession),
    Condition("ccg_past_abolition", BODY, "the agreement names a CCG and may run past 30 June 2022", _ccg_past_abolition),
    Condition("any_succession", BODY, "`has_succession` or `ccg_past_abolition`",
              lambda a: _has_succession(a) or _ccg_past_abolition(a)),
    Condition("has_supersedes", BODY, "the agreement supersedes earlier agreements", lambda a: bool(a.get("supersedes"))),
    Condition("pooled_fund", SCHEDULE, "this schedule is a pooled fund", _arranged("pooled_fund")),
    Condition("aligned_budget", SCHEDULE, "this schedule is an aligned budget", _arranged("aligned_budget")),
    Condition("lead_commissioning", SCHEDULE, "this schedule is lead commissioning", _arranged("lead_commissioning")),
    Condition("integrated_provision", SCHEDULE, "this schedule is integrated provision",
              _arranged("integrated_provision")),
    Condition("better_care_fund", SCHEDULE, "this schedule is the Better Care Fund",
              lambda s: bool(s.get("better_care_fund", False))),
    Condition("phased", SCHEDULE, "this schedule has phases", lambda s: "phases" in s),
    Condition("has_lines", SCHEDULE, "this schedule has scheme lines", lambda s: bool(s.get("lines"))),
    Condition("has_capital", SCHEDULE, "this schedule has a capital line", lambda s: bool(s.capital_lines)),
    Condition("dfg_pass_through", SCHEDULE, "a line passes Disabled Facilities Grant to district councils",
              lambda s: any(line.get("pass_through_to") for line in s.get("lines", ()))),
    Condition("risk_override", SCHEDULE, "this schedule has its own risk_share", lambda s: "risk_share" in s),
    Condition("underspend_override", SCHEDULE, "this schedule has its own underspend rule", lambda s: "underspend" in s),
    Condition("has_governance_body", SCHEDULE, "this schedule names its governance body", lambda s: "body" in s),
    Condition("has_performance", SCHEDULE, "this schedule has performance measures", lambda s: bool(s.get("performance"))),
    Condition("has_sign_off", SCHEDULE, "this schedule is signed off by named officers", lambda s: bool(s.get("sign_off"))),
    Condition("mental_health_aftercare", SCHEDULE, "the scheme covers after-care under section 117 of the Mental Health Act 1983",
              lambda s: bool(s.get("mental_health_aftercare", False)), ("schedule.mental_health_aftercare",)),
)
CONDITION_NAMES = {c.name: c for c in CONDITIONS}


def conditions_held(scope: str, subject: Record) -> set[str]:
    """The names of the ``scope`` conditions that hold for ``subject`` (the agreement, or one schedule)."""
    return {"always"} | {c.name for c in CONDITIONS if c.scope == scope and c.holds(subject)}


def condition_name(written: str) -> str:
    """``not pooled_fund`` -> ``pooled_fund``."""
    return written[4:].strip() if written.startswith("not ") else written


def applies(written: tuple[str, ...], held: set[str]) -> bool:
    """Every condition written in ``applies`` (``not X`` negated) holds."""
    for condition in written:
        negated = condition.startswith("not ")
        if (condition_name(condition) in held) == negated:
            return False
    return True


# --- blocks (``::name``) ----------------------------------------------------------


@dataclass(frozen=True)
class Block:
    name: str
    where: str  # for the README: where a clause may use it
    needs: str  # the context value it reads ("schedule", "body") or "" for none
    meaning: str
    build: Callable[[dict, dict, Record], list]  # (template context, parties by key, agreement) -> tree blocks
    reads: tuple[str, ...] = ()  # the model values it reads, as a clause's needs: names them


DEFINITIONS_PLACEHOLDER = "DefinitionsPlaceholder"


def _definitions(_context, _parties, _agreement) -> list:
    # Filled in by the assembler once every clause is rendered and the terms used are known.
    return [tree.Para([], level=0, style=DEFINITIONS_PLACEHOLDER)]


NIL = "\u2013"  # en dash: a nil cell in a money table, as accounts print it
MONEY_BLANK = "[\u25cf]"  # an amount still to complete: the text's blank "[●: ...]", short enough for a cell


def money_cell(money) -> str:
    """A money table's cell: a blank while unknown (so is any total it feeds), an en dash for nothing, else the amount."""
    if money.is_tbc:
        return MONEY_BLANK
    if money.amount == 0:
        return NIL
    return format_money(money)


def contribution_tables(schedule: Record, parties: dict) -> list[tree.Block]:
    """Scheme lines by partner for each financial year, totals computed here."""
    names = [parties[p].short_name.removeprefix("the ") for p in schedule.partners]
    tables = []
    for year in schedule.money:
        rows = [[r.name, r.type.capitalize()] + [money_cell(r.amounts[p]) for p in schedule.partners] + [money_cell(r.total)]
                for r in year.rows]
        totals = set()
        has_both = any(r.type == "capital" for r in year.rows) and any(r.type == "revenue" for r in year.rows)
        if has_both:
            for label, kind in (("Total revenue", "revenue"), ("Total capital", "capital")):
                sums = [money_cell(total(r.amounts[p] for r in year.rows if r.type == kind)) for p in schedule.partners]
                rows.append([label, ""] + sums + [money_cell(year.revenue_total if kind == "revenue" else year.capital_total)])
                totals.add(len(rows) - 1)
        rows.append(["Total", ""] + [money_cell(year.partner_totals[p]) for p in schedule.partners] + [money_cell(year.total)])
        totals.add(len(rows) - 1)
        numeric = set(range(2, 3 + len(names)))
        tables.append(tree.Table(["Scheme line", "Type"] + names + ["Total"], rows, total_rows=totals,
                                 numeric_columns=numeric, caption=f"Contributions for the financial year {year.year}",
                                 fit_columns=frozenset(range(1, 3 + len(names)))))  # the scheme line takes the rest
    return tables


def partner_totals_table(schedule: Record, parties: dict) -> tree.Table:
    """Each partner's total for each year and, over more than one year, for the whole term."""
    names = [parties[p].short_name.removeprefix("the ") for p in schedule.partners]
    rows = [[y.year] + [money_cell(y.partner_totals[p]) for p in schedule.partners] + [money_cell(y.total)]
            for y in schedule.money]
    total_rows = set()
    if len(schedule.money) > 1:
        rows.append([f"{schedule.money[0].year} to {schedule.money[-1].year}"]
                    + [money_cell(total(y.partner_totals[p] for y in schedule.money)) for p in schedule.partners]
                    + [money_cell(schedule.grand_total)])
        total_rows.add(len(rows) - 1)
    return tree.Table(["Financial year"] + names + ["Total"], rows, total_rows=total_rows,
                      numeric_columns=set(range(1, 2 + len(names))),
                      fit_columns=frozenset(range(1, 2 + len(names))))


def _performance(context, _parties, _agreement) -> list:
    # A measure without a target, or with one still tbc, shows the marked blank a reader can see and a final build
    # refuses: a draft never prints "tbc" among its "[●]" blanks (review r6 B2-1).
    def target(m) -> str:
        text = str(m.get("target") or "").strip()
        return f"[{BLANK_MARK}: target]" if text.lower() in ("", "tbc") else text

    rows = [[m.measure, target(m)] for m in context["schedule"].get("performance", ())]
    return [tree.Table(["Measure", "Target"], rows)]


def _members(context, parties, _agreement) -> list:
    rows = [[m.role, parties[m.party].name if m.party in parties else m.party,
             "Voting" if m.voting else "Non-voting", m.get("deputy", "")] for m in context["body"].members]
    return [tree.Table(["Post", "Represents", "Status", "Deputy"], rows, optional_columns={3})]


def _signatures(context, _parties, _agreement) -> list:
    party = context["party"]
    officers = [(o.role, o.get("name", "")) for o in party.execution.signatories]
    return [tree.SignatureBlock(party.name, party.execution.method, officers)]


def _successor_signatures(context, _parties, _agreement) -> list:
    # The successor's signatories are not known while the agreement is drafted for its predecessor:
    # two lines (the usual number for an NHS body's deed) with name and post left to complete.
    successor = context["party"].succeeded_by
    return [tree.SignatureBlock(successor.name, "signatories", [("", ""), ("", "")])]


def _sign_off(context, parties, _agreement) -> list:
    schedule = context["schedule"]
    lines = []
    for officer in schedule.sign_off:
        party = parties[officer.party].name if officer.get("party") in parties else ""
        lines.append((f"{officer.role}, {party}" if party else officer.role, officer.get("name", "")))
    return [tree.SignatureBlock(f"Schedule {schedule.number}", "sign_off", lines)]


def _notices(_context, _parties, agreement) -> list:
    rows = [[p.name, p.address, p.get("notices_to", ""), p.get("email", "")] for p in agreement.parties]
    return [tree.Table(["Partner", "Address", "For the attention of", "Email"], rows, optional_columns={2, 3})]


BLOCKS: tuple[Block, ...] = (
    Block("definitions", "definitions clause", "", "the defined terms of every selected clause, alphabetical",
          _definitions),
    Block("contributions", "schedule", "schedule",
          "scheme lines by partner for each financial year, revenue and capital, with computed totals",
          lambda context, parties, _a: contribution_tables(context["schedule"], parties),
          ("schedule.lines", "schedule.money", "schedule.partners")),
    Block("partner-totals", "schedule", "schedule", "each partner's total contribution for each financial year",
          lambda context, parties, _a: [partner_totals_table(context["schedule"], parties)],
          ("schedule.lines", "schedule.money", "schedule.partners")),
    Block("performance", "schedule", "schedule", "the performance measures and targets", _performance,
          ("schedule.performance",)),
    Block("members", "per-body schedule", "body", "the body's members: post, party, voting, deputy", _members,
          ("body.members",)),
    Block("notices", "notices clause", "", "each party's address (and email) for notices", _notices,
          ("agreement.parties",)),
    Block("signatures", "per-party execution clause", "party", "the party's signature lines (seal or signatories)",
          _signatures, ("party.execution",)),
    Block("successor-signatures", "per-party execution clause", "party",
          "signature lines for the successor the party is `succeeded_by`, if it signs in the party's place",
          _successor_signatures, ("party.succeeded_by",)),
    Block("sign-off", "schedule", "schedule", "the schedule's sign-off lines, one per officer", _sign_off,
          ("schedule.sign_off",)),
)
BLOCK_NAMES = {b.name: b for b in BLOCKS}


# --- filters (``{{ value|name }}``) and functions (``{{ name(...) }}``) -----------


def _join(words, last: str) -> str:
    try:
        items = [str(w) for w in words]
    except TypeError:
        raise ClauseValueError(f"join needs a list, not {words!r}") from None
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {last} " + items[-1]


def _lower_first(text) -> str:
    """"The Council" -> "the Council", but "NHS England" stays as it is."""
    text = str(text)
    if text[1:2].isupper():
        return text
    return text[:1].lower() + text[1:]


def _post(text, article: str = "the"):
    """A post as typed, with or without "the": "the Council's Chief Executive" and "Council's Chief Executive"
    both print "the Council's Chief Executive" (or "its ...", or bare with ''). A list gives a list."""
    if isinstance(text, (list, tuple)):
        return [_post(t, article) for t in text]
    if not isinstance(text, str):
        raise ClauseValueError(f"|post needs a post such as 'Director of Finance', not {text!r}")
    bare = re.sub(r"^(the|The)\s+", "", text.strip())
    return f"{article} {bare}" if article else bare


def _sentence(text) -> str:
    """A YAML value used as a whole sentence: ends with a full stop, whatever was typed."""
    text = str(text).rstrip()
    return text if text.endswith((".", "!", "?")) else text + "."


def _date(value) -> str:
    try:
        return format_date(value)
    except (ValueError, TypeError):
        raise ClauseValueError(f"|date needs a date such as 2017-04-01, not {value!r}") from None


def _money(value) -> str:
    if isinstance(value, Money):
        return format_money(value)
    try:
        return format_money(Money.parse(value))
    except (ValueError, TypeError, ArithmeticError):
        raise ClauseValueError(f"|money needs an amount, not {value!r}") from None


def _party_field(parties: dict, key, name: str) -> str:
    if key not in parties:
        raise ClauseValueError(f"there is no party with key {key!r}")
    return parties[key][name]


@dataclass(frozen=True)
class Filter:
    name: str
    meaning: str
    function: Callable[..., Any]  # (value, *arguments) -> text; party filters also take the parties first
    reads_parties: bool = False


FILTERS: tuple[Filter, ...] = (
    Filter("date", "2017-04-01 -> 1 April 2017", _date),
    Filter("money", "-> £1,250,000", _money),
    Filter("join_and", "a list -> \"A, B and C\"", lambda words: _join(words, "and")),
    Filter("join_or", "a list -> \"A, B or C\"", lambda words: _join(words, "or")),
    Filter("party", "a party key -> its short name, e.g. \"the Council\"",
           lambda parties, key: _party_field(parties, key, "short_name"), reads_parties=True),
    Filter("party_name", "a party key -> its legal name",
           lambda parties, key: _party_field(parties, key, "name"), reads_parties=True),
    Filter("lower_first", "\"The Council\" -> \"the Council\" (\"NHS England\" stays)", _lower_first),
    Filter("post", "a post, typed with or without \"the\" -> \"the Director of Finance\"; `post('its')`, "
           "`post('')` for another article or none; a list gives a list", _post),
    Filter("sentence", "ends the value with a full stop if it has none", _sentence),
)


def _law_day(context):
    return law.as_date(context["agreement"].law_date)


@pass_context
def _law(context, topic: str, form: str = "name") -> str:
    """What answered ``topic`` on the agreement's date: its name, ``form='short'`` or ``form='cite'`` (with "the")."""
    row = law.in_force(topic, _law_day(context))
    if row is None:
        raise ClauseValueError(f"nothing answering '{topic}' in the law table was in force on {_law_day(context)}; "
                               f"guard the text with in_force('{topic}')")
    return {"short": row.short, "cite": row.cite}.get(form, row.name)


@pass_context
def _in_force(context, topic: str) -> bool:
    return law.in_force(topic, _law_day(context)) is not None


@pass_context
def _coming(context, topic: str) -> list[dict]:
    """Law of ``topic`` made by the agreement's date that starts during its term, oldest first: its name, its
    name with "the", and the day it starts, or "" where that day had not yet been fixed."""
    day = _law_day(context)
    rows = law.coming(topic, day, law.as_date(context["agreement"].end))
    return [{"name": r.name, "cite": r.cite, "short": r.short,
             "start": r.start.isoformat() if r.start_fixed is not None and r.start_fixed <= day else ""}
            for r in rows]


@dataclass(frozen=True)
class Function:
    name: str
    meaning: str
    function: Callable[..., Any]
    reads: tuple[str, ...] = ("agreement.law_date",)  # the model values it reads, as a clause's needs: names them


# The functions a clause may call: the law of the agreement's date (assembler/data/law.yaml).
FUNCTIONS: tuple[Function, ...] = (
    Function("law", "`law('topic')`: the name of what answered the topic in data/law.yaml on the agreement's date "
             "(`form='short'` or `form='cite'` for the short name or the name with \"the\")", _law),
    Function("in_force", "`in_force('topic')`: whether anything answering the topic was in force then", _in_force),
    Function("coming", "`coming('topic')`: the law of the topic already made on the agreement's date that starts "
             "during its term, each with `name`, `cite` and `start` (\"\" where the day was not yet fixed)", _coming,
             reads=("agreement.law_date", "agreement.end")),
)
FUNCTION_NAMES = {f.name: f for f in FUNCTIONS}


# --- the tables of clauses/README.md ----------------------------------------------


def readme_tables() -> dict[str, str]:
    """The language's tables as clauses/README.md shows them, by section name (scripts/update_docs.py writes them)."""
    return {
        "blocks": "\n".join(["| block | where | what |", "| --- | --- | --- |"]
                            + [f"| `::{b.name}` | {b.where} | {b.meaning} |" for b in BLOCKS]),
        "filters": "\n".join(["| filter | what |", "| --- | --- |"]
                             + [f"| `{f.name}` | {f.meaning} |" for f in FILTERS]),
        "functions": "\n".join(["| function | what |", "| --- | --- |"]
                               + [f"| `{f.name}` | {f.meaning} |" for f in FUNCTIONS]),
        "conditions": "\n".join(["| condition | scope | holds when |", "| --- | --- | --- |"]
                                + [f"| `{c.name}` | {c.scope} | {c.meaning} |" for c in CONDITIONS]),
    }
