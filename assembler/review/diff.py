"""Two assembled agreements -> what changed, as plain data.

Clauses are matched by their stable key and schedules by theirs, never by
number, so inserting a clause reports one clause added and the later ones
renumbered ("moved"), not every clause changed. Inside a matched clause,
paragraphs are aligned in order and compared word by word. Money is
compared from the agreement models, per schedule, financial year, scheme
line and partner, with old, new and difference. Parties are matched by
their key when the agreements are given, so a renamed party is one party
changed, not one removed and another added.

Cross-references are compared by what they point at, not by the number they
print, so a clause is not "changed" only because a clause it cites moved.

:func:`align` and :func:`units` are shared with the redline and the deed of
variation.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Callable, Sequence, TypeVar

from assembler.engine.assemble import party_title
from assembler.engine import tree
from assembler.model import Money, format_money
from assembler.engine.text import inline_text

T = TypeVar("T")
SIMILAR = 0.5  # paragraphs at least this alike are "changed", not "removed and added"
_TOKEN = re.compile(r"\s+|£?\d[\d,]*(?:\.\d+)?|\w+(?:['\u2019]\w+)*|[^\w\s]")


# --- pieces of a document ---------------------------------------------------------


@dataclass
class Unit:
    """One clause (a level 1 paragraph and what follows it) or a section's opening blocks."""

    key: str
    heading: str
    number: str
    blocks: list[tree.Block]
    head: tree.Para | None = None


def units(section: tree.Section) -> list[Unit]:
    """Split a section at its level 1 paragraphs."""
    found: list[Unit] = []
    current = Unit("", "", "", [])
    for block in section.blocks:
        if isinstance(block, tree.Para) and block.level == 1 and section.kind != "recitals":
            if current.blocks or current.key:
                found.append(current)
            current = Unit(block.key or f"#{block.heading}", block.heading, block.number.rstrip("."), [block], block)
        else:
            current.blocks.append(block)
    if current.blocks or current.key:
        found.append(current)
    return found


def section_key(section: tree.Section) -> str:
    return section.key or f"{section.kind}:{section.title}"


def short_key(key: str) -> str:
    """A clause key without its schedule prefix: 'pool/scheme-contributions' -> 'scheme-contributions'."""
    return key.rsplit("/", 1)[-1]


def para_text(para: tree.Para, refs_by_key: bool = False) -> str:
    """A paragraph's words; with ``refs_by_key`` a reference reads as its target's key."""
    if refs_by_key:
        parts = [tree.Text(f"<<{p.key}>>") if isinstance(p, tree.Ref) else p for p in para.parts]
    else:
        parts = para.parts
    text = inline_text(parts)
    return f"{para.heading} {text}".strip() if para.heading and para.level != 1 else (text or para.heading)


def table_lines(table: tree.Table) -> list[str]:
    return [" | ".join(table.columns)] + [" | ".join(row) for row in table.rows]


def block_text(block: tree.Block, refs_by_key: bool = False) -> str:
    if isinstance(block, tree.Para):
        return para_text(block, refs_by_key)
    if isinstance(block, tree.Table):
        return "\n".join(([block.caption] if block.caption else []) + table_lines(block))
    if isinstance(block, tree.SignatureBlock):
        return "\n".join([block.party_name, block.intro] + [f"{r}: {n}" for r, n in block.lines])
    return repr(block)


def block_identity(block: tree.Block, refs_by_key: bool = False) -> str:
    """What must be equal for two blocks to count as the same, unchanged block."""
    if isinstance(block, tree.Para):
        return f"P{block.level}|{block.style}|{block.heading}|{para_text(block, refs_by_key)}"
    if isinstance(block, tree.Table):
        return f"T|{block_text(block)}|{sorted(block.total_rows)}|{sorted(block.numeric_columns)}"
    return f"S|{block_text(block)}"


