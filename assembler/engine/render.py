"""Plan and render: which clauses apply, and their text as a tree of paragraphs.

Templates run in the sandbox of ``clauselib``; every value they print comes
back as literal Text. Markup written in the clause files ([[Term]], <<ref>>,
[__blank__]) becomes TermUse, Ref and Blank parts. Numbers are not known
here: ``number`` and ``xref`` fill them in afterwards.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from jinja2 import TemplateError, UndefinedError
from jinja2.exceptions import SecurityError

from assembler.engine import tree
from assembler.engine.library import (
    BLANK, BLOCK_LINE, MARKER_LINE, MARKERS, REF, SENTINEL, TERM, Clause, Library, ValueSlots,
)
from assembler.diagnostics import ERROR, Diagnostic
from assembler import law
from assembler.model import Record, add_years, backdated, format_date, format_money, total

DEFINITIONS_PLACEHOLDER = "definitions"


# --- conditions ------------------------------------------------------------------


def _arrangements(s) -> tuple:
    return tuple(s.get("arrangements", ()))


def body_conditions(agreement: Record) -> set[str]:
    """The body-scope conditions that hold for this agreement."""
    schedules = agreement.schedules
    held = {"always"}
    for arrangement in ("pooled_fund", "aligned_budget", "lead_commissioning", "integrated_provision"):
        if any(arrangement in _arrangements(s) for s in schedules):
            held.add(f"any_{arrangement}")
    if held & {"any_lead_commissioning", "any_integrated_provision", "any_aligned_budget"}:
        held.add("any_commissioning")
    if any(s.kind == "s256" for s in schedules):
        held.add("any_s256")
    if any(s.capital_lines for s in schedules):
        held.add("any_capital")
    if any(s.get("better_care_fund") for s in schedules):
        held.add("any_better_care_fund")
    if any("phases" in s for s in schedules):
        held.add("any_phased")
    held.add(f"risk_{agreement.finance.risk_share.model}")
    if "extension" in agreement.term:
        held.add("has_extension")
    if "information_sharing" in agreement:
        held.add("has_information_sharing")
    if backdated(agreement):
        held.add("backdated")
    if any("succeeds" in p for p in agreement.parties):
        held.add("has_succession")
    abolished = law.law_rows()["clinical-commissioning-groups"].until
    last_day = law.as_date(agreement.end)
    if "extension" in agreement.term:
        last_day = add_years(last_day, agreement.term.extension.years)
    if any(p.kind == "ccg" for p in agreement.parties) and last_day >= abolished:
        held.add("ccg_past_abolition")
    if held & {"has_succession", "ccg_past_abolition"}:
        held.add("any_succession")
    if agreement.get("supersedes"):
        held.add("has_supersedes")
    return held


def schedule_conditions(schedule: Record) -> set[str]:
    """The schedule-scope conditions that hold for one schedule."""
    held = {"always"} | set(_arrangements(schedule))
    checks = {
        "better_care_fund": schedule.get("better_care_fund", False),
        "phased": "phases" in schedule,
        "has_lines": bool(schedule.get("lines")),
        "has_capital": bool(schedule.capital_lines),
        "dfg_pass_through": any(l.get("pass_through_to") for l in schedule.get("lines", ())),
        "risk_override": "risk_share" in schedule,
        "underspend_override": "underspend" in schedule,
        "has_governance_body": "body" in schedule,
        "has_performance": bool(schedule.get("performance")),
        "has_sign_off": bool(schedule.get("sign_off")),
        "mental_health_aftercare": schedule.get("mental_health_aftercare", False),
    }
    return held | {name for name, holds in checks.items() if holds}


def applies(clause: Clause, held: set[str]) -> bool:
    for condition in clause.applies:
        negated = condition.startswith("not ")
        name = condition[4:].strip() if negated else condition
        if (name in held) == negated:
            return False
    return True


# --- rendering --------------------------------------------------------------------


@dataclass
class Renderer:
    """Renders clauses of one agreement; collects problems instead of stopping."""

    library: Library
    agreement: Record
    problems: list[Diagnostic] = field(default_factory=list)
    defined: dict = field(default_factory=dict)  # term -> (clause, definition source)

    def __post_init__(self):
        self.parties = dict(self.agreement.party_index)

    def _render_source(self, clause: Clause, source: str, context: dict) -> tuple[str, ValueSlots] | None:
        slots = ValueSlots()
        try:
            return self.library.templates.render(source, context, slots, self.parties), slots
        except UndefinedError as exc:
            self.problems.append(Diagnostic(clause.location(), ERROR, "S75-CLAUSE-DATA",
                                            f"clause '{clause.key}' reads a value the agreement does not have: {exc.message}",
                                            "add the value to the YAML, or guard the clause text with 'is defined'"))
        except SecurityError as exc:
            self.problems.append(Diagnostic(clause.location(), ERROR, "S75-CLAUSE-SANDBOX",
                                            f"clause '{clause.key}' tried something the sandbox forbids: {exc}"))
        except (TemplateError, TypeError, ValueError, KeyError, AttributeError, ArithmeticError, RecursionError) as exc:
            self.problems.append(Diagnostic(clause.location(), ERROR, "S75-CLAUSE",
                                            f"clause '{clause.key}' could not be rendered: {exc}"))
        return None

    def inline(self, text: str, slots: ValueSlots) -> list[tree.Inline]:
        """Markup in our own clause text -> parts; parked values -> literal Text."""
        if not _MAY_HOLD_MARKUP.search(text):
            return [tree.Text(text)] if text else []
        parts: list[tree.Inline] = []
        plain: list[str] = []  # neighbouring plain text, joined into one Text so the tree stays small

        def add(part: tree.Inline) -> None:
            if plain:
                joined = "".join(plain)
                if joined:
                    parts.append(tree.Text(joined))
                plain.clear()
            parts.append(part)

        position = 0
        for match in _INLINE.finditer(text):
            plain.append(text[position:match.start()])
            term, shown, schedule_ref, ref_key, sign, blank, slot = match.groups()
            if term is not None:
                add(tree.TermUse(term.strip(), (shown or term).strip()))
            elif ref_key is not None:
                add(tree.Ref(("schedule:" if schedule_ref else "") + ref_key))
            elif blank is not None:
                add(tree.Blank(blank.strip(), signing=bool(sign)))
            else:
                plain.append(slots.values[int(slot)])
            position = match.end()
        plain.append(text[position:])
        joined = "".join(plain)
        if joined:
            parts.append(tree.Text(joined))
        return parts

    def clause_blocks(self, clause: Clause, context: dict, key_prefix: str, level_one: bool = True,
                      heading: str | None = None) -> list[tree.Block]:
        """One clause: its heading paragraph (``heading``, if given, instead of the clause's), then its body."""
        rendered = self._render_source(clause, clause.body, context)
        if rendered is None:
            return []
        text, slots = rendered
        for term, source in clause.defines:
            self.defined.setdefault(term, (clause, source))
        blocks: list[tree.Block] = []
        if level_one:
            blocks.append(tree.Para([], level=1, key=key_prefix + clause.key, heading=heading or clause.heading))
        current: tree.Para | None = None
        lines: list[str] = []  # the current paragraph's text, one entry per source line
        seen_level_two = False

        def finish() -> None:
            """Parse the paragraph's text once, when all its lines are in."""
            if current is not None:
                current.parts = self.inline(" ".join(lines), slots)

        for raw_line in text.split("\n"):
            line = raw_line.rstrip()
            if not line.strip() or line.lstrip().startswith("#"):
                if not line.strip():
                    finish()
                    current = None
                continue
            block = BLOCK_LINE.match(line)
            if block:
                finish()
                blocks.extend(self.block(block.group(1), context, clause))
                current = None
                continue
            marker = MARKER_LINE.match(line)
            if marker and not line.startswith(" "):
                finish()
                symbol, anchor, rest = marker.groups()
                seen_level_two = seen_level_two or MARKERS[symbol] == 2
                if MARKERS[symbol] == 3 and not seen_level_two:
                    self.problems.append(Diagnostic(clause.location(), ERROR, "S75-CLAUSE",
                                                    f"clause '{clause.key}': a '--' paragraph needs a '-' paragraph above it",
                                                    "Word would number it 1.0.1; start the clause with '-'"))
                key = f"{key_prefix}{clause.key}.{anchor}" if anchor else ""
                current = tree.Para([], level=MARKERS[symbol], key=key)
                lines = [rest]
                blocks.append(current)
            elif current is not None:
                lines.append(line.strip())
            else:
                self.problems.append(Diagnostic(clause.location(), ERROR, "S75-CLAUSE",
                                                f"clause '{clause.key}': text outside a paragraph: {line.strip()[:60]!r}",
                                                "start each paragraph with a marker: - -- --- ---- or ="))
        finish()
        return blocks

    # --- blocks built by the engine ---

    def block(self, name: str, context: dict, clause: Clause) -> list[tree.Block]:
        schedule = context.get("schedule")
        if name == DEFINITIONS_PLACEHOLDER:
            return [tree.Para([], level=0, style="DefinitionsPlaceholder")]
        if name == "contributions" and schedule is not None:
            return contribution_tables(schedule, self.parties)
        if name == "partner-totals" and schedule is not None:
            return [partner_totals_table(schedule, self.parties)]
        if name == "performance" and schedule is not None:
            rows = [[m.measure, m.get("target", "")] for m in schedule.get("performance", ())]
            return [tree.Table(["Measure", "Target"], rows)]
        if name == "members" and "body" in context:
            body = context["body"]
            rows = [[m.role, self.parties[m.party].name if m.party in self.parties else m.party,
                     "Voting" if m.voting else "Non-voting", m.get("deputy", "")] for m in body.members]
            return [tree.Table(["Post", "Represents", "Status", "Deputy"], rows, optional_columns={3})]
        if name == "signatures" and "party" in context:
            party = context["party"]
            officers = [(o.role, o.get("name", "")) for o in party.execution.signatories]
            return [tree.SignatureBlock(party.name, party.execution.method, officers)]
        if name == "sign-off" and schedule is not None:
            lines = []
            for officer in schedule.sign_off:
                party = self.parties[officer.party].name if officer.get("party") in self.parties else ""
                lines.append((f"{officer.role}, {party}" if party else officer.role, officer.get("name", "")))
            return [tree.SignatureBlock(f"Schedule {schedule.number}", "sign_off", lines)]
        if name == "notices":
            rows = [[p.name, p.address, p.get("notices_to", ""), p.get("email", "")] for p in self.agreement.parties]
            return [tree.Table(["Partner", "Address", "For the attention of", "Email"], rows, optional_columns={2, 3})]
        self.problems.append(Diagnostic(clause.location(), ERROR, "S75-CLAUSE",
                                        f"clause '{clause.key}' uses block ::{name}, which is not available here"))
        return []

    def definitions(self, used: set[str]) -> list[tree.Para]:
        """The definitions, alphabetical, each term bold and in quotes."""
        paras = []
        for term in sorted((t for t in self.defined if t in used), key=str.lower):
            clause, source = self.defined[term]
            rendered = self._render_source(clause, source, {"agreement": self.agreement})
            if rendered is None:
                continue
            text, slots = rendered
            parts = [tree.Text("“"), tree.Text(term, bold=True), tree.Text("” means ")]
            paras.append(tree.Para(parts + self.inline(text.strip(), slots), level=0, style="Definition"))
        return paras


_INLINE = re.compile(f"{TERM.pattern}|{REF.pattern}|{BLANK.pattern}|{SENTINEL.pattern}")
_MAY_HOLD_MARKUP = re.compile("[\\[<\ue000]")  # every inline markup starts with one of these


NIL = "\u2013"  # en dash: a nil cell in a money table, as accounts print it


def money_cell(money) -> str:
    """A money table's cell: TBC while unknown, an en dash for nothing, else the amount."""
    if not money.is_tbc and money.amount == 0:
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


__all__ = ["Renderer", "applies", "body_conditions", "schedule_conditions", "format_date"]
