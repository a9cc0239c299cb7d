"""The agreement model: schema-valid YAML data made read-only, with exact money,
schema defaults filled in, and the values the clauses need computed once.

Records give attribute access (``agreement.finance.risk_share.model``) and
raise ``AttributeError`` for anything absent, so a clause that reads a value
the agreement does not have fails loudly instead of printing a blank.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Context, Decimal, Inexact, InvalidOperation, Overflow, Rounded, localcontext
from functools import lru_cache
from typing import Any

import yaml

from assembler import law
from assembler.resources import data_file



@lru_cache(maxsize=None)
def party_kinds() -> dict[str, dict]:
    """The kinds of party (data/party-kinds.yaml): side, the words a name of that kind ends with, labels."""
    return yaml.safe_load(data_file("party-kinds.yaml").read_text(encoding="utf-8"))["kinds"]


NHS_KINDS = frozenset(k for k, row in party_kinds().items() if row["side"] == "nhs")
COUNCIL_KINDS = frozenset(k for k, row in party_kinds().items() if row["side"] == "council")


def kind_label(kind: str, day) -> str:
    """How the recitals describe a body of ``kind`` on ``day``: the label of the law then in force."""
    labels = party_kinds()[kind]["labels"]
    for label in labels:
        if "law" not in label or law.in_force(label["law"], law.as_date(day)) is not None:
            return label["text"]
    return labels[-1]["text"]


# --- money ----------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Money:
    """An exact amount in pounds, or ``tbc`` (amount is None)."""

    amount: Decimal | None

    @classmethod
    def parse(cls, value: Any) -> "Money":
        """From a YAML integer or decimal string; floats never reach here (schema)."""
        if value == "tbc" or value is None:
            return cls(None)
        if isinstance(value, bool) or isinstance(value, float):
            raise TypeError(f"money must be exact, not {value!r}")
        return cls(Decimal(str(value)))

    @property
    def is_tbc(self) -> bool:
        return self.amount is None

    def __add__(self, other: "Money") -> "Money":
        if self.is_tbc or other.is_tbc:
            return Money(None)
        return Money(EXACT.add(self.amount, other.amount))  # as + in localcontext(EXACT), without the copy of it

    def __str__(self) -> str:
        return format_money(self)


ZERO = Money(Decimal(0))
# Sums are exact or fail loudly, never rounded: Decimal's default keeps 28
# digits, which a 29-digit total would silently lose. The schema caps an
# amount at fifteen digits of pounds, so 60 digits holds any total of them.
EXACT = Context(prec=60, traps=[Inexact, Rounded, InvalidOperation, Overflow])


def total(amounts: Iterable[Money]) -> Money:
    result = ZERO
    for amount in amounts:
        result = result + amount
    return result


def format_money(money: Money) -> str:
    """£1,250,000 for whole pounds, £1,250,000.50 with pence, TBC when unknown."""
    if money.is_tbc:
        return "TBC"
    amount = money.amount
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    if amount == amount.to_integral_value():
        return f"{sign}£{int(amount):,}"
    with localcontext(EXACT):
        return f"{sign}£{amount.quantize(Decimal('0.01')):,}"


# --- dates ----------------------------------------------------------------


def parse_date(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def format_date(value: Any) -> str:
    """2017-04-01 -> 1 April 2017 (the style of English legal documents)."""
    day = value if isinstance(value, dt.date) else parse_date(str(value))
    return f"{day.day} {day.strftime('%B')} {day.year}"


def add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def year_bounds(financial_year: str) -> tuple[dt.date, dt.date]:
    """"2017-18" -> (1 April 2017, 31 March 2018)."""
    first = int(financial_year[:4])
    return dt.date(first, 4, 1), dt.date(first + 1, 3, 31)


def financial_year_ok(financial_year: str) -> bool:
    first, second = int(financial_year[:4]), int(financial_year[5:7])
    return (first + 1) % 100 == second


# --- records --------------------------------------------------------------


class Record(Mapping):
    """A read-only mapping with attribute access, for templates and rules.

    Absent keys raise AttributeError/KeyError so Jinja's ``is defined`` works
    and StrictUndefined catches a clause reading a value that is not there.
    """

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any]):
        object.__setattr__(self, "_data", dict(data))

    def __getattr__(self, name: str) -> Any:
        try:
            return self._data[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name, value):
        raise AttributeError("records are read-only")

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"Record({self._data!r})"


def freeze(value: Any) -> Any:
    """Plain YAML data -> Records and tuples, recursively (iteratively deep enough for YAML).

    A Record is returned as it is: it holds frozen values already, and
    copying it again (a schedule is frozen, then the agreement holding it,
    then the lists that name it) only made copies of copies.
    """
    if isinstance(value, (str, int, Decimal)) or value is None:
        return value  # most values
    # Then YAML's mappings and lists, before the checks against Record and Mapping: as abstract classes they cost
    # a call into Python for every value they are not.
    if isinstance(value, dict):
        return Record({k: freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple([freeze(v) for v in value])
    if isinstance(value, Record):
        return value
    if isinstance(value, Mapping):
        return Record({k: freeze(v) for k, v in value.items()})
    return value


def with_defaults(data: Any, schema: Mapping, resolve) -> Any:
    """Fill in the ``default`` of every absent property that the schema gives one."""
    schema = resolve(schema)
    if isinstance(data, dict):
        props = schema.get("properties", {})
        out = dict(data)
        for key, sub in props.items():
            sub_resolved = resolve(sub)
            if key in out:
                out[key] = with_defaults(out[key], sub_resolved, resolve)
            elif "default" in sub_resolved:
                out[key] = sub_resolved["default"]
            elif sub_resolved.get("type") == "object" and not sub_resolved.get("required"):
                # An optional object whose fields all have defaults (e.g. termination).
                filled = with_defaults({}, sub_resolved, resolve)
                if filled:
                    out[key] = filled
        return out
    if isinstance(data, list):
        items = schema.get("items", {})
        return [with_defaults(v, items, resolve) for v in data]
    return data


# --- the agreement with its computed values -------------------------------

# Values the model adds to the YAML data, by record; the clause library test
# checks every name a clause reads against the schemas plus these.
COMPUTED = {
    "agreement": ("end", "law_date", "backdated", "nhs_parties", "council_parties", "schedules", "scheme_schedules",
                  "pooled_schedules", "party_index"),
    "party": ("is_nhs", "is_council", "kind_label"),
    "schedule": ("number", "partner_parties", "host", "lead", "on_behalf_of", "provider", "provided_for", "controllers",
                 "start", "end", "years", "commissioner_lines",
                 "effective_risk_share", "effective_underspend", "body", "capital_lines", "money",
                 "grand_total"),
    "money year": ("year", "rows", "partner_totals", "revenue_total", "capital_total", "total"),
    "money row": ("name", "type", "amounts", "total"),
    "Money": ("amount", "is_tbc"),
    "payment": ("by_year", "flat", "is_contribution"),
    "payment year": ("year", "amount"),
    "commissioner line": ("name", "party", "route", "own_share"),
}


def _party(data: Mapping, day: str) -> Record:
    kind = data["kind"]
    return freeze({
        **data,
        "is_nhs": kind in NHS_KINDS,
        "is_council": kind in COUNCIL_KINDS,
        "kind_label": kind_label(kind, day),
    })


def agreement_end(framework: Mapping) -> dt.date:
    """The last day of the initial term: the end date, or commencement plus the years."""
    term = framework["term"]
    if "end" in term:
        return parse_date(term["end"])
    return add_years(parse_date(framework["commencement"]), term["initial_years"]) - dt.timedelta(days=1)


def law_date(framework: Mapping) -> str:
    """The date whose law the agreement speaks: its own date (or its commencement if undated), or the
    latest succession it records, if later, since its text then speaks as of that change."""
    days = [str(framework.get("agreement_date", framework["commencement"]))]
    days += [str(p["succeeds"]["date"]) for p in framework["parties"] if "succeeds" in p]
    return max(days)


def made_date(framework: Mapping) -> str | None:
    """When the agreement is made: its date, or if undated the last approval (it cannot be signed before)."""
    if "agreement_date" in framework:
        return str(framework["agreement_date"])
    approvals = [str(a["date"]) for a in framework.get("approvals", ()) if "date" in a]
    return max(approvals) if approvals else None


def backdated(framework: Mapping) -> bool:
    """The agreement commences before it is made, so it takes effect retrospectively."""
    made = made_date(framework)
    return made is not None and str(framework["commencement"]) < made


def schedule_years(data: Mapping) -> list[str]:
    years = {year for line in data.get("lines", []) for year in line.get("contributions", {})}
    return sorted(years)


def money_table(data: Mapping, partners: list[str]) -> tuple[Record, ...]:
    """Per financial year: each line's contribution by partner, and the computed totals."""
    tables = []
    lines = data.get("lines", [])
    for year in schedule_years(data):
        rows = []
        for line in lines:
            by_partner = line.get("contributions", {}).get(year)
            if by_partner is None:
                continue
            amounts = {p: Money.parse(by_partner[p]) if p in by_partner else ZERO for p in partners}
            rows.append(Record({
                "name": line["name"], "type": line["type"], "amounts": Record(amounts),
                "total": total(amounts.values()),
            }))
        partner_totals = Record({p: total(r.amounts[p] for r in rows) for p in partners})
        tables.append(Record({
            "year": year,
            "rows": tuple(rows),
            "partner_totals": partner_totals,
            "revenue_total": total(r.total for r in rows if r.type == "revenue"),
            "capital_total": total(r.total for r in rows if r.type == "capital"),
            "total": total(r.total for r in rows),
        }))
    return tuple(tables)