def same_kind(a: tree.Block, b: tree.Block) -> bool:
    if isinstance(a, tree.Para) and isinstance(b, tree.Para):
        return a.level == b.level or (a.key and a.key == b.key)
    if isinstance(a, tree.Table) and isinstance(b, tree.Table):
        return a.columns == b.columns or a.caption == b.caption
    if isinstance(a, tree.SignatureBlock) and isinstance(b, tree.SignatureBlock):
        return a.party_name == b.party_name
    return False


def similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, _TOKEN.findall(a), _TOKEN.findall(b), autojunk=False).ratio()


# --- alignment -------------------------------------------------------------------------


def align(old: Sequence[T], new: Sequence[T], key: Callable[[T], str],
          pairable: Callable[[T, T], bool] | None = None) -> list[tuple[str, T | None, T | None]]:
    """Old and new items merged in order: ("equal" | "changed" | "deleted" | "inserted", old, new).

    Items with equal keys in the longest common subsequence are "equal";
    inside a replaced stretch, ``pairable`` items are matched in order as
    "changed" and the rest are deleted (old first) or inserted.
    """
    ops: list[tuple[str, T | None, T | None]] = []
    matcher = difflib.SequenceMatcher(None, [key(x) for x in old], [key(x) for x in new], autojunk=False)
    for tag, a, b, c, d in matcher.get_opcodes():
        if tag == "equal":
            ops += [("equal", old[a + i], new[c + i]) for i in range(b - a)]
            continue
        olds, news = list(old[a:b]), list(new[c:d])
        if pairable is None:
            ops += [("deleted", x, None) for x in olds] + [("inserted", None, y) for y in news]
            continue
        j = 0
        for x in olds:
            match = next((k for k in range(j, len(news)) if pairable(x, news[k])), None)
            if match is None:
                ops.append(("deleted", x, None))
                continue
            ops += [("inserted", None, y) for y in news[j:match]]
            ops.append(("changed", x, news[match]))
            j = match + 1
        ops += [("inserted", None, y) for y in news[j:]]
    return ops


def blocks_pairable(refs_by_key: bool) -> Callable[[tree.Block, tree.Block], bool]:
    def pairable(a: tree.Block, b: tree.Block) -> bool:
        if not same_kind(a, b):
            return False
        if isinstance(a, tree.Para) and a.key and a.key == b.key:
            return True
        if isinstance(a, tree.Table):
            return a.columns == b.columns or a.caption == b.caption
        if isinstance(a, tree.SignatureBlock):
            return True
        return similarity(block_text(a, refs_by_key), block_text(b, refs_by_key)) >= SIMILAR
    return pairable


def align_blocks(old: Sequence[tree.Block], new: Sequence[tree.Block], refs_by_key: bool):
    return align(old, new, lambda b: block_identity(b, refs_by_key), blocks_pairable(refs_by_key))


def align_units(old: Sequence[Unit], new: Sequence[Unit]):
    """Units in order; a key in both but out of order comes out deleted and inserted."""
    return align(old, new, lambda u: u.key)


def align_sections(old: Sequence[tree.Section], new: Sequence[tree.Section]):
    return align(old, new, section_key)


# --- word-level differences -------------------------------------------------------------


@dataclass(frozen=True)
class Words:
    """One stretch of a word diff: equal text, or old text replaced by new."""

    op: str  # "equal" | "replace" | "delete" | "insert"
    old: str
    new: str


def _matcher_ops(a: Sequence[str], b: Sequence[str]):
    return difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()


def grouped_ops(a: Sequence, b: Sequence, spacing: Callable[[object], bool] = lambda t: str(t).isspace()):
    """Opcodes in which changed words separated only by spaces are one change.

    "NHS Portsmouth Clinical Commissioning Group" -> "NHS Hampshire and Isle
    of Wight Integrated Care Board" is one replacement, not four word swaps
    interleaved with the spaces between them.
    """
    ops = _matcher_ops(a, b)
    out: list[list] = []
    for n, (tag, i, j, k, m) in enumerate(ops):
        if out and out[-1][0] != "equal" and tag != "equal":
            out[-1] = ["replace", out[-1][1], j, out[-1][3], m]
            continue
        if tag == "equal" and out and out[-1][0] != "equal" and n + 1 < len(ops) \
                and all(spacing(t) for t in a[i:j]):
            _, _, j2, _, m2 = ops[n + 1]
            start_a, start_b = out[-1][1], out[-1][3]
            if not all(spacing(t) for t in a[start_a:j2]) and not all(spacing(t) for t in b[start_b:m2]):
                out[-1] = ["replace", start_a, j, start_b, m]
                continue
        out.append([tag, i, j, k, m])
    return [tuple(op) for op in out]


