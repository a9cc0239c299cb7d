"""Apply a deed of variation's provisions to the old agreement's clause tree.

A deed is only right if reading it literally turns the old agreement into
the new one. Each provision of a deed carries, beside its words, the edit
those words make (one of the ``Op`` classes below), located as the words
locate it: by the OLD numbering ("clause 22.3", "paragraph 1.2 of Schedule
3"), by quoted text, by a row's first cell, never by a hidden key.
:func:`apply_deed` makes those edits in the order the deed gives them, then
the one renumbering provision: the agreement is renumbered and the
references in its old text are updated. Text the deed inserts is set out as
it will read, so renumbering leaves it alone.

The test corpus (tests/test_deed_applies.py) checks OLD + deed == NEW for
every kind of change, and :mod:`variation` uses the same function to check
each clause's edits before it writes them (falling back to replacing the
clause whole when a short edit would not apply exactly).
"""

from __future__ import annotations

import copy
import dataclasses
import re
from dataclasses import dataclass, field

from assembler.engine import tree
from assembler.engine.number import number_document
from assembler.engine.text import inline_text
from assembler.engine.xref import targets

_DEFINITION = re.compile("^\u201c([^\u201d]+)\u201d means")
_SCHEDULE_REF = re.compile(r"(Schedules?\s+)(\d+)\b")


class ApplyError(Exception):
    """A provision that cannot be applied as written (its place or quoted words not found once)."""


# --- where a provision points ----------------------------------------------------------


@dataclass(frozen=True)
class Place:
    """A place in the OLD agreement: a section ("body", "recitals" or a schedule's old
    number) and a paragraph's full number there ("" for the section itself)."""

    section: str
    number: str = ""


# --- what a provision does ----------------------------------------------------------------


@dataclass(frozen=True)
class Phrases:
    """In the paragraph at ``place`` (or the unnumbered text under it, or the definition
    ``term``), each quoted phrase (found once) is replaced."""

    place: Place
    pairs: tuple[tuple[str, str], ...]
    term: str = ""


@dataclass(frozen=True)
class Heading:
    place: Place
    heading: str


@dataclass(frozen=True)
class ReplaceText:
    """The paragraph's own words (not its sub-paragraphs) replaced by ``block``'s."""

    place: Place
    block: tree.Block
    term: str = ""  # a definition under ``place``
    text: str = ""  # an unnumbered paragraph under ``place``, by its words


@dataclass(frozen=True)
class Delete:
    """``place`` and everything under it; or the definition ``term``, or the unnumbered
    paragraph reading ``text``, under ``place``."""

    place: Place
    term: str = ""
    text: str = ""


@dataclass(frozen=True)
class Insert:
    """``blocks`` after ``place`` and everything under it (or before it; or, with
    ``definition``, among the definitions under it in alphabetical order; or at the
    start of the section when ``place.number`` is "")."""

    place: Place
    blocks: tuple[tree.Block, ...]
    before: bool = False
    definition: bool = False


@dataclass(frozen=True)
class Move:
    """The clause at ``place`` moved to follow ``after`` (None: to the start), reading ``blocks``."""

    place: Place
    after: Place | None
    blocks: tuple[tree.Block, ...]


@dataclass(frozen=True)
class Replace:
    """``place`` and everything under it replaced by ``blocks``."""

    place: Place
    blocks: tuple[tree.Block, ...]


@dataclass(frozen=True)
class TableEdit:
    """In the table (headed ``caption``) under ``place``: ("cell", row, column, old, new),
    ("delete", row), ("insert", after row or "", cells), rows named by their first cell."""

    place: Place
    caption: str
    items: tuple[tuple, ...]


@dataclass(frozen=True)
class ReplaceTable:
    place: Place
    caption: str
    table: tree.Table


@dataclass(frozen=True)
class AddSchedule:
    number: str  # its number in the agreement as varied
    section: tree.Section


@dataclass(frozen=True)
class DeleteSchedule:
    number: str


@dataclass(frozen=True)
class ReplaceSchedule:
    number: str
    section: tree.Section


@dataclass(frozen=True)
class MoveSchedule:
    """Schedule ``number`` moved to come before Schedule ``before`` ("" : to the end)."""

    number: str
    before: str


@dataclass(frozen=True)
class Rename:
    """Words replaced throughout the agreement (a party's name, short name, address)."""

    pairs: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class AddParty:
    party: tree.PartyLine


@dataclass(frozen=True)
class ReplaceParty:
    """The entry for the party named ``name`` in the list of parties now reads ``party``."""

    name: str
    party: tree.PartyLine


@dataclass(frozen=True)
class RemoveParty:
    name: str