JOINT = "joint"  # spent_by: the partners that fund a line commission it together and share its risk


def line_payers(line: Mapping) -> set[str]:
    """The partners that put money (or a sum still tbc) into a line in some year."""
    return {p for amounts in line.get("contributions", {}).values() if isinstance(amounts, Mapping)
            for p, amount in amounts.items() if str(amount) not in ("0", "0.0", "0.00")}


def _commissioned_by(line: Mapping, data: Mapping) -> str | None:
    """Who commissions or provides a line for the others: the line's lead, the scheme's lead commissioner or provider."""
    for key in (line.get("lead"), (data.get("lead_commissioning") or {}).get("lead"),
                (data.get("integrated_provision") or {}).get("provider")):
        if key not in (None, "tbc"):
            return key
    return None


def line_spender(line: Mapping, data: Mapping) -> str | None:
    """The partner that spends a line's money, so the one the others pay: named, the lead or provider, or the
    only contributor; None if the schedule must say.

    This is where money flows, not who bears an overspend (line_risk): a lead
    commissioner spends the money the other partner pays it for the line.
    """
    spent_by = line.get("spent_by")
    if spent_by == "tbc":  # the partners have still to say: never guessed from who pays
        return None
    if spent_by not in (None, JOINT):
        return spent_by
    commissioner = _commissioned_by(line, data)
    if commissioner is not None:
        return commissioner
    payers = line_payers(line)
    return payers.pop() if len(payers) == 1 else None


