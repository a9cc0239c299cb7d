"""Parts of one agreement that must agree with each other, one small rule each.

The schema checks each value and ``rules`` the statutory facts; these rules
catch a document that contradicts itself: money both pooled and aligned, a
pool manager sitting for the other partner, a body asked to act more often
than it meets, two decision rules for one body. A contradiction in a draft
is a warning (a final build refuses every warning); one the clauses could
not draft at all is an error. The phrases they look for are data
(``data/wording.yaml``).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import yaml

from assembler.check.requirements import pending_reason
from assembler.check.rules import _KEY_LIKE, Context, _at, _strings, rule
from assembler.diagnostics import WARNING
from assembler.model import JOINT, Money, agreement_end, contributed, line_spender, parse_date, payment_by_year, total
from assembler.resources import data_file


@lru_cache(maxsize=None)
def wording() -> dict:
    return yaml.safe_load(data_file("wording.yaml").read_text(encoding="utf-8"))


@lru_cache(maxsize=None)
def _phrase(phrase: str) -> re.Pattern:
    """A phrase as whole words: 'monthly' does not match inside 'bi-monthly'."""
    return re.compile(r"(?<![\w-])" + re.escape(phrase) + r"(?![\w-])", re.IGNORECASE)


@lru_cache(maxsize=64)
def any_of(phrases: tuple[str, ...]) -> re.Pattern:
    """One pattern that finds a text holding any of ``phrases`` (as _phrase finds each)."""
    return re.compile(r"(?<![\w-])(?:" + "|".join(re.escape(p) for p in phrases) + r")(?![\w-])", re.IGNORECASE)


def found(phrases, text: str) -> list[tuple[int, str]]:
    """(position, phrase) of each phrase in text, in text order."""
    phrases = tuple(phrases)
    if not any_of(phrases).search(text):
        return []  # most text holds none of them: one search, not one per phrase
    hits = [(m.start(), phrase) for phrase in phrases for m in _phrase(phrase).finditer(text)]
    return sorted(hits)


def strings(data: Any, path: tuple = ()) -> list[tuple[tuple, str]]:
    """Every text value under ``data`` (not its keys) with its path, in document order."""
    return [(where, text) for where, text, _ in _strings(data, path, keys=False)]


def _sentences(text: str) -> list[tuple[int, str]]:
    """(offset, sentence): a frequency and the body it belongs to are read within one sentence."""
    out, start = [], 0
    for match in re.finditer(r"[.;](\s+|$)", text):
        out.append((start, text[start:match.end()]))
        start = match.end()
    if start < len(text):
        out.append((start, text[start:]))
    return out


def _bodies(ctx: Context) -> dict[str, dict]:
    return {b["key"]: b for b in ctx.data["governance"]["bodies"]}


def _arrangements(doc) -> set[str]:
    return set(doc.data.get("arrangements", []))


def _schemes(ctx: Context):
    return [doc for doc in ctx.schedules if doc.data["kind"] == "scheme"]


# --- money: pooled or aligned -------------------------------------------------------


@rule
def pooled_or_aligned(ctx: Context):
    """Without phases each line's money is either paid into a pool or kept by each partner, not both."""
    for doc in _schemes(ctx):
        if not ({"pooled_fund", "aligned_budget"} <= _arrangements(doc)) or doc.data.get("phases"):
            continue
        lines = doc.data.get("lines", [])
        if not any("fund" in line for line in lines):
            yield _at(doc, ("arrangements",), "S75-POOLED-ALIGNED",
                      "the scheme lists both pooled_fund and aligned_budget, so the same contributions would be paid "
                      "into the pooled fund and also kept by each partner as an aligned budget",
                      "keep one of them, say of each line fund: pooled or fund: aligned, or add phases: saying "
                      "when the money is aligned and when it is pooled", level=WARNING, key=True)
            continue
        for i, line in enumerate(lines):
            if "fund" not in line:
                yield _at(doc, ("lines", i), "S75-UNALLOCATED",
                          f"the line '{line['name']}' is neither pooled nor aligned, in a scheme that has both a "
                          "pooled fund and aligned budgets", "add fund: pooled or fund: aligned to the line "
                          "(tbc while the partners decide)", level=WARNING, key=True)


