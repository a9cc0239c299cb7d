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
        return "\n".join([block.party_name, block.method, block.intro] + [f"{r}: {n}" for r, n in block.lines])
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


def word_diff(old: str, new: str) -> tuple[Words, ...]:
    a, b = _TOKEN.findall(old), _TOKEN.findall(new)
    out = []
    for tag, i, j, k, m in _matcher_ops(a, b):
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

    schedule: str
    year: str
    line: str  # a scheme line's name, or "Total" for the partner's total for the year
    partner: str
    old: str | None  # None: no such line (or partner) before
    new: str | None
    difference: str | None  # None when either side is tbc
    old_amount: str | None = None  # None when tbc or absent
    new_amount: str | None = None
    difference_amount: str | None = None  # new minus old, an absent side counting as 0; None when either is tbc


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
            out.append(BlockChange("changed", _block_number(a), _block_number(b), old_text, new_text,
                                   word_diff(old_text, new_text)))
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
    changes = []
    for unit in new_units:
        before = old_by_key.get(unit.key)
        if before is None:
            changes.append(ClauseChange("added", where, short_key(unit.key), unit.heading, "", unit.number,
                                        old_sched, new_sched, blocks=_block_changes(None, unit)))
            continue
        moved = before.number != unit.number
        blocks = _block_changes(before, unit)
        if blocks:
            changes.append(ClauseChange("changed", where, short_key(unit.key), unit.heading, before.number,
                                        unit.number, old_sched, new_sched, moved, blocks))
        elif moved:
            changes.append(ClauseChange("moved", where, short_key(unit.key), unit.heading, before.number,
                                        unit.number, old_sched, new_sched, True))
    for unit in old_units:
        if unit.key not in new_by_key:
            changes.append(ClauseChange("removed", where, short_key(unit.key), unit.heading, unit.number, "",
                                        old_sched, new_sched, blocks=_block_changes(unit, None)))
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


def money_changes(old_agreement, new_agreement) -> list[MoneyChange]:
    """Every scheme line and partner whose contribution for a year differs, and partner totals."""
    def table(agreement) -> dict:
        found: dict[tuple[str, str, str, str], Money] = {}
        names: dict[str, str] = {}
        for schedule in agreement.schedules if agreement is not None else ():
            for party in agreement.parties:
                names[party.key] = party.short_name.removeprefix("the ")
            for year in schedule.get("money", ()):
                for row in year.rows:
                    for partner, amount in row.amounts.items():
                        found[(schedule.key, year.year, row.name, partner)] = amount
                for partner, amount in year.partner_totals.items():
                    found[(schedule.key, year.year, "\uffffTotal", partner)] = amount
        return found, names

    old, old_names = table(old_agreement)
    new, new_names = table(new_agreement)
    names = {**old_names, **new_names}
    changes = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        if a == b or (a is None and b is not None and _amount(b) == 0) or (b is None and a is not None and _amount(a) == 0):
            continue
        x, y = _amount(a), _amount(b)
        difference = change = None
        if not (a is not None and a.is_tbc) and not (b is not None and b.is_tbc):
            change = (y or Decimal(0)) - (x or Decimal(0))
            difference = format_money(Money(change))
            if not difference.startswith("-"):
                difference = "+" + difference
        schedule, year, line, partner = k
        changes.append(MoneyChange(schedule, year, line.replace("\uffff", ""), names.get(partner, partner),
                                   format_money(a) if a is not None else None,
                                   format_money(b) if b is not None else None, difference,
                                   exact(x), exact(y), exact(change)))
    return changes


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
    money = money_changes(old_agreement, new_agreement) if old_agreement is not None or new_agreement is not None else []
    fields = _fields(old, new, old_agreement, new_agreement)
    return Diff(old_name, new_name, tuple(fields), tuple(schedules), tuple(clauses), tuple(money))


# --- output --------------------------------------------------------------------------------


def _where(change: ClauseChange, number: str, schedule: str) -> str:
    if change.section == "body":
        return f"clause {number}" if number else "clause"
    if change.section == "recitals":
        return "recitals"
    if change.section == "execution":
        return "execution"
    if schedule:
        return f"paragraph {number} of Schedule {schedule}" if number else f"Schedule {schedule}"
    return change.section


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
            lines.append(f"+ Schedule {s.new_number} {s.title} [{s.key}]: added")
        elif s.kind == "removed":
            lines.append(f"- Schedule {s.old_number} {s.title} [{s.key}]: removed")
        else:
            lines.append(f"> Schedule {s.old_number} -> {s.new_number} {s.title} [{s.key}]: renumbered")
    for c in diff.clauses:
        old_at, new_at = _where(c, c.old_number, c.old_schedule), _where(c, c.new_number, c.new_schedule)
        name = f"{c.heading} [{c.key}]" if c.heading else f"[{c.key or c.section}]"
        if c.kind == "added":
            lines.append(f"+ {new_at} {name}: added")
        elif c.kind == "removed":
            lines.append(f"- {old_at} {name}: removed")
        elif c.kind == "moved":
            lines.append(f"> {old_at} -> {new_at} {name}: renumbered")
        else:
            place = f"{old_at} -> {new_at}" if old_at != new_at else new_at
            lines.append(f"~ {place} {name}: changed" + (" and renumbered" if c.moved else ""))
        if c.kind in ("changed",):
            for b in c.blocks:
                label = b.new_number or b.old_number
                prefix = f"    {label} " if label else "    "
                if b.kind == "added":
                    lines.append(f"{prefix}{{+{b.new_text}+}}".replace("\n", "\n      "))
                elif b.kind == "removed":
                    lines.append(f"{prefix}[-{b.old_text}-]".replace("\n", "\n      "))
                else:
                    lines.append(f"{prefix}{marked(b.words)}".replace("\n", "\n      "))
    if diff.money:
        lines.append("money:")
        width = max(len(f"{m.schedule} {m.year} {m.line} / {m.partner}") for m in diff.money)
        for m in diff.money:
            what = f"{m.schedule} {m.year} {m.line} / {m.partner}".ljust(width)
            lines.append(f"  {what}  {m.old or '-':>14} -> {m.new or '-':>14}  {m.difference or 'n/a':>14}")
    return "\n".join(lines) + "\n"


def format_json(diff: Diff) -> str:
    """The diff as JSON: ``old``, ``new``, ``fields``, ``schedules``, ``clauses``, ``money``.

    A party in ``fields`` is {"field": "party", "old", "new", "key"}: "old"
    and "new" read "NAME of ADDRESS (SHORT NAME)", "" when the party is
    added or removed; "key" is the party's key ("" when the parties were
    matched by name because the agreements were not given). A renamed party
    keeps its key and is one entry.

    ``money`` entries are {"schedule", "year", "line", "partner", "old",
    "new", "difference"}, formatted for reading ("£1,240,000", "TBC",
    "+£60,000"; null where absent, "difference" null when either side is
    TBC), and the exact values as decimal strings in pounds, never floats:
    "old_amount" ("1240000"), "new_amount" ("1300000") and
    "difference_amount" (new minus old, "60000" or "-60000", an absent side
    counting as 0), each null where the value is TBC or absent.
    """
    return json.dumps(diff.as_dict(), indent=2, ensure_ascii=False) + "\n"