def word_diff(old: str, new: str) -> tuple[Words, ...]:
    a, b = _TOKEN.findall(old), _TOKEN.findall(new)
    out = []
    for tag, i, j, k, m in grouped_ops(a, b):
        out.append(Words(tag, "".join(a[i:j]), "".join(b[k:m])))
    return tuple(out)


def marked(words: Sequence[Words]) -> str:
    """git --word-diff style: [-old-]{+new+}."""
    out = []
    for w in words:
        if w.op == "equal":
            out.append(w.new)
        else:
            out.append((f"[-{w.old}-]" if w.old else "") + (f"{{+{w.new}+}}" if w.new else ""))
    return "".join(out)


# --- the changes --------------------------------------------------------------------------


@dataclass(frozen=True)
class BlockChange:
    kind: str  # "added" | "removed" | "changed"
    old_number: str
    new_number: str
    old_text: str
    new_text: str
    words: tuple[Words, ...] = ()


@dataclass(frozen=True)
class ClauseChange:
    kind: str  # "added" | "removed" | "moved" | "changed"
    section: str  # "body", "recitals", "execution" or a schedule key
    key: str
    heading: str
    old_number: str
    new_number: str
    old_schedule: str = ""  # the schedule's number, for clauses of a schedule
    new_schedule: str = ""
    moved: bool = False  # renumbered (also set on a "changed" clause)
    blocks: tuple[BlockChange, ...] = ()
    schedule_title: str = ""  # the schedule's title, for clauses of a schedule


@dataclass(frozen=True)
class ScheduleChange:
    kind: str  # "added" | "removed" | "renumbered"
    key: str
    title: str
    old_number: str
    new_number: str


@dataclass(frozen=True)
class MoneyChange:
    """One contribution that differs. ``old``, ``new`` and ``difference`` are for
    reading ("£1,240,000", "TBC", "+£60,000"); the ``*_amount`` fields are the
    same values exactly, as decimal strings in pounds ("1240000", "60000",
    "-1250.50"), None where the value is tbc or absent."""

    schedule: str  # the schedule's key
    year: str
    line: str  # a scheme line's name, or "Total" for the partner's total for the year
    partner: str
    old: str | None  # None: no such line (or partner) before
    new: str | None
    difference: str | None  # None when either side is tbc
    old_amount: str | None = None  # None when tbc or absent
    new_amount: str | None = None
    difference_amount: str | None = None  # new minus old, an absent side counting as 0; None when either is tbc
    schedule_number: str = ""  # in the new version (the old one if the schedule was removed)
    schedule_title: str = ""


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: str
    new: str
    key: str = ""  # for a party: its key, when the agreements were compared


@dataclass(frozen=True)
class Diff:
    old: str
    new: str
    fields: tuple[FieldChange, ...] = ()
    schedules: tuple[ScheduleChange, ...] = ()
    clauses: tuple[ClauseChange, ...] = ()
    money: tuple[MoneyChange, ...] = ()
    totals: tuple[MoneyTotal, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.fields or self.schedules or self.clauses or self.money)

    def as_dict(self) -> dict:
        """As ``format_json`` writes it."""
        return asdict(self)


def _block_number(block: tree.Block) -> str:
    return block.full_number if isinstance(block, tree.Para) else ""