def line_risk(line: Mapping, data: Mapping) -> str | None:
    """Who bears an overspend on a line where risk follows control: a partner's key, JOINT, or None if the
    schedule must say.

    A partner does not take on another's overspend merely because it commissions
    or provides a line for the other from the other's money (seed 000 para 11.3;
    review round 4, Westshire Sch 3): unless spent_by: names who bears it, a line
    one partner funds is that partner's, and a line several partners fund that is
    commissioned or provided for them all is JOINT, shared in proportion to their
    contributions to it. Otherwise a jointly funded line is never shared by guess.
    """
    spent_by = line.get("spent_by")
    if spent_by == "tbc":
        return None
    if spent_by is not None:
        return spent_by
    payers = line_payers(line)
    if len(payers) == 1:
        return payers.pop()
    return JOINT if payers and _commissioned_by(line, data) is not None else None


def payment_by_year(payment: dict, years) -> dict[str, Money]:
    """A payment's amount in each year: one flat sum for every year, or a sum given for each year."""
    amount = payment["amount"]
    if isinstance(amount, dict):
        return {str(year): Money.parse(value) for year, value in amount.items()}
    return {year: Money.parse(amount) for year in years}


def contributed(lines, controllers, payer: str, payee: str) -> dict[str, Money]:
    """Per year, what the payer puts into the lines the payee controls: the money a payment moves."""
    years: dict[str, list[Money]] = {}
    for line, controller in zip(lines, controllers):
        for year, amounts in (line.get("contributions") or {}).items():
            if isinstance(amounts, dict):
                share = amounts.get(payer, 0) if controller == payee else 0
                years.setdefault(str(year), []).append(Money.parse(share))
    return {year: total(amounts) for year, amounts in years.items()}