@dataclass(frozen=True)
class Renumber:
    """Clauses, paragraphs and Schedules renumbered; references in the old text updated."""


# --- applying -------------------------------------------------------------------------------


@dataclass
class _State:
    document: tree.Document
    fresh: set = field(default_factory=set)  # ids of blocks and text parts the deed inserted
    keep: list = field(default_factory=list)  # those objects, alive so that their ids stay theirs
    old_numbers: dict = field(default_factory=dict)  # id(paragraph) -> its number before the deed

    def mark(self, obj) -> None:
        """Record ``obj`` as put in by the deed (so renaming and renumbering leave it alone)."""
        self.fresh.add(id(obj))
        self.keep.append(obj)
    schedule_numbers: dict = field(default_factory=dict)  # id(section) -> its old number


def _sections(state: _State, name: str) -> tree.Section:
    for section in state.document.sections:
        if name in ("body", "recitals") and section.kind == name:
            return section
        if section.kind == "schedule" and state.schedule_numbers.get(id(section)) == name:
            return section
    raise ApplyError(f"no {'Schedule ' + name if name.isdigit() else name} in the agreement")


def _numbered(section: tree.Section, number: str) -> tree.Para:
    found = [b for b in section.blocks if isinstance(b, tree.Para) and b.number and b.full_number == number]
    if len(found) != 1:
        raise ApplyError(f"{len(found)} paragraphs numbered {number}")
    return found[0]


def _extent(section: tree.Section, para: tree.Para) -> list[tree.Block]:
    """``para`` and what is under it: until the next numbered paragraph at its level or above."""
    start = _index(section, para)
    out = [para]
    for block in section.blocks[start + 1:]:
        if isinstance(block, tree.Para) and block.level and block.level <= para.level and block.number != "":
            break
        out.append(block)
    return out


def _run(section: tree.Section, para: tree.Para | None) -> list[tree.Block]:
    """``para`` and the unnumbered blocks straight after it (the section's opening text for None)."""
    start = _index(section, para) if para is not None else -1
    out = [para] if para is not None else []
    for block in section.blocks[start + 1:]:
        if isinstance(block, tree.Para) and block.level:
            break
        out.append(block)
    return out


def _index(section: tree.Section, block: tree.Block) -> int:
    for n, candidate in enumerate(section.blocks):
        if candidate is block:
            return n
    raise ApplyError("a paragraph this provision needs is no longer there")


def _target(state: _State, place: Place) -> tuple[tree.Section, tree.Para | None]:
    section = _sections(state, place.section)
    return section, (_numbered(section, place.number) if place.number else None)


def _definition(state: _State, place: Place, term: str) -> tuple[tree.Section, tree.Para]:
    section, para = _target(state, place)
    found = [b for b in _run(section, para) if isinstance(b, tree.Para) and not b.number
             and _DEFINITION.match(inline_text(b.parts)) and _DEFINITION.match(inline_text(b.parts)).group(1) == term]
    if len(found) != 1:
        raise ApplyError(f"no one definition of {term!r} under {place}")
    return section, found[0]


def _unnumbered(state: _State, place: Place, text: str) -> tuple[tree.Section, tree.Block]:
    section, para = _target(state, place)
    found = [b for b in _run(section, para)[1 if para is not None else 0:] if display(b) == text]
    if len(found) != 1:
        raise ApplyError(f"{len(found)} paragraphs under {place} read {text!r}")
    return section, found[0]


def display(block: tree.Block) -> str:
    """A block's words as a provision quotes them."""
    if isinstance(block, tree.Para):
        text = inline_text(block.parts)
        return block.heading if block.level == 1 and not text else text
    if isinstance(block, tree.Table):
        return "\n".join([" | ".join(block.columns)] + [" | ".join(r) for r in block.rows])
    return block.party_name


def replace_phrase(parts: list[tree.Inline], before: str, after: str, fresh) -> list[tree.Inline]:
    """``parts`` with the one occurrence of ``before`` in their text replaced by ``after``.

    Terms and references wholly outside the phrase are kept (so a reference
    elsewhere in the paragraph is still renumbered); the new words are one
    text part, passed to ``fresh``.
    """
    shown = [inline_text([p]) for p in parts]
    text = "".join(shown)
    if text.count(before) != 1:
        raise ApplyError(f"{before!r} occurs {text.count(before)} times")
    start = text.index(before)
    end = start + len(before)
    if not after and start and text[start - 1] == " " and (end == len(text) or text[end] in " ,.;:)"):
        start -= 1  # words omitted take the space before them: "A and B, in" less "and B" is "A, in"
    out: list[tree.Inline] = []
    at = 0
    inserted = False
    for part, words in zip(parts, shown):
        lo, hi = at, at + len(words)
        at = hi
        if hi <= start or lo >= end:
            if lo >= end and not inserted:
                out.append(_fresh(after, fresh))
                inserted = True
            out.append(part)
            continue
        if lo < start:  # keep the words before the phrase
            out.append(_cut(part, words[:start - lo]))
        if not inserted:
            out.append(_fresh(after, fresh))
            inserted = True
        if hi > end:
            out.append(_cut(part, words[end - lo:]))
    if not inserted:
        out.append(_fresh(after, fresh))
    return [p for p in out if not (isinstance(p, tree.Text) and not p.text)]