def _block_changes(old: Unit | None, new: Unit | None) -> tuple[BlockChange, ...]:
    out = []
    for op, a, b in align_blocks(old.blocks if old else [], new.blocks if new else [], refs_by_key=True):
        if op == "equal":
            continue
        if op == "deleted":
            out.append(BlockChange("removed", _block_number(a), "", block_text(a), ""))
        elif op == "inserted":
            out.append(BlockChange("added", "", _block_number(b), "", block_text(b)))
        elif block_identity(a, True) != block_identity(b, True):
            old_text, new_text = block_text(a), block_text(b)
            words = table_words(a, b) if isinstance(a, tree.Table) and isinstance(b, tree.Table) \
                else word_diff(old_text, new_text)
            out.append(BlockChange("changed", _block_number(a), _block_number(b), old_text, new_text, words))
    return tuple(out)


def same_row(old: Sequence[str], new: Sequence[str]) -> bool:
    """Two table rows to compare cell by cell: the same first cell, or mostly the same words
    (a party's row after its name changed)."""
    if old[:1] == new[:1]:
        return True
    if len(old) != len(new) or not old:
        return False
    shared = set(re.findall(r"\w{3,}", old[0])) & set(re.findall(r"\w{3,}", new[0]))
    return bool(shared) and similarity(" | ".join(old[1:]), " | ".join(new[1:])) >= SIMILAR


def table_words(old: tree.Table, new: tree.Table) -> tuple[Words, ...]:
    """A table compared row by row (rows matched by their words, then by first cell): only the
    rows that changed, one line each."""
    out: list[Words] = []

    def line(words) -> None:
        if out:
            out.append(Words("equal", "\n", "\n"))
        out.extend(words)

    if old.columns != new.columns:
        line(word_diff(" | ".join(old.columns), " | ".join(new.columns)))
    for op, a, b in align(old.rows, new.rows, lambda r: "\x1f".join(r), same_row):
        if op == "changed":
            line(word_diff(" | ".join(a), " | ".join(b)))
        elif op == "deleted":
            line([Words("delete", " | ".join(a), "")])
        elif op == "inserted":
            line([Words("insert", "", " | ".join(b))])
    return tuple(out)


def _unit_kind(section: tree.Section) -> str:
    return section.key if section.kind == "schedule" else section.kind


def _clause_changes(old: tree.Section | None, new: tree.Section | None) -> list[ClauseChange]:
    section = new or old
    where = _unit_kind(section)
    old_units = units(old) if old else []
    new_units = units(new) if new else []
    old_by_key = {u.key: u for u in old_units}
    new_by_key = {u.key: u for u in new_units}
    old_sched = old.number if old is not None and old.kind == "schedule" else ""
    new_sched = new.number if new is not None and new.kind == "schedule" else ""
    title = section.title if section.kind == "schedule" else ""
    changes = []
    for unit in new_units:
        before = old_by_key.get(unit.key)
        if before is None:
            changes.append(ClauseChange("added", where, short_key(unit.key), unit.heading, "", unit.number,
                                        old_sched, new_sched, blocks=_block_changes(None, unit),
                                        schedule_title=title))
            continue
        moved = before.number != unit.number
        blocks = _block_changes(before, unit)
        if blocks:
            changes.append(ClauseChange("changed", where, short_key(unit.key), unit.heading, before.number,
                                        unit.number, old_sched, new_sched, moved, blocks, title))
        elif moved:
            changes.append(ClauseChange("moved", where, short_key(unit.key), unit.heading, before.number,
                                        unit.number, old_sched, new_sched, True, schedule_title=title))
    for unit in old_units:
        if unit.key not in new_by_key:
            changes.append(ClauseChange("removed", where, short_key(unit.key), unit.heading, unit.number, "",
                                        old_sched, new_sched, blocks=_block_changes(unit, None),
                                        schedule_title=title))
    return changes


def _amount(money: Money | None) -> Decimal | None:
    return None if money is None or money.is_tbc else money.amount