@rule
def line_fund_matches_arrangements(ctx: Context):
    """A line said to be pooled needs a pooled fund in its scheme, and an aligned line needs aligned budgets."""
    needs = {"pooled": "pooled_fund", "aligned": "aligned_budget"}
    for doc in _schemes(ctx):
        for i, line in enumerate(doc.data.get("lines", [])):
            wanted = needs.get(line.get("fund"))
            if wanted and wanted not in _arrangements(doc):
                yield _at(doc, ("lines", i, "fund"), "S75-UNALLOCATED",
                          f"the line '{line['name']}' is {line['fund']}, but the scheme's arrangements do not "
                          f"include {wanted}", f"add {wanted} to arrangements:, or change the line's fund:",
                          level=WARNING)


@rule
def joint_lines_are_pooled(ctx: Context):
    """An overspend is shared in proportion only on pooled money (review r6 B3-1).

    A Non-Pooled Fund stays its holder's money, spent only by it, so its holder
    bears its overspend (non-pooled-funds #risk): a joint line whose money is
    aligned, or may yet be, would make one partner meet the other's overspend
    on a budget it can neither spend nor control.
    """
    for doc in _schemes(ctx):
        if "aligned_budget" not in _arrangements(doc):
            continue
        for i, line in enumerate(doc.data.get("lines", [])):
            if line.get("spent_by") != JOINT:
                continue
            fund = line.get("fund")
            if fund == "aligned" or "pooled_fund" not in _arrangements(doc):
                yield _at(doc, ("lines", i, "spent_by"), "S75-JOINT-ALIGNED",
                          f"the line '{line['name']}' is jointly commissioned, so its overspend would be shared in "
                          "proportion to contributions, but its money is an aligned budget, which each partner holds, "
                          "spends and bears the overspend on alone",
                          "name the partner that bears its overspend in spent_by:, or pool the line (fund: pooled)")
            elif fund != "pooled":
                yield _at(doc, ("lines", i, "spent_by"), "S75-JOINT-ALIGNED",
                          f"the line '{line['name']}' is jointly commissioned, but the scheme also has aligned "
                          "budgets and the line does not say it is pooled; the text shares its overspend in "
                          "proportion only while its money is pooled",
                          "say fund: pooled once the partners agree (or fund: aligned with spent_by: naming the "
                          "partner that bears its overspend)", level=WARNING)


@rule
def host_only_for_pooled_money(ctx: Context):
    """Reg 7(4): a host partner and a pool manager exist only for a pooled fund."""
    for doc in ctx.schedules:
        if "pooled_fund" in _arrangements(doc):
            continue
        management = doc.data.get("management", {})
        for field in ("host_partner", "pool_manager"):
            if field in management:
                yield _at(doc, ("management", field), "S75-HOST-POOLED",
                          f"{field} is given, but the schedule has no pooled fund: a host partner and a pool manager "
                          "manage pooled money only (regulation 7(4))",
                          f"remove management: {field}:, or add pooled_fund to arrangements:", key=True)


# --- risk share: one choice -------------------------------------------------------


def _models_described(text: str) -> set[str]:
    if "overspend" not in text.lower():
        return set()
    return {model for model, phrases in wording()["risk_share_phrases"].items() if found(phrases, text)}


@rule
def one_risk_share(ctx: Context):
    """The financial-governance schedule states the framework's risk share, not a second one."""
    framework = ctx.data["finance"]["risk_share"]
    model = framework["model"]
    for doc in ctx.schedules:
        if doc.data["kind"] != "financial_governance":
            continue
        own = doc.data.get("risk_share")
        if own is not None and own != framework:
            yield _at(doc, ("risk_share",), "S75-RISK-AGREE",
                      f"the financial governance schedule sets its own risk share ({own['model']}), but the "
                      f"agreement's risk-share clause is drafted from finance: risk_share: ({model})",
                      "state the risk share once, under finance: risk_share: in agreement.yaml", level=WARNING, key=True)
        for i, text in enumerate(doc.data.get("rules", [])):
            other = sorted(_models_described(text) - {model})
            if other:
                yield _at(doc, ("rules", i), "S75-RISK-AGREE",
                          f"this rule describes the {other[0]} risk share, but the agreement's risk-share clause "
                          f"says {model} (finance: risk_share: model)",
                          "make finance: risk_share: the one choice and leave the overspend rule out of the "
                          "schedule's own rules", level=WARNING)