def _payments(data: Mapping, controllers: list) -> tuple[Record, ...]:
    """Each payment with its amount by year, and whether it is exactly the payer's contribution to the payee's lines."""
    lines, years = data.get("lines", []), schedule_years(data)
    out = []
    for payment in data.get("payments", []):
        by_year = payment_by_year(payment, years)
        owed = contributed(lines, controllers, payment["from"], payment["to"])
        alone = sum(1 for p in data["payments"] if (p["from"], p["to"]) == (payment["from"], payment["to"])) == 1
        same = alone and bool(lines) and None not in controllers and set(owed) == set(by_year) and \
            all(not by_year[y].is_tbc and by_year[y] == owed[y] for y in by_year)
        out.append({**payment, "by_year": tuple(Record({"year": y, "amount": a}) for y, a in sorted(by_year.items())),
                    "flat": not isinstance(payment["amount"], Mapping), "is_contribution": same})
    return tuple(out)


def _commissioner_lines(data: Mapping, parties: Mapping[str, Record]) -> tuple[Record, ...]:
    """Pooled lines commissioned by a partner other than the host, each with how its money moves (its `route`):
    held (the commissioner keeps its own contribution and pays its providers, as pool spending), reimbursed (the
    pool manager repays it) or paid (the pool manager pays its providers). Unless the schedule chooses, an NHS
    commissioner holds its own: its contracts are paid through its own ledger, not the council's. A jointly
    commissioned line is different: its overspend is shared across the whole line, which is coherent only if its
    money is pooled, so a partner holds its own share of one only where the schedule chooses a route (review r7 B,
    Portsmouth 2022)."""
    host = (data.get("management") or {}).get("host_partner")
    if "pooled_fund" not in data.get("arrangements", ()) or host not in parties:
        return ()
    chosen = (data.get("management") or {}).get("commissioner_lines")
    routes = {"held_by_commissioner": "held", "reimbursed": "reimbursed", "paid_by_pool_manager": "paid"}
    found = []
    for line in data.get("lines", []):
        if line.get("fund") == "aligned":
            continue
        # Only a commissioner the line names: who merely paid for a line does not show who pays its providers.
        # A joint line names who lets its contracts by its `lead`; without one, and only where the schedule
        # chooses a route, each contributor other than the host lets contracts for its own share.
        spender = line.get("spent_by")
        if spender == JOINT and not line.get("lead"):
            for party in sorted(line_payers(line)):
                if chosen and party != host and party in parties:
                    found.append(Record({"name": line["name"], "party": party, "route": routes[chosen],
                                         "own_share": True}))
            continue
        party = line.get("lead") if spender == JOINT else (spender or line.get("lead"))
        if party in (None, host) or party not in parties:
            continue
        route = routes[chosen] if chosen else ("held" if parties[party]["is_nhs"] else "paid")
        found.append(Record({"name": line["name"], "party": party, "route": route, "own_share": False}))
    return tuple(found)