def exact(amount: Decimal | None) -> str | None:
    """An amount in pounds as a plain decimal string: "1240000", "1240000.50", "-60000"."""
    if amount is None:
        return None
    if amount == amount.to_integral_value():
        return str(int(amount))
    return format(amount.quantize(Decimal("0.01")), "f")  # the schema allows pence, never less


def _schedule_names(*agreements) -> dict[str, tuple[str, str]]:
    """Schedule key -> (number, title), the later agreement's winning."""
    names: dict[str, tuple[str, str]] = {}
    for agreement in agreements:
        for schedule in agreement.schedules if agreement is not None else ():
            names[schedule.key] = (str(schedule.number), schedule.title)
    return names


def _money_table(agreement, rekey: dict[str, str]) -> tuple[dict, dict]:
    """{(schedule, year, line, partner): Money} (each partner's total as line "\uffffTotal"), and names."""
    found: dict[tuple[str, str, str, str], Money] = {}
    names: dict[str, str] = {}
    if agreement is None:
        return found, names
    for party in agreement.parties:
        names[rekey.get(party.key, party.key)] = party.short_name.removeprefix("the ")
    for schedule in agreement.schedules:
        for year in schedule.get("money", ()):
            for row in year.rows:
                for partner, amount in row.amounts.items():
                    found[(schedule.key, year.year, row.name, rekey.get(partner, partner))] = amount
            for partner, amount in year.partner_totals.items():
                found[(schedule.key, year.year, "\uffffTotal", rekey.get(partner, partner))] = amount
    return found, names


def _difference(a: Money | None, b: Money | None) -> tuple[str | None, Decimal | None]:
    if (a is not None and a.is_tbc) or (b is not None and b.is_tbc):
        return None, None
    change = (_amount(b) or Decimal(0)) - (_amount(a) or Decimal(0))
    text = format_money(Money(change))
    return (text if text.startswith("-") else "+" + text), change


def money_changes(old_agreement, new_agreement) -> list[MoneyChange]:
    """Every scheme line and partner whose contribution for a year differs, and partner totals.

    Partners are matched by key, an old party succeeded by a new one (a CCG
    by its ICB) counting as the new one; schedules come in the new order.
    """
    rekey = successions(old_agreement, new_agreement)
    old, old_names = _money_table(old_agreement, rekey)
    new, new_names = _money_table(new_agreement, {})
    names = {**old_names, **new_names}
    schedules = _schedule_names(old_agreement, new_agreement)

    def order(k):
        number = schedules.get(k[0], ("0", ""))[0]
        return (int(number) if number.isdigit() else 0, k[0], k[1], k[2], k[3])

    changes = []
    for k in sorted(set(old) | set(new), key=order):
        a, b = old.get(k), new.get(k)
        if a == b or (a is None and b is not None and _amount(b) == 0) or (b is None and a is not None and _amount(a) == 0):
            continue
        difference, change = _difference(a, b)
        schedule, year, line, partner = k
        number, title = schedules.get(schedule, ("", schedule))
        changes.append(MoneyChange(schedule, year, line.replace("\uffff", ""), names.get(partner, partner),
                                   format_money(a) if a is not None else None,
                                   format_money(b) if b is not None else None, difference,
                                   exact(_amount(a)), exact(_amount(b)), exact(change), number, title))
    return changes


@dataclass(frozen=True)
class MoneyTotal:
    """A total across all schedules: one partner's for a year, all partners' for a year
    (``partner`` ""), or the whole agreement's (``year`` ""). ``previous`` compares a year
    that is new with the year before it in the new version ("+£60,000 (+5.0%) on 2017-18")."""

    year: str
    partner: str
    old: str | None
    new: str | None
    difference: str | None
    old_amount: str | None = None
    new_amount: str | None = None
    previous: str = ""


def _percent(change: Decimal, base: Decimal) -> str:
    if not base:
        return ""
    value = (change * 100 / base).quantize(Decimal("0.1"))
    return f" ({'+' if value >= 0 else ''}{value}%)"