@rule
def risk_override_differs(ctx: Context):
    """A scheme's own risk share that repeats the framework's only hides the rule in two places."""
    framework = ctx.data["finance"]["risk_share"]
    for doc in _schemes(ctx):
        if doc.data.get("risk_share") == framework:
            yield _at(doc, ("risk_share",), "S75-RISK-OVERRIDE",
                      f"the scheme's risk share is the same as the agreement's ({framework['model']}), so it "
                      "overrides nothing", "remove risk_share: from the schedule", level=WARNING, key=True)


# --- governance -------------------------------------------------------------------


def _same_post(a: str, b: str) -> bool:
    norm = lambda s: " ".join(re.sub(r"[^\w\s]", " ", s.casefold()).split())  # noqa: E731
    return norm(a) == norm(b)


@rule
def pool_manager_sits_for_the_host(ctx: Context):
    """The pool manager is the host's officer (reg 7(4)), so cannot represent another partner on a body."""
    parties = ctx.parties
    for doc in ctx.schedules:
        management = doc.data.get("management", {})
        manager, host = management.get("pool_manager", {}), management.get("host_partner")
        if not manager or host not in parties or pending_reason(manager["role"]):
            continue  # a post still tbc matches every other post still tbc
        for b, body in enumerate(ctx.data["governance"]["bodies"]):
            for m, member in enumerate(body["members"]):
                if _same_post(member["role"], manager["role"]) and member["party"] != host \
                        and member["party"] in parties:
                    yield _at(ctx.framework, ("governance", "bodies", b, "members", m, "party"),
                              "S75-POOL-MANAGER-SEAT",
                              f"the {manager['role']} is the pool manager of {doc.data['title']} and so an officer "
                              f"of {parties[host]['short_name']}, but sits on the {body['name']} for "
                              f"{parties[member['party']]['short_name']}",
                              f"set party: {host} for this member, or name another post as pool manager",
                              level=WARNING)


def _frequency_claims(text: str) -> list[tuple[int, int, str]]:
    """(position, times a year, phrase) for each frequency phrase in text."""
    claims = []
    for per_year, phrases in wording()["frequency_phrases"].items():
        claims += [(pos, int(per_year), phrase) for pos, phrase in found(phrases, text)]
    return sorted(claims)


def _named_body(sentence: str, position: int, bodies: dict[str, dict]) -> str | None:
    """The body whose name comes nearest before ``position`` in the sentence, else nearest after."""
    before, after = [], []
    for key, body in bodies.items():
        for match in re.finditer(re.escape(body["name"]), sentence, re.IGNORECASE):
            (before if match.end() <= position else after).append((match, key))
    if before:
        return max(before, key=lambda item: item[0].end())[1]
    if after:
        return min(after, key=lambda item: item[0].start())[1]
    return None


def _too_often(body: dict, per_year: int) -> bool:
    meets = wording()["body_frequency"].get(body.get("frequency"), 0)
    return bool(meets) and per_year > meets


@rule
def reports_go_to_a_body_the_agreement_has(ctx: Context):
    """A report sent to a group the agreement never constitutes has no one bound to receive it or act on it."""
    bodies = _bodies(ctx)
    known = {"partners", "nhs_england", *bodies, *(p["key"] for p in ctx.data["parties"])}
    for doc in ctx.schedules:
        monitoring = doc.data.get("management", {}).get("monitoring")
        for i, item in enumerate(monitoring if isinstance(monitoring, list) else []):
            if item["to"] not in known and not _KEY_LIKE.match(item["to"]):  # a mistyped key is S75-GOVREF's
                yield _at(doc, ("management", "monitoring", i, "to"), "S75-REPORT-TO",
                          f"a report goes to '{item['to']}', which is not a governance body or party of this agreement",
                          f"send it to a governance body ({', '.join(bodies) or 'none defined'}), partners, a "
                          "party's key or nhs_england; a working group that serves a body goes in through:, or "
                          "define the group under governance: bodies:", level=WARNING)