def _fresh(text: str, fresh) -> tree.Text:
    part = tree.Text(text)
    fresh(part)
    return part


def _cut(part: tree.Inline, words: str) -> tree.Inline:
    if isinstance(part, tree.Text):
        return tree.Text(words, part.bold, part.italic)
    return tree.Text(words)


def _new_blocks(blocks, state: _State) -> list[tree.Block]:
    out = [copy.deepcopy(b) for b in blocks]
    for block in out:
        state.mark(block)
    return out


def _put(section: tree.Section, at: int, blocks: list[tree.Block]) -> None:
    section.blocks[at:at] = blocks


def _apply_one(state: _State, op) -> None:
    if isinstance(op, Phrases):
        section, para = _definition(state, op.place, op.term) if op.term else _target(state, op.place)
        candidates = [para] if op.term else [b for b in _run(section, para) if isinstance(b, tree.Para)]
        for before, after in op.pairs:
            holders = [b for b in candidates if before in inline_text(b.parts)]
            if len(holders) != 1:
                raise ApplyError(f"{before!r} is in {len(holders)} paragraphs at {op.place}")
            holders[0].parts = replace_phrase(holders[0].parts, before, after, state.mark)
    elif isinstance(op, Heading):
        _, para = _target(state, op.place)
        para.heading = op.heading
    elif isinstance(op, ReplaceText):
        if op.term:
            section, para = _definition(state, op.place, op.term)
        elif op.text:
            section, para = _unnumbered(state, op.place, op.text)
        else:
            section, para = _target(state, op.place)
        new = _new_blocks([op.block], state)[0]
        section.blocks[_index(section, para)] = new
    elif isinstance(op, Delete):
        if op.term:
            section, para = _definition(state, op.place, op.term)
            doomed = [para]
        elif op.text:
            section, block = _unnumbered(state, op.place, op.text)
            doomed = [block]
        else:
            section, para = _target(state, op.place)
            doomed = _extent(section, para)
        for block in doomed:
            section.blocks.pop(_index(section, block))
    elif isinstance(op, Insert):
        section, para = _target(state, op.place)
        blocks = _new_blocks(op.blocks, state)
        if op.definition:
            run = _run(section, para)
            terms = [b for b in run if isinstance(b, tree.Para) and _DEFINITION.match(inline_text(b.parts))]
            term = _DEFINITION.match(display(blocks[0])).group(1).lower()
            later = [b for b in terms if _DEFINITION.match(inline_text(b.parts)).group(1).lower() > term]
            at = _index(section, later[0]) if later else _index(section, run[-1]) + 1
        elif para is None:
            at = 0
        elif op.before:
            at = _index(section, para)
        else:
            at = _index(section, _extent(section, para)[-1]) + 1
        _put(section, at, blocks)
    elif isinstance(op, Move):
        section, para = _target(state, op.place)
        anchor = _target(state, op.after)[1] if op.after is not None else None
        blocks = _new_blocks(op.blocks, state)
        for block in _extent(section, para):
            section.blocks.pop(_index(section, block))
        at = _index(section, _extent(section, anchor)[-1]) + 1 if anchor is not None else 0
        _put(section, at, blocks)
    elif isinstance(op, Replace):
        section, para = _target(state, op.place)
        doomed = _extent(section, para)
        at = _index(section, para)
        for block in doomed:
            section.blocks.pop(_index(section, block))
        _put(section, at, _new_blocks(op.blocks, state))
    elif isinstance(op, TableEdit):
        _table_edit(state, op)
    elif isinstance(op, ReplaceTable):
        section, table = _table(state, op.place, op.caption)
        section.blocks[_index(section, table)] = _new_blocks([op.table], state)[0]
    elif isinstance(op, (AddSchedule, ReplaceSchedule)):
        new = copy.deepcopy(op.section)
        for block in [new, *new.blocks]:
            state.mark(block)
        sections = state.document.sections
        if isinstance(op, ReplaceSchedule):
            old = _sections(state, op.number)
            sections[sections.index(old)] = new
            state.schedule_numbers[id(new)] = op.number
        else:
            schedules = [s for s in sections if s.kind == "schedule"]
            # Added schedules take their new number's place among the schedules as they then stand.
            at = int(op.number) - 1
            anchor = schedules[at] if at < len(schedules) else None
            position = sections.index(anchor) if anchor is not None else (
                sections.index(schedules[-1]) + 1 if schedules else
                next(i for i, s in enumerate(sections) if s.kind not in ("recitals", "body")))
            sections.insert(position, new)
    elif isinstance(op, DeleteSchedule):
        state.document.sections.remove(_sections(state, op.number))
    elif isinstance(op, MoveSchedule):
        sections = state.document.sections
        moving = _sections(state, op.number)
        sections.remove(moving)
        if op.before:
            sections.insert(sections.index(_sections(state, op.before)), moving)
        else:
            last = max(i for i, s in enumerate(sections) if s.kind == "schedule")
            sections.insert(last + 1, moving)
    elif isinstance(op, Rename):
        _rename(state, dict(op.pairs))
    elif isinstance(op, AddParty):
        state.document.parties.append(op.party)
    elif isinstance(op, ReplaceParty):
        found = [n for n, p in enumerate(state.document.parties) if p.name == op.name]
        if len(found) != 1:
            raise ApplyError(f"{len(found)} parties named {op.name!r}")
        state.document.parties[found[0]] = op.party
    elif isinstance(op, RemoveParty):
        state.document.parties[:] = [p for p in state.document.parties if p.name != op.name]
    elif isinstance(op, Renumber):
        renumber(state)
    else:
        raise ApplyError(f"unknown provision {op!r}")