def money_totals(old_agreement, new_agreement) -> list[MoneyTotal]:
    """Totals per partner and year, per year and for the whole agreement, where they differ."""
    rekey = successions(old_agreement, new_agreement)
    old, names = _money_table(old_agreement, rekey)
    new, new_names = _money_table(new_agreement, {})
    names.update(new_names)

    def sums(table) -> dict[tuple[str, str], Money]:
        out: dict[tuple[str, str], Money] = {}
        for (_, year, line, partner), money in table.items():
            if line != "\uffffTotal":
                continue
            for key in ((year, partner), (year, ""), ("", "")):
                before = out.get(key)
                if money.is_tbc or (before is not None and before.is_tbc):
                    out[key] = Money(None)  # a total with a tbc part is tbc
                else:
                    out[key] = Money((before.amount if before is not None else Decimal(0)) + money.amount)
        return out

    a, b = sums(old), sums(new)
    old_years = {y for y, _ in a if y}
    years = sorted({y for y, _ in b if y})
    out = []
    keys = sorted(set(a) | set(b), key=lambda k: (k[0] == "", k[0], k[1] == "", names.get(k[1], k[1])))
    for key in keys:
        x, y = a.get(key), b.get(key)
        if x == y:
            continue
        year, partner = key
        difference, _ = _difference(x, y)
        previous = ""
        if year and year not in old_years and y is not None and not y.is_tbc:
            earlier = [p for p in years if p < year]
            before = b.get((earlier[-1], partner)) if earlier else None
            if before is not None and not before.is_tbc:
                change = y.amount - before.amount
                text = format_money(Money(change))
                previous = f"{text if text.startswith('-') else '+' + text}{_percent(change, before.amount)} on {earlier[-1]}"
        out.append(MoneyTotal(year, names.get(partner, partner) if partner else "", format_money(x) if x else None,
                              format_money(y) if y else None, difference, exact(_amount(x)), exact(_amount(y)),
                              previous))
    return out


def successions(old_agreement, new_agreement) -> dict[str, str]:
    """Old party key -> new key, for a party that another succeeded under a new key
    (a CCG replaced by its ICB).

    A new party's recorded ``succeeds: {name, ...}`` names the party it
    replaced, when the agreement gives it; otherwise one party gone and one
    come, of the same type (NHS body or council), are taken as the one succeeding the
    other. (Hook for issue 11: ``succeeds`` is read when parties have it.)
    """
    if old_agreement is None or new_agreement is None:
        return {}
    old = {p.key: p for p in old_agreement.parties}
    new = {p.key: p for p in new_agreement.parties}
    gone = [p for k, p in old.items() if k not in new]
    come = [p for k, p in new.items() if k not in old]
    found: dict[str, str] = {}
    for party in come:
        recorded = party.get("succeeds") if hasattr(party, "get") else None
        if recorded:
            name = recorded.get("name") if hasattr(recorded, "get") else recorded
            match = [p for p in gone if p.name == name or p.key == name]
            if len(match) == 1:
                found[match[0].key] = party.key
    for party in come:
        if party.key in found.values():
            continue
        same = [p for p in gone if _body_type(p) == _body_type(party) and p.key not in found]
        others = [p for p in come if _body_type(p) == _body_type(party) and p.key not in found.values()]
        if len(same) == 1 and len(others) == 1:
            found[same[0].key] = party.key
    return found


def _body_type(party) -> tuple:
    """NHS body or council: a CCG's successor is an ICB, of another kind but the same type."""
    return (party.is_nhs, party.is_council)


def matched_parties(old: tree.Document, new: tree.Document, old_agreement=None, new_agreement=None):
    """(old parties, new parties, keyed): each version's parties by key when both agreements give
    the keys, so a renamed party is the same party; otherwise by name (``keyed`` False). An old
    party succeeded by a new one under a new key is listed under the new key."""
    def by_key(document, agreement, rekey):
        parties = list(agreement.parties) if agreement is not None else None
        if parties is None or [party_title(p) for p in parties] != [p.name for p in document.parties]:
            return None
        return {rekey.get(party.key, party.key): line for party, line in zip(parties, document.parties)}

    succession = successions(old_agreement, new_agreement)
    old_parties, new_parties = by_key(old, old_agreement, succession), by_key(new, new_agreement, {})
    if old_parties is None or new_parties is None:
        return {p.name: p for p in old.parties}, {p.name: p for p in new.parties}, False
    return old_parties, new_parties, True