@rule
def bodies_meet_as_often_as_they_act(ctx: Context):
    """A body that receives monthly reports, or monitors monthly, meets at least monthly."""
    bodies = _bodies(ctx)
    frequencies = ", ".join(wording()["body_frequency"])
    for doc in ctx.schedules:
        monitoring = doc.data.get("management", {}).get("monitoring")
        for i, item in enumerate(monitoring if isinstance(monitoring, list) else []):
            body = bodies.get(item["to"])
            if body and _too_often(body, wording()["report_every"][item["every"]]):
                yield _at(doc, ("management", "monitoring", i, "every"), "S75-MEETS",
                          f"the {body['name']} is to receive a report every {item['every'].replace('_', ' ')}, but it "
                          f"meets {body['frequency']}", f"set the body's frequency: ({frequencies}) to match, or "
                          "report to it as often as it meets", level=WARNING)
        texts = [(("management", "monitoring"), monitoring)]
        texts += [(("duration", "review"), doc.data.get("duration", {}).get("review"))]
        for path, text in texts:
            if not isinstance(text, str):
                continue
            for offset, sentence in _sentences(text):
                for position, per_year, phrase in _frequency_claims(sentence):
                    key = _named_body(sentence, position, bodies) or doc.data.get("governance_body")
                    body = bodies.get(key)
                    if body and _too_often(body, per_year):
                        yield _at(doc, path, "S75-MEETS",
                                  f"the schedule has the {body['name']} act '{phrase}', but it meets "
                                  f"{body['frequency']}", f"set the body's frequency: ({frequencies}) to match, or "
                                  "report to it as often as it meets", level=WARNING)
    for b, body in enumerate(ctx.data["governance"]["bodies"]):
        for field in ("purpose", "responsibilities", "delegated_authority"):
            for path, text in strings(body.get(field), ("governance", "bodies", b, field)):
                for _, per_year, phrase in _frequency_claims(text):
                    if _too_often(body, per_year):
                        yield _at(ctx.framework, path, "S75-MEETS",
                                  f"the {body['name']} must act '{phrase}', but meets {body['frequency']}",
                                  "set the body's frequency: to match, or change what it must do", level=WARNING)
                        break


@rule
def delegation_is_granted(ctx: Context):
    """A schedule that relies on a body's delegated authority needs a body whose terms grant some."""
    bodies = _bodies(ctx)
    phrases = wording()["delegation_phrases"]
    anywhere = any_of(tuple(phrases))
    for doc in ctx.schedules:
        variation = doc.data.get("contributions", {}).get("variation")
        for field in ("agreed_by", "moves_between_lines_by"):
            key = variation.get(field) if isinstance(variation, dict) else None
            body = bodies.get(key)
            if body is not None and not body.get("delegated_authority"):
                yield _at(doc, ("contributions", "variation", field), "S75-DELEGATION",
                          f"the {body['name']} is to decide on contributions ({field}), but its terms of reference "
                          "delegate nothing to it",
                          f"list what it may decide under delegated_authority: for body '{key}' in agreement.yaml, "
                          "or leave the decision to the partners", level=WARNING)
        for path, text in ctx.texts(doc):
            if not anywhere.search(text):
                continue  # most text: none of the phrases, so no sentence of it has one
            for offset, sentence in _sentences(text):
                for position, phrase in found(phrases, sentence)[:1]:
                    key = _named_body(sentence, position, bodies) or doc.data.get("governance_body")
                    body = bodies.get(key)
                    if body is not None and not body.get("delegated_authority"):
                        yield _at(doc, path, "S75-DELEGATION",
                                  f"this relies on the {body['name']}'s delegated authority ('{phrase}'), but its "
                                  "terms of reference delegate nothing to it",
                                  f"list what it may decide under delegated_authority: for body '{key}' in "
                                  "agreement.yaml, or take the decision to the partners", level=WARNING)


@rule
def one_decision_rule(ctx: Context):
    """A body decides by one rule: its free text may not describe another."""
    conflicts = wording()["decision_conflicts"]
    for b, body in enumerate(ctx.data["governance"]["bodies"]):
        rule_name = body.get("decisions")
        for path, text in strings({k: v for k, v in body.items() if k != "members"}, ("governance", "bodies", b)):
            hits = found(conflicts.get(rule_name, ()), text)
            if hits:
                yield _at(ctx.framework, path, "S75-DECISION-RULE",
                          f"the {body['name']} decides by {rule_name} (decisions:), but this says '{hits[0][1]}'",
                          "describe one decision rule: change decisions:, or the words", level=WARNING)


# --- recitals and descriptions ------------------------------------------------------


@rule
def consultation_took_place(ctx: Context):
    """The consultation recital records reg 4 consultation; it cannot also say there was none."""
    consultation = ctx.data.get("regulation_4", {}).get("consultation", {})
    for path, text in strings(consultation, ("regulation_4", "consultation")):
        hits = found(wording()["no_consultation"], text)
        if hits:
            yield _at(ctx.framework, path, "S75-CONSULT-NONE",
                      f"the consultation record says '{hits[0][1]}', but regulation 4(2) requires joint consultation "
                      "before the arrangements are entered into",
                      "record who was consulted and when, or under existing: why earlier consultation covers these "
                      "arrangements", level=WARNING)