def _schedule(data: Mapping, number: int, framework: Mapping, parties: Mapping[str, Record]) -> Record:
    partners = [p for p in data["partners"]]
    partner_parties = tuple(parties[p] for p in partners if p in parties)
    management = data.get("management", {})
    lead_data = data.get("lead_commissioning")
    computed: dict[str, Any] = {
        "number": str(number),
        "partner_parties": partner_parties,
        "start": data.get("duration", {}).get("start", framework["commencement"]),
        "end": data.get("duration", {}).get("end", agreement_end(framework).isoformat()),
        "years": tuple(schedule_years(data)),
        "effective_risk_share": data.get("risk_share", framework["finance"]["risk_share"]),
        "effective_underspend": data.get("underspend", framework["finance"]["underspend"]),
        "capital_lines": tuple(l for l in data.get("lines", []) if l["type"] == "capital"),
        "controllers": tuple(Record({"name": l["name"], "party": line_risk(l, data), "fund": l.get("fund")})
                            for l in data.get("lines", [])),
        "money": money_table(data, partners),
    }
    computed["grand_total"] = total(t.total for t in computed["money"])
    computed["commissioner_lines"] = _commissioner_lines(data, parties)
    if "payments" in data:
        computed["payments"] = _payments(data, [line_spender(l, data) for l in data.get("lines", [])])
    if management.get("host_partner") in parties:
        computed["host"] = parties[management["host_partner"]]
    if lead_data is not None:
        lead = lead_data["lead"]
        computed["lead"] = parties.get(lead, lead)
        behalf = lead_data.get("on_behalf_of") or [p for p in partners if p != lead]
        computed["on_behalf_of"] = tuple(parties[p] for p in behalf if p in parties)
    provision = data.get("integrated_provision")
    if provision is not None and "provider" in provision:
        provider = provision["provider"]
        computed["provider"] = parties.get(provider, provider)
        behalf = provision.get("on_behalf_of") or [p for p in partners if p != provider]
        computed["provided_for"] = tuple(parties[p] for p in behalf if p in parties)
    bodies = {b["key"]: b for b in framework["governance"]["bodies"]}
    if data.get("governance_body") in bodies:
        computed["body"] = bodies[data["governance_body"]]
    return freeze({**data, **computed})


def schedule_order(schedules: list[Mapping]) -> list[Mapping]:
    return sorted(schedules, key=lambda s: (s.get("order", 100), s["key"]))


def build_agreement(framework: Mapping, schedules: list[Mapping]) -> Record:
    """The whole agreement as one Record; schedules numbered in their final order."""
    parties = {p["key"]: _party(p, law_date(framework)) for p in framework["parties"]}
    ordered = schedule_order(schedules)
    built = tuple(_schedule(s, i, framework, parties) for i, s in enumerate(ordered, start=1))
    return freeze({
        **framework,
        "parties": tuple(parties[p["key"]] for p in framework["parties"]),
        "end": agreement_end(framework).isoformat(),
        "law_date": law_date(framework),
        "backdated": backdated(framework),
        "nhs_parties": tuple(p for p in parties.values() if p.is_nhs),
        "council_parties": tuple(p for p in parties.values() if p.is_council),
        "schedules": built,
        "scheme_schedules": tuple(s for s in built if s.kind == "scheme"),
        "pooled_schedules": tuple(s for s in built if "pooled_fund" in s.get("arrangements", ())),
        "party_index": Record(parties),
    })