def _fields(old: tree.Document, new: tree.Document, old_agreement=None, new_agreement=None) -> list[FieldChange]:
    out = []
    for name in ("title", "version", "status", "date"):
        a, b = getattr(old, name), getattr(new, name)
        if a != b:
            out.append(FieldChange(name, a, b))
    old_parties, new_parties, keyed = matched_parties(old, new, old_agreement, new_agreement)
    order = list(new_parties) + [k for k in old_parties if k not in new_parties]
    for key in order if keyed else sorted(order):
        a, b = old_parties.get(key), new_parties.get(key)
        if a != b:
            show = lambda p: f"{p.name} of {p.address} ({p.short_name})" if p else ""  # noqa: E731
            out.append(FieldChange("party", show(a), show(b), key if keyed else ""))
    return out


def diff_documents(old: tree.Document, new: tree.Document, old_agreement=None, new_agreement=None,
                   old_name: str = "old", new_name: str = "new") -> Diff:
    """Everything that differs between two numbered documents (and their agreements' money)."""
    schedules: list[ScheduleChange] = []
    clauses: list[ClauseChange] = []
    old_by_key = {section_key(s): s for s in old.sections}
    new_by_key = {section_key(s): s for s in new.sections}
    for section in new.sections:
        before = old_by_key.get(section_key(section))
        if before is None:
            if section.kind in ("schedule", "annex"):
                schedules.append(ScheduleChange("added", section.key, section.title, "", section.number))
            else:
                clauses += _clause_changes(None, section)
            continue
        if section.kind == "schedule" and before.number != section.number:
            schedules.append(ScheduleChange("renumbered", section.key, section.title, before.number, section.number))
        clauses += _clause_changes(before, section)
    for section in old.sections:
        if section_key(section) not in new_by_key:
            if section.kind in ("schedule", "annex"):
                schedules.append(ScheduleChange("removed", section.key, section.title, section.number, ""))
            else:
                clauses += _clause_changes(section, None)
    given = old_agreement is not None or new_agreement is not None
    money = money_changes(old_agreement, new_agreement) if given else []
    totals = money_totals(old_agreement, new_agreement) if given and old_agreement is not None \
        and new_agreement is not None else []
    fields = _fields(old, new, old_agreement, new_agreement)
    return Diff(old_name, new_name, tuple(fields), tuple(schedules), tuple(clauses), tuple(money), tuple(totals))


# --- output --------------------------------------------------------------------------------


def _where(change: ClauseChange, number: str, schedule: str) -> str:
    if change.section == "body":
        return f"clause {number}" if number else "clause"
    if change.section == "recitals":
        return "recitals"
    if change.section == "execution":
        return "execution"
    named = f"Schedule {schedule} ({change.schedule_title})" if schedule else change.schedule_title
    return f"paragraph {number} of {named}" if number else named