@rule
def children_have_childrens_functions(ctx: Context):
    """Persons who include children need a children's function of the council: Care Act 2014 functions are adults'."""
    for doc in _schemes(ctx):
        persons = doc.data.get("services", {}).get("persons", [])
        one_text = isinstance(persons, str)
        persons = [persons] if one_text else persons
        functions = doc.data.get("functions", {}).get("health_related", [])
        functions = [functions] if isinstance(functions, str) else functions
        hits = [found(wording()["children_persons"], text) for text in persons]
        first = next((i for i, h in enumerate(hits) if h), None)
        if first is None or not functions or any(found(wording()["children_functions"], f) for f in functions):
            continue
        yield _at(doc, ("services", "persons") if one_text else ("services", "persons", first), "S75-CHILDREN",
                  f"the persons include children ('{hits[first][0][1]}'), but no health-related function of the "
                  "council listed is a children's function (the Care Act 2014 covers adults only), so nothing "
                  "authorises the council's part of the scheme for them",
                  "add the children's functions under functions: health_related: (e.g. section 17 of the Children "
                  "Act 1989, section 2 of the Chronically Sick and Disabled Persons Act 1970), or limit the persons "
                  "to adults", level=WARNING)


@rule
def aligned_is_not_section_75(ctx: Context):
    """An aligned budget alone is not a section 75(2) arrangement; its text must not call it one."""
    statutory = {"pooled_fund", "lead_commissioning", "integrated_provision"}
    for doc in _schemes(ctx):
        if "aligned_budget" not in _arrangements(doc) or _arrangements(doc) & statutory:
            continue
        for path, text in ctx.texts(doc):
            hits = found(wording()["section_75"], text)
            if hits:
                yield _at(doc, path, "S75-ALIGNED-S75",
                          f"the scheme is an aligned budget only, which is not a partnership arrangement under "
                          f"section 75(2), but this calls it '{hits[0][1]}'",
                          "describe it as budgets each partner keeps and manages alongside the other's",
                          level=WARNING)


# --- schemes: measures, dates, notice, columns ------------------------------------------


@rule
def performance_has_targets(ctx: Context):
    for doc in _schemes(ctx):
        performance = doc.data.get("performance")
        if not performance:
            yield _at(doc, ("kind",), "S75-MEASURES",
                      f"the scheme '{doc.data['title']}' has no performance measures, so its success cannot be measured",
                      "add performance: with each measure and its target", level=WARNING, key=True)
            continue
        for i, item in enumerate(performance):
            target = item.get("target")
            if target is None or not str(target).strip():
                yield _at(doc, ("performance", i) + (("target",) if target is not None else ("measure",)),
                          "S75-TARGET", f"the measure '{item['measure']}' has no target; the table shows the "
                          "blank '[\u25cf: target]', which a final build refuses", "add target: (or tbc while drafting), or remove the measure", level=WARNING)


@rule
def bcf_runs_with_the_agreement(ctx: Context):
    end = agreement_end(ctx.data)
    for doc in _schemes(ctx):
        duration = doc.data.get("duration", {})
        if doc.data.get("better_care_fund") and "end" in duration and parse_date(duration["end"]) < end:
            yield _at(doc, ("duration", "end"), "S75-BCF-END",
                      f"the Better Care Fund scheme ends on {duration['end']}, before the agreement ({end.isoformat()}); "
                      "while the Better Care Fund conditions apply the NHS minimum contribution must stay pooled",
                      "run the scheme to the end of the agreement, or say how the pool continues (e.g. a new "
                      "Better Care Fund schedule from the day after)", level=WARNING)


@rule
def nhs_minimum_only_in_the_bcf(ctx: Context):
    """The NHS minimum is the Better Care Fund's: a promise to keep it means nothing in any other scheme."""
    for doc in _schemes(ctx):
        variation = (doc.data.get("contributions") or {}).get("variation")
        if isinstance(variation, dict) and variation.get("keep_nhs_minimum") and not doc.data.get("better_care_fund"):
            yield _at(doc, ("contributions", "variation", "keep_nhs_minimum"), "S75-NHS-MINIMUM",
                      "keep_nhs_minimum is set, but this schedule is not the Better Care Fund, which is the only "
                      "scheme with a Minimum NHS Contribution",
                      "add better_care_fund: true if this is the Better Care Fund scheme, or remove "
                      "keep_nhs_minimum")