def _table(state: _State, place: Place, caption: str) -> tuple[tree.Section, tree.Table]:
    section, para = _target(state, place)
    found = [b for b in _run(section, para) if isinstance(b, tree.Table) and (b.caption == caption or not caption)]
    if len(found) != 1:
        raise ApplyError(f"{len(found)} tables under {place}")
    return section, found[0]


def _row(table: tree.Table, name: str) -> int:
    found = [n for n, row in enumerate(table.rows) if row and row[0] == name]
    if len(found) != 1:
        raise ApplyError(f"{len(found)} rows named {name!r}")
    return found[0]


def _table_edit(state: _State, op: TableEdit) -> None:
    _, table = _table(state, op.place, op.caption)
    rows = [list(r) for r in table.rows]
    totals = {id(rows[n]) for n in table.total_rows}
    # Rows are found by name in the table as it stood, so every item reads against the old table.
    named = {}
    for item in op.items:
        if item[0] in ("cell", "delete") or (item[0] == "insert" and item[1]):
            name = item[1]
            named[name] = rows[_row(table, name)]
    for item in op.items:
        if item[0] == "cell":
            _, name, column, before, after = item
            row = named[name]
            index = table.columns.index(column)
            if row[index] != before:
                raise ApplyError(f"row {name!r}, column {column!r} reads {row[index]!r}, not {before!r}")
            row[index] = after
    for item in op.items:
        if item[0] == "delete":
            rows.remove(named[item[1]])
    last_after: dict[str, list] = {}
    for item in op.items:
        if item[0] == "insert":
            _, name, cells = item
            new_row = list(cells)
            if name:
                anchor = last_after.get(name, named[name])
                rows.insert(next(n for n, r in enumerate(rows) if r is anchor) + 1, new_row)
                last_after[name] = new_row
            else:
                anchor = last_after.get("")
                rows.insert(next(n for n, r in enumerate(rows) if r is anchor) + 1 if anchor is not None else 0,
                            new_row)
                last_after[""] = new_row
    table.total_rows = {n for n, r in enumerate(rows) if id(r) in totals or (r and r[0].startswith("Total"))}
    table.rows = rows


def _texts(state: _State):
    """Every old (not inserted) text holder: yields (owner, setter) pairs over blocks and sections."""
    for section in state.document.sections:
        if id(section) in state.fresh:
            continue
        yield section
        for block in section.blocks:
            if id(block) not in state.fresh:
                yield block


def mapped(block, change):
    """A copy of ``block`` with ``change`` made to its words (to compare, or to quote)."""
    new = copy.deepcopy(block)
    _map_text(new, change)
    return new