def format_text(diff: Diff) -> str:
    """A reviewer's summary: one heading line per change, word changes below."""
    lines = [f"--- {diff.old}", f"+++ {diff.new}"]
    if diff.empty:
        lines.append("no changes")
        return "\n".join(lines) + "\n"
    for f in diff.fields:
        name = f"{f.field} [{f.key}]" if f.key else f.field
        lines.append(f"~ {name}: {f.old or '(none)'} -> {f.new or '(none)'}")
    for s in diff.schedules:
        if s.kind == "added":
            lines.append(f"+ Schedule {s.new_number} ({s.title}): added")
        elif s.kind == "removed":
            lines.append(f"- Schedule {s.old_number} ({s.title}): removed")
        else:
            lines.append(f"> Schedule {s.old_number} \u2192 {s.new_number} ({s.title}): renumbered")
    for c in diff.clauses:
        old_at, new_at = _where(c, c.old_number, c.old_schedule), _where(c, c.new_number, c.new_schedule)
        name = c.heading
        if c.kind == "added":
            lines.append(f"+ {new_at} {name}: added".replace("  ", " "))
        elif c.kind == "removed":
            lines.append(f"- {old_at} {name}: removed")
        elif c.kind == "moved":
            lines.append(f"> {old_at} \u2192 {new_at} {name}: renumbered")
        else:
            place = f"{old_at} \u2192 {new_at}" if old_at != new_at else new_at
            lines.append(f"~ {place} {name}".rstrip() + ": changed" + (" and renumbered" if c.moved else ""))
        if c.kind in ("changed",):
            for b in c.blocks:
                label = b.new_number or b.old_number
                if b.old_number and b.new_number and b.old_number != b.new_number:
                    label = f"{b.old_number} \u2192 {b.new_number}"  # a paragraph that moved
                prefix = f"    {label} " if label else "    "
                if b.kind == "added":
                    lines.append(f"{prefix}{{+{b.new_text}+}}".replace("\n", "\n      "))
                elif b.kind == "removed":
                    lines.append(f"{prefix}[-{b.old_text}-]".replace("\n", "\n      "))
                else:
                    lines.append(f"{prefix}{marked(b.words)}".replace("\n", "\n      "))
    if diff.money:
        lines.append("money (old \u2192 new, difference):")
        shown = [(f"Schedule {m.schedule_number} ({m.schedule_title})" if m.schedule_number else m.schedule,
                  f"{m.year} {m.line} / {m.partner}", m) for m in diff.money]
        width = max(len(what) for _, what, _ in shown)
        heading = None
        for schedule, what, m in shown:
            if schedule != heading:
                lines.append(f"  {schedule}")
                heading = schedule
            lines.append(f"    {what.ljust(width)}  {m.old or '-':>14} \u2192 {m.new or '-':>14}  {m.difference or 'n/a':>14}")
    if diff.totals:
        lines.append("totals, all schedules (old \u2192 new, difference):")
        shown = [(f"{t.year} {t.partner or 'all partners'}" if t.year else "whole agreement", t) for t in diff.totals]
        width = max(len(what) for what, _ in shown)
        for what, t in shown:
            line = f"  {what.ljust(width)}  {t.old or '-':>14} \u2192 {t.new or '-':>14}  {t.difference or 'n/a':>14}"
            lines.append(line + (f"  ({t.previous})" if t.previous else ""))
    return "\n".join(lines) + "\n"


def format_json(diff: Diff) -> str:
    """The diff as JSON: ``old``, ``new``, ``fields``, ``schedules``, ``clauses``, ``money``.

    A party in ``fields`` is {"field": "party", "old", "new", "key"}: "old"
    and "new" read "NAME of ADDRESS (SHORT NAME)", "" when the party is
    added or removed; "key" is the party's key ("" when the parties were
    matched by name because the agreements were not given). A renamed party
    keeps its key and is one entry.

    ``money`` entries are {"schedule" (its key), "schedule_number", "schedule_title", "year", "line", "partner", "old",
    "new", "difference"}, formatted for reading ("£1,240,000", "TBC",
    "+£60,000"; null where absent, "difference" null when either side is
    TBC), and the exact values as decimal strings in pounds, never floats:
    "old_amount" ("1240000"), "new_amount" ("1300000") and
    "difference_amount" (new minus old, "60000" or "-60000", an absent side
    counting as 0), each null where the value is TBC or absent.

    ``totals`` are {"year", "partner", "old", "new", "difference",
    "old_amount", "new_amount", "previous"}: each partner's total for a year
    across all schedules, all partners' ("partner" ""), and the whole
    agreement's ("year" ""), where they differ; "previous" compares a year
    that is new with the year before ("+£60,000 (+5.0%) on 2017-18").
    """
    return json.dumps(diff.as_dict(), indent=2, ensure_ascii=False) + "\n"