@rule
def scheme_notice_within_agreement(ctx: Context):
    agreement_notice = ctx.data.get("termination", {}).get("notice_months")
    if agreement_notice is None:
        return
    for doc in ctx.schedules:
        months = doc.data.get("duration", {}).get("termination_notice_months")
        if months is not None and months > agreement_notice:
            yield _at(doc, ("duration", "termination_notice_months"), "S75-NOTICE",
                      f"a partner must give {months} months' notice to leave this scheme, but only {agreement_notice} "
                      "months' notice to end the whole agreement, which ends the scheme with it",
                      f"make termination: notice_months: in agreement.yaml at least {months}, or shorten the "
                      "scheme's notice", level=WARNING)


@rule
def one_partner_order(ctx: Context):
    """Partner columns come from each schedule's partners: list; they read the same way in every schedule."""
    order = [p["key"] for p in ctx.data["parties"]]
    for doc in ctx.schedules:
        partners = [key for key in doc.data["partners"] if key in order]
        wanted = sorted(partners, key=order.index)
        if partners != wanted:
            yield _at(doc, ("partners",), "S75-COLUMNS",
                      f"partners are listed as {', '.join(partners)}, but the parties in agreement.yaml come "
                      f"{', '.join(wanted)}; money tables would put the partner columns in a different order in "
                      "this schedule", f"list partners: in the parties' order: {', '.join(wanted)}",
                      level=WARNING, key=True)


# --- payments: the same money as the contributions ----------------------------------


@rule
def payments_match_contributions(ctx: Context):
    """A payment moves the payer's contribution to the partner that spends it; other figures contradict the lines.

    Money flows to the partner that spends each line (model.line_spender),
    so partner A pays partner B what A contributes to the lines B controls.
    """
    names = {p["key"]: p["short_name"] for p in ctx.data["parties"]}
    for doc in _schemes(ctx):
        lines = doc.data.get("lines", [])
        payments = doc.data.get("payments", [])
        controllers = [line_spender(line, doc.data) for line in lines]
        if not lines or not payments or not set(controllers) <= set(doc.data["partners"]):
            continue  # nothing to compare, or a controller still to say (None) or refused by rules
        seen = set()
        for i, payment in enumerate(payments):
            payer, payee = payment["from"], payment["to"]
            if (payer, payee) in seen or not {payer, payee} <= set(doc.data["partners"]):
                continue  # counted with the pair's first payment, or refused by rules (S75-PAYMENT)
            seen.add((payer, payee))
            who = f"{names.get(payer, payer)} pays {names.get(payee, payee)}"
            if set(controllers) == {payer}:
                yield _at(doc, ("payments", i), "S75-PAYMENT-DIRECTION",
                          f"{who}, but {names.get(payer, payer)} controls every line of the scheme and "
                          f"{names.get(payee, payee)} none: the money would flow away from the partner that spends it",
                          "swap from: and to: (the partner that does not spend pays the one that does), or set "
                          "spent_by: on the lines the payee spends", level=WARNING, key=True)
                continue
            owed = contributed(lines, controllers, payer, payee)
            paid: dict[str, list[Money]] = {}
            for other in payments:
                if (other["from"], other["to"]) == (payer, payee):
                    for year, amount in payment_by_year(other, owed).items():
                        paid.setdefault(year, []).append(amount)
            differ = [(year, total(paid.get(year, [])), owed.get(year, Money.parse(0)))
                      for year in sorted(set(owed) | set(paid))]
            differ = [(year, pay, due) for year, pay, due in differ
                      if not pay.is_tbc and not due.is_tbc and pay != due]
            if differ:
                years = "; ".join(f"{year}: pays {pay}, contributes {due}" for year, pay, due in differ)
                yield _at(doc, ("payments", i, "amount"), "S75-PAYMENT-CONTRIBUTION",
                          f"{who}, but the payments differ from {names.get(payer, payer)}'s contributions to the "
                          f"lines {names.get(payee, payee)} controls ({years}); the document would state two "
                          "different figures for the same money",
                          "make the payment each year equal the payer's contributions to the lines the payee "
                          "controls (amount: by year if they change), or correct the lines' contributions or "
                          "spent_by:", level=WARNING)