def _map_text(block, change, fresh=frozenset()) -> None:
    if isinstance(block, tree.Section):
        block.title = change(block.title)
        block.subtitle = change(block.subtitle)
    elif isinstance(block, tree.Para):
        block.heading = change(block.heading)
        parts = []
        for p in block.parts:
            if isinstance(p, tree.Text) and id(p) not in fresh:
                p = tree.Text(change(p.text), p.bold, p.italic)
            elif isinstance(p, tree.TermUse) and p.text:
                p = tree.TermUse(p.term, change(p.text))
            parts.append(p)
        block.parts = parts
    elif isinstance(block, tree.Table):
        block.columns = [change(c) for c in block.columns]
        block.rows = [[change(c) for c in r] for r in block.rows]
        block.caption = change(block.caption)
    elif isinstance(block, tree.SignatureBlock):
        block.party_name, block.intro = change(block.party_name), change(block.intro)
        block.lines = [(change(r), change(n)) for r, n in block.lines]


def renamer(pairs: dict[str, str]):
    """A function making every replacement in ``pairs`` at once (longest words first)."""
    pairs = {a: b for a, b in pairs.items() if a and a != b}
    if not pairs:
        return lambda text: text
    pattern = re.compile("|".join(re.escape(a) for a in sorted(pairs, key=len, reverse=True)))
    return lambda text: pattern.sub(lambda m: pairs[m.group(0)], text) if text else text


def _rename(state: _State, pairs: dict[str, str]) -> None:
    change = renamer(pairs)
    for holder in list(_texts(state)):
        _map_text(holder, change, state.fresh)
    state.document.parties[:] = [tree.PartyLine(change(p.name), change(p.address), change(p.short_name))
                                 for p in state.document.parties]


def schedule_renumbering(mapping: dict[str, str]):
    """A function updating "Schedule N" in text by ``mapping`` (old number -> new)."""
    def change(text: str) -> str:
        return _SCHEDULE_REF.sub(lambda m: m.group(1) + mapping.get(m.group(2), m.group(2)), text) if text else text
    return change


def renumber(state: _State) -> None:
    """The renumbering provision: numbers recomputed, references in the old text updated."""
    mapping: dict[str, str] = {}
    schedules = [s for s in state.document.sections if s.kind == "schedule"]
    for n, section in enumerate(schedules, start=1):
        old = state.schedule_numbers.get(id(section))
        if old and id(section) not in state.fresh:
            mapping[old] = str(n)
        section.number = str(n)
    change = schedule_renumbering(mapping)
    for holder in list(_texts(state)):
        if not isinstance(holder, tree.Section):
            _map_text(holder, change, state.fresh)
    number_document(state.document)
    known = targets(state.document)
    for section in state.document.sections:
        for block in section.blocks:
            if isinstance(block, tree.Para):
                block.parts = [_refresh(p, known) for p in block.parts]


def _refresh(part: tree.Inline, known: dict) -> tree.Inline:
    if isinstance(part, tree.Ref) and part.key in known and known[part.key][1] is not None:
        number = known[part.key][1].full_number
        return dataclasses.replace(part, number=number, label=number)
    return part


def start(document: tree.Document) -> _State:
    """A copy of ``document`` ready to have provisions applied (the original is untouched)."""
    state = _State(copy.deepcopy(document))
    for section in state.document.sections:
        if section.kind == "schedule":
            state.schedule_numbers[id(section)] = section.number
        for block in section.blocks:
            if isinstance(block, tree.Para) and block.number:
                state.old_numbers[id(block)] = (block, block.full_number)
    state.keep.append(list(state.document.sections))
    return state


def numbering_changed(state: _State) -> bool:
    """Whether renumbering would change any number the old text had (on a copy of the state)."""
    document = state.document
    schedules = [s for s in document.sections if s.kind == "schedule"]
    if any(state.schedule_numbers.get(id(s)) not in (None, str(n)) and id(s) not in state.fresh
           for n, s in enumerate(schedules, start=1)):
        return True
    memo: dict = {}
    numbered = copy.deepcopy(document, memo)  # memo: id(original) -> copy, for the paragraphs still there
    number_document(numbered)
    return any(memo[key].full_number != number for key, (_, number) in state.old_numbers.items() if key in memo)


def apply_ops(state: _State, ops) -> list[tuple[object, str]]:
    """Apply each op in order; (op, why) for each that could not be applied."""
    failed = []
    for op in ops:
        try:
            _apply_one(state, op)
        except ApplyError as exc:
            failed.append((op, str(exc)))
    return failed


def apply_deed(old: tree.Document, ops) -> tree.Document:
    """``old`` with the deed's provisions (``ops``, in the deed's order) applied; ApplyError if any fails."""
    state = start(old)
    failed = apply_ops(state, ops)
    if failed:
        raise ApplyError("; ".join(f"{type(op).__name__}: {why}" for op, why in failed))
    return state.document
