"""A deed of variation: the changes from one version of an agreement to the next,
written as operative provisions, built as a :class:`tree.Document` for the
ordinary writer.

Each provision says where it applies in the OLD numbering and quotes the
words it replaces as they then read; text it inserts is set out as it will
read. Every provision also carries the edit its words make
(:mod:`assembler.review.apply`), and the deed is checked by making those
edits to the old clause tree: a clause whose short edits would not give the
new text exactly is replaced whole instead. Schedules are matched by key,
clauses by key, list items and table rows by their words (a row by its
first cell), never by position, so an inserted or deleted item is one
provision and the rest are left to the single renumbering provision.

The deed's words are data (assembler/data/deed.yaml). Parties are matched by
key: a party whose name, short name or address changed gets one provision
replacing the old words throughout, made before the others.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from dataclasses import dataclass, field
from functools import lru_cache

import yaml

from assembler.diagnostics import ERROR, WARNING, BuildError, Diagnostic, Location, UsageError
from assembler.engine import tree
from assembler.engine.library import default_library
from assembler.engine.render import Renderer
from assembler.engine.number import number_document
from assembler.engine.text import inline_text
from assembler.model import format_date
from assembler.resources import data_file
from assembler.review import apply as ops
from assembler.review import diff

MAX_CLAUSE_EDITS = 4  # more separate edits than this to one clause: replace the clause
MAX_SCHEDULE_EDITS = 10  # ... to one schedule: replace the schedule
MAX_PHRASES = 3  # phrase edits in one paragraph written out; more: replace the paragraph
MERGE_GAP = 3  # changes this many unchanged words apart or fewer are one phrase
LIST_ITEM_LIKENESS = 0.8  # unkeyed list items this alike are one item changed, else one out and one in
# Words, figures, spaces and punctuation; "£1,240,000," is a figure and a comma; "14Z25" is one word.
_TOKEN = re.compile(r"\s+|\d+[A-Za-z]\w*|£?\d+(?:,\d{3})*(?:\.\d+)?|\w+(?:['\u2019]\w+)*|[^\w\s]")
_DEFINITION = re.compile("^\u201c([^\u201d]+)\u201d means")
_FIGURE = re.compile(r"£?\d+(?:,\d{3})*(?:\.\d+)?")


@lru_cache(maxsize=None)
def wording() -> dict:
    """The deed's words (assembler/data/deed.yaml)."""
    return yaml.safe_load(data_file("deed.yaml").read_text(encoding="utf-8"))


def say(name: str, **values) -> str:
    """One provision's sentence from the wording table; {Place} is {place} capitalised."""
    if "place" in values:
        values["Place"] = _cap(values["place"])
    return wording()["provisions"][name].format(**values)


def q(text: str) -> str:
    return f"\u201c{text}\u201d"


def deed_date(text: str | None, option: str) -> tuple[str, str]:
    """(text, ISO) for a --date style option; ("", "") when not given."""
    if not text:
        return "", ""
    try:
        day = dt.date.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(Diagnostic(Location(option), ERROR, "S75-DATE",
                                    f"'{text}' is not a date in the form YYYY-MM-DD", f"e.g. {option} 2018-04-01"))
    return format_date(day), day.isoformat()


# --- provisions --------------------------------------------------------------------


@dataclass
class Provision:
    """One operative variation: a sentence, optional sub-items, optional quoted blocks,
    and the edits (``ops``) the words make; ``unit`` names the clause it belongs to."""

    text: str
    items: list[str] = field(default_factory=list)
    quoted: list[tree.Block] = field(default_factory=list)
    ops: list = field(default_factory=list)
    unit: tuple[str, str] | None = None


def _place(section: tree.Section, number: str) -> str:
    """'clause 7.2', 'paragraph 1.1 of Schedule 2', 'recital (B)'."""
    if section.kind == "schedule":
        return f"paragraph {number} of Schedule {section.number}" if number else f"Schedule {section.number}"
    if section.kind == "recitals":
        return f"recital {number}" if number else "the recitals"
    return f"clause {number}" if number else "the operative clauses"


def _where(section: tree.Section, number: str = "") -> ops.Place:
    name = section.number if section.kind == "schedule" else section.kind
    return ops.Place(name, number)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _display(block: tree.Block) -> str:
    return ops.display(block)


def _quote_blocks(blocks: list[tree.Block]) -> list[tree.Block]:
    """Blocks as quoted text: numbered paragraphs keep their (new) numbers as text."""
    out: list[tree.Block] = []
    for block in blocks:
        if isinstance(block, tree.Para):
            label = block.number if block.number else ""
            text = block.heading if block.level == 1 else inline_text(block.parts)
            if block.level == 1 and block.parts:
                text = f"{block.heading} {inline_text(block.parts)}"
            out.append(tree.Para([tree.Text(f"{label} {text}".strip())], level=0, style="Quote"))
        elif isinstance(block, tree.Table):
            rows = [list(r) for r in block.rows]
            out.append(tree.Table(list(block.columns), rows, set(block.total_rows), set(block.numeric_columns),
                                  caption=block.caption, fit_columns=block.fit_columns,
                                  optional_columns=set(block.optional_columns)))
        else:
            out.append(tree.Para([tree.Text(diff.block_text(block).replace("\n", "; "))], level=0, style="Quote"))
    if out and isinstance(out[0], tree.Para):
        out[0].parts = [tree.Text("\u201c")] + out[0].parts
    if out and isinstance(out[-1], tree.Para):
        out[-1].parts = out[-1].parts + [tree.Text("\u201d")]
    return out


def _widen(tokens: list[str], start: int, end: int, left: int, right: int) -> tuple[int, int]:
    """Move ``start`` left past ``left`` words and ``end`` right past ``right`` words."""
    while left and start > 0:
        start -= 1
        left -= 0 if tokens[start].isspace() else 1
    while right and end < len(tokens):
        end += 1
        right -= 0 if tokens[end - 1].isspace() else 1
    return start, end


def _unique_phrase(old_tokens: list[str], new_tokens: list[str], i: int, j: int, k: int, m: int):
    """Widen one edit with unchanged words either side until the old words occur once.

    (start, end, old words, new words), start and end bounding the quoted old
    words in ``old_tokens``; None if no short widening is unique.
    """
    old_text = "".join(old_tokens)
    for n in range(0, 6):
        for left, right in ((n, 0), (0, n), (n, n)) if n else ((0, 0),):
            a, b = _widen(old_tokens, i, j, left, right)
            c, d = k - (i - a), m + (b - j)
            before, after = "".join(old_tokens[a:b]).strip(), "".join(new_tokens[c:d]).strip()
            if before and re.search(r"\w", before) and not re.fullmatch(r"[\d.,;:]*[.,;:]", before) \
                    and old_text.count(before) == 1:
                return a, b, before, after
    return None


def _words(tokens: list[str]) -> int:
    return sum(1 for t in tokens if re.search(r"\w", t))


def _figure_swap(a: list[str], b: list[str], span: tuple[int, int, int, int]) -> bool:
    """One figure replaced by another ("£1,240,000" by "£1,300,000"), said on its own."""
    i, j, k, m = span
    old, new = [t for t in a[i:j] if not t.isspace()], [t for t in b[k:m] if not t.isspace()]
    return len(old) == len(new) == 1 and bool(_FIGURE.fullmatch(old[0]) and _FIGURE.fullmatch(new[0]))


def _spans(a: list[str], b: list[str]) -> list[tuple[int, int, int, int]]:
    """The changed stretches (old start, old end, new start, new end), as phrases.

    Neighbouring changes separated only by spaces or punctuation, or by a few
    unchanged words, are one phrase: "within 30 Working Days after the mediator
    is appointed" -> "under clause 20.2", not three word swaps. Two figures
    with words between them stay apart.
    """
    spans: list[tuple[int, int, int, int]] = []
    for tag, i, j, k, m in diff._matcher_ops(a, b):
        if tag == "equal":
            continue
        if spans:
            gap = _words(a[spans[-1][1]:i])
            figures = _figure_swap(a, b, spans[-1]) and _figure_swap(a, b, (i, j, k, m))
            if gap == 0 or (gap <= MERGE_GAP and not figures):
                spans[-1] = (spans[-1][0], j, spans[-1][2], m)
                continue
        spans.append((i, j, k, m))
    return spans


def _settled(text: str) -> str:
    """Text compared for what it says: spacing normalised, none before punctuation."""
    return re.sub(r"\s+([,.;:)\u2019\u201d])", r"\1", " ".join(text.split()))


def _applied(old: str, edits: list[tuple[str, str]], view=None) -> str:
    """``old`` with each quoted phrase (once in ``old``) replaced, all at once; ``view``
    (renumbering) applied to the words kept, not to the words put in."""
    view = view or (lambda text: text)
    found = sorted((old.index(before), before, after) for before, after in edits)
    out, at = [], 0
    for start, before, after in found:
        out += [view(old[at:start]), after]
        at = start + len(before)
    return "".join(out + [view(old[at:])])


def phrase_edits(old: str, new: str, view=None) -> list[tuple[str, str]] | None:
    """Each edit as (old words, new words), or None if it cannot be said briefly.

    Each quoted old phrase occurs once in ``old``, and making every
    replacement in ``old`` gives ``new``. None (replace the whole paragraph)
    when there are more than MAX_PHRASES phrases, when they change more than
    half the words (unless each is one figure for another), or when no short
    phrase is unambiguous.

    ``view`` is how the renumbering provision will change ``old`` (Schedule
    numbers): words that differ only by it are not edits.
    """
    a, b = _TOKEN.findall(old), _TOKEN.findall(new)
    seen = _TOKEN.findall(view(old)) if view else a
    if len(seen) != len(a):
        return None
    spans = _spans(seen, b)
    if not spans:
        return []
    if not all(_figure_swap(a, b, span) for span in spans):
        changed = sum(max(_words(a[i:j]), _words(b[k:m])) for i, j, k, m in spans)
        if 2 * changed > max(_words(a), _words(b)):
            return None
    while True:
        if len(spans) > MAX_PHRASES:
            return None
        found = [_unique_phrase(a, b, *span) for span in spans]
        if any(f is None for f in found):
            return None
        # Two phrases widened into each other: say them as one.
        clash = next((n for n in range(1, len(found)) if found[n][0] < found[n - 1][1]), None)
        if clash is None:
            break
        spans[clash - 1:clash + 1] = [(spans[clash - 1][0], spans[clash][1], spans[clash - 1][2], spans[clash][3])]
    edits = [(before, after) for _, _, before, after in found]
    if _settled(_applied(old, edits, view)) != _settled(new):
        return None
    return edits


# --- how old text reads once the parties are renamed and the agreement renumbered --------


class View:
    """The party renames (the deed's first provisions) and the renumbering (its last)."""

    def __init__(self, renames: dict[str, str] | None = None, schedules: dict[str, str] | None = None,
                 gone: tuple[str, ...] = (), come: tuple[str, ...] = ()):
        self.rename = ops.renamer(renames or {})
        self.renumber = ops.schedule_renumbering(schedules or {})
        self.gone, self.come = gone, come  # titles of schedules removed and added

    def pairable(self, a: tree.Block, b: tree.Block) -> bool:
        """Blocks to compare as one changed block. An unkeyed list item is the same item only
        if nearly alike, and never when one names a schedule removed or the other one added
        (an item for a new schedule is inserted, not written over another's)."""
        if not _pairable(a, b):
            return False
        if isinstance(a, tree.Para) and not (a.key and a.key == b.key):
            old, new = diff.block_text(a), diff.block_text(b)
            if any(t in old for t in self.gone) or any(t in new for t in self.come):
                return False
        return True

    def text(self, text: str) -> str:
        return self.renumber(self.rename(text))


def _pairable(a: tree.Block, b: tree.Block) -> bool:
    """Blocks to compare as one changed block; unkeyed list items only when nearly alike."""
    if not diff.blocks_pairable(True)(a, b):
        return False
    if isinstance(a, tree.Para) and a.level >= 4 and not (a.key and a.key == b.key):
        return diff.similarity(diff.block_text(a, True), diff.block_text(b, True)) >= LIST_ITEM_LIKENESS
    return True


class _Cannot(Exception):
    """These changes cannot be said as short edits: replace the clause (or schedule) whole."""


def _extent(blocks: list[tree.Block], para: tree.Para) -> list[tree.Block]:
    start = next(n for n, b in enumerate(blocks) if b is para)
    out = [para]
    for block in blocks[start + 1:]:
        if isinstance(block, tree.Para) and block.level and block.level <= para.level and block.number:
            break
        out.append(block)
    return out


def _phrase_provision(subject: str, edits: list[tuple[str, str]]) -> tuple[str, list[str]]:
    items = [say("phrase_replaced", old=q(a), new=q(b)) if b else say("phrase_deleted", old=q(a)) for a, b in edits]
    if len(items) == 1:
        return say("phrase", place=subject, item=items[0]), []
    return say("phrases", place=subject), items


def _unit_edits(section: tree.Section, old: diff.Unit, new: diff.Unit, view: View) -> list[Provision]:
    """Short edits turning ``old`` into ``new``; _Cannot when there are none that apply exactly."""
    blocks = old.blocks
    renamed = [ops.mapped(b, view.rename) for b in blocks]  # as quoted
    seen = [ops.mapped(b, view.text) for b in blocks]  # as compared
    origin = {id(s): n for n, s in enumerate(seen)}
    aligned = [(op, origin[id(a)] if a is not None else None, b)
               for op, a, b in diff.align(seen, new.blocks, lambda x: diff.block_identity(x, True), view.pairable)]
    deleted = {n for op, n, _ in aligned if op == "deleted"}
    provisions: list[Provision] = []
    covered: set[int] = set()

    def anchor(n: int | None) -> tree.Para | None:
        for block in reversed(blocks[:(n if n is not None else -1) + 1]):
            if isinstance(block, tree.Para) and block.number:
                return block
        return None

    def place_of(para: tree.Para | None) -> tuple[str, ops.Place]:
        return (_place(section, para.full_number), _where(section, para.full_number)) if para is not None else \
            (_place(section, ""), _where(section))

    previous: int | None = None  # the last old block kept
    n = 0
    while n < len(aligned):
        op, i, b = aligned[n]
        if op == "inserted":
            group = []
            while n < len(aligned) and aligned[n][0] in ("inserted", "deleted"):
                if aligned[n][0] == "inserted":
                    group.append(aligned[n][2])
                else:
                    provisions += _deleted(section, blocks, renamed, aligned[n][1], deleted, covered, anchor, place_of)
                n += 1
            following = blocks[aligned[n][1]] if n < len(aligned) else None
            provisions += _inserted(section, old, blocks, group, previous, following, anchor, place_of)
            continue
        if op == "deleted":
            provisions += _deleted(section, blocks, renamed, i, deleted, covered, anchor, place_of)
        elif op == "changed":
            provisions += _changed(section, blocks, blocks[i], renamed[i], b, anchor(i), place_of, view)
            previous = i
        else:
            previous = i
        n += 1
    return provisions


def _deleted(section, blocks, renamed, i, deleted, covered, anchor, place_of) -> list[Provision]:
    if i in covered:
        return []
    block = blocks[i]
    if isinstance(block, tree.Para) and block.number:
        extent = _extent(blocks, block)
        indexes = [next(n for n, b in enumerate(blocks) if b is x) for x in extent]
        if not all(n in deleted for n in indexes):
            raise _Cannot()
        covered.update(indexes)
        words, where = place_of(block)
        return [Provision(say("delete", place=words), ops=[ops.Delete(where)])]
    words, where = place_of(anchor(i))
    shown = _display(renamed[i])
    term = _DEFINITION.match(shown)
    if term:
        return [Provision(say("delete_definition", place=words, term=q(term.group(1))),
                          ops=[ops.Delete(where, term=term.group(1))])]
    if not isinstance(block, tree.Para):
        raise _Cannot()
    return [Provision(say("delete_unnumbered", place=words, old=q(shown)), ops=[ops.Delete(where, text=shown)])]


def _inserted(section, unit, blocks, group, previous, following, anchor, place_of) -> list[Provision]:
    first = group[0]
    if all(isinstance(b, tree.Para) and not b.number and _DEFINITION.match(_display(b)) for b in group):
        words, where = place_of(anchor(previous))
        return [Provision(say("insert_definition", place=words), quoted=_quote_blocks([b]),
                          ops=[ops.Insert(where, (b,), definition=True)]) for b in group]
    level = first.level if isinstance(first, tree.Para) else 0
    before = blocks[previous] if previous is not None else None
    if previous is None:
        if unit.head is not None:
            raise _Cannot()
        words, where = place_of(None)
        return [Provision(say("insert_start", place=words), quoted=_quote_blocks(group),
                          ops=[ops.Insert(where, tuple(group))])]
    if isinstance(following, tree.Para) and following.number and following.level == level:
        words, where = place_of(following)
        return [Provision(say("insert_before", place=words), quoted=_quote_blocks(group),
                          ops=[ops.Insert(where, tuple(group), before=True)])]
    if following is None and unit.head is not None:
        words, where = place_of(unit.head)
        return [Provision(say("insert_end", place=words), quoted=_quote_blocks(group),
                          ops=[ops.Insert(where, tuple(group))])]
    if isinstance(before, tree.Para) and before.number:
        words, where = place_of(before)
        return [Provision(say("insert_after", place=words), quoted=_quote_blocks(group),
                          ops=[ops.Insert(where, tuple(group))])]
    if isinstance(following, tree.Para) and following.number:
        words, where = place_of(following)
        return [Provision(say("insert_before", place=words), quoted=_quote_blocks(group),
                          ops=[ops.Insert(where, tuple(group), before=True)])]
    raise _Cannot()


def _changed(section, blocks, old, renamed, new, under, place_of, view) -> list[Provision]:
    if isinstance(old, tree.Table) and isinstance(new, tree.Table):
        return _table_edit(renamed, new, *place_of(under), view)
    if not (isinstance(old, tree.Para) and isinstance(new, tree.Para)):
        raise _Cannot()
    if old.level == 1:
        if inline_text(old.parts) or inline_text(new.parts):
            raise _Cannot()
        words, where = place_of(old)
        return [Provision(say("heading", place=words, new=q(new.heading)), ops=[ops.Heading(where, new.heading)])]
    shown = _display(renamed)
    edits = phrase_edits(shown, _display(new), view.renumber)
    if old.number:
        words, where = place_of(old)
        if edits:
            text, items = _phrase_provision(words, edits)
            return [Provision(text, items, ops=[ops.Phrases(where, tuple(edits))])]
        leaf = len(_extent(blocks, old)) == 1
        return [Provision(say("replace_paragraph" if leaf else "replace_opening", place=words),
                          quoted=_quote_blocks([new]), ops=[ops.ReplaceText(where, new)])]
    words, where = place_of(under)
    term = _DEFINITION.match(shown)
    if edits:
        subject = say("in_definition", term=q(term.group(1)), place=words) if term else words
        text, items = _phrase_provision(subject, edits)
        return [Provision(text, items, ops=[ops.Phrases(where, tuple(edits), term=term.group(1) if term else "")])]
    if term:
        return [Provision(say("replace_definition", place=words, term=q(term.group(1))), quoted=_quote_blocks([new]),
                          ops=[ops.ReplaceText(where, new, term=term.group(1))])]
    return [Provision(say("replace_unnumbered", place=words, old=q(shown)), quoted=_quote_blocks([new]),
                      ops=[ops.ReplaceText(where, new, text=shown)])]


def _table_edit(old: tree.Table, new: tree.Table, words: str, where: ops.Place, view: View) -> list[Provision]:
    """Row by row (rows named by their first cell), or the whole table when its columns changed."""
    title = say("table", caption=q(old.caption)) if old.caption else say("table_untitled")
    names = [row[0] if row else "" for row in old.rows]
    whole = [Provision(say("table_replaced", place=words, table=title), quoted=[_quote_blocks([new])[0]],
                       ops=[ops.ReplaceTable(where, old.caption, new)])]
    if [view.renumber(c) for c in old.columns] != new.columns:
        return whole
    seen = [[view.renumber(c) for c in row] for row in old.rows]
    origin = {id(r): n for n, r in enumerate(seen)}
    items, edits = [], []
    previous = None
    for op, a, b in diff.align(seen, new.rows, lambda r: "\x1f".join(r), lambda x, y: x[:1] == y[:1]):
        if op == "equal":
            previous = names[origin[id(a)]]
            continue
        if op == "changed":
            n = origin[id(a)]
            for column, x, y, z in zip(new.columns, old.rows[n], a, b):
                if z != y:
                    items.append(say("table_cell", row=q(names[n] or "Total"), column=q(column), old=q(x or "(blank)"),
                                     new=q(z or "(blank)")))
                    edits.append(("cell", names[n], column, x, z))
            previous = names[n]
        elif op == "deleted":
            items.append(say("table_row_deleted", row=q(names[origin[id(a)]])))
            edits.append(("delete", names[origin[id(a)]]))
        else:
            cells = q(" | ".join(b))
            items.append(say("table_row_after", row=q(previous), cells=cells) if previous is not None
                         else say("table_row_first", cells=cells))
            edits.append(("insert", previous or "", tuple(b)))
    used = {e[1] for e in edits if e[1]}
    if not items:
        return []
    if any(names.count(name) != 1 for name in used) or len(items) > MAX_CLAUSE_EDITS * 2:
        return whole
    op = ops.TableEdit(where, old.caption, tuple(edits))
    if len(items) == 1:
        return [Provision(say("table_one", table=title, place=words, item=items[0]), ops=[op])]
    return [Provision(say("table_many", table=title, place=words), items=items, ops=[op])]


def _replace_unit(section: tree.Section, old: diff.Unit, new: diff.Unit) -> Provision:
    if not old.number:
        raise _Cannot()
    words = _place(section, old.number)
    return Provision(say("clause_replaced", place=words, heading=old.heading), quoted=_quote_blocks(new.blocks),
                     ops=[ops.Replace(_where(section, old.number), tuple(new.blocks))])


def _section_edits(old: tree.Section, new: tree.Section, view: View, whole: set) -> tuple[list[Provision], bool]:
    """Provisions for one section, and whether clauses were added, removed or moved in it.

    ``whole`` holds the keys of clauses to be replaced whole (their short edits did not apply).
    """
    provisions: list[Provision] = []
    structural = False
    old_units, new_units = diff.units(old), diff.units(new)
    old_keys, new_keys = {u.key for u in old_units}, {u.key for u in new_units}
    word = "clause" if old.kind == "body" else "paragraph"
    placed: diff.Unit | None = None  # the last old clause in place, for "after clause N"
    group: list[diff.Unit] = []

    def flush():
        nonlocal group
        if not group:
            return
        blocks = tuple(b for u in group for b in u.blocks)
        if placed is None:
            text = say("clause_inserted_first", word=word, section=_place(old, ""))
            where = _where(old)
        elif placed.number:
            text = say("clause_inserted", word=word, place=_place(old, placed.number))
            where = _where(old, placed.number)
        else:
            raise _Cannot()
        provisions.append(Provision(text, quoted=_quote_blocks(list(blocks)), ops=[ops.Insert(where, blocks)],
                                    unit=(diff.section_key(old), group[0].key)))
        group = []

    for op, a, b in diff.align(old_units, new_units, lambda u: u.key):
        if op != "inserted" or b.key in old_keys:
            flush()
        if op == "equal":
            unit = (diff.section_key(old), a.key)
            try:
                if a.key in whole:
                    raise _Cannot()
                edits = _unit_edits(old, a, b, view)
                if len(edits) > MAX_CLAUSE_EDITS:
                    raise _Cannot()
            except _Cannot:
                edits = [_replace_unit(old, a, b)]
            for provision in edits:
                provision.unit = unit
            provisions += edits
            placed = a
        elif op == "deleted":
            if a.key in new_keys:
                continue  # moved: said where it goes
            structural = True
            if not a.number:
                raise _Cannot()
            provisions.append(Provision(say("clause_deleted", place=_place(old, a.number), heading=a.heading),
                                        ops=[ops.Delete(_where(old, a.number))]))
        elif b.key in old_keys:
            structural = True
            source = next(u for u in old_units if u.key == b.key)
            if not source.number or (placed is not None and not placed.number):
                raise _Cannot()
            if placed is None:
                text = say("clause_moved_first", place=_place(old, source.number), heading=source.heading,
                           section=_place(old, ""))
            else:
                text = say("clause_moved", place=_place(old, source.number), heading=source.heading,
                           after=_place(old, placed.number))
            provisions.append(Provision(text, quoted=_quote_blocks(b.blocks), unit=(diff.section_key(old), b.key),
                                        ops=[ops.Move(_where(old, source.number),
                                                      _where(old, placed.number) if placed else None,
                                                      tuple(b.blocks))]))
            placed = source
        else:
            structural = True
            group.append(b)
    flush()
    return provisions, structural


# --- the whole deed ------------------------------------------------------------------------


@dataclass
class Plan:
    """The deed's provisions in order, its annexes, and what the reviewer should know."""

    provisions: list[Provision]
    annexes: list[tree.Section]
    renumbered: bool
    warnings: list[Diagnostic] = field(default_factory=list)

    @property
    def ops(self) -> list:
        found = [op for p in self.provisions for op in p.ops]
        return found + ([ops.Renumber()] if self.renumbered else [])

    @property
    def empty(self) -> bool:
        return not self.provisions


def _schedules(document: tree.Document) -> dict[str, tree.Section]:
    return {s.key: s for s in document.sections if s.kind == "schedule"}


def _provisions(old_doc: tree.Document, new_doc: tree.Document, view: View, parties: list[Provision],
                whole_units: set, whole_schedules: set) -> tuple[list[Provision], list[tree.Section]]:
    annexes: list[tree.Section] = []

    def annex(section: tree.Section, how: str) -> str:
        letter = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[len(annexes) % 26]
        annexes.append(tree.Section("annex", say(how, number=section.number, title=section.title),
                                    list(section.blocks), key=f"annex-{section.key}", number=letter))
        return f"Annex {letter}"

    old_sections = {diff.section_key(s): s for s in old_doc.sections}
    old_schedules, new_schedules = _schedules(old_doc), _schedules(new_doc)
    provisions = list(parties)
    in_place: list[Provision] = []
    for section in new_doc.sections:
        before = old_sections.get(diff.section_key(section))
        if before is None or section.kind in ("execution", "annex"):
            continue
        whole = {k for s, k in whole_units if s == diff.section_key(section)}
        if section.kind != "schedule":
            provisions += _section_edits(before, section, view, whole)[0]
            continue
        try:
            if section.key in whole_schedules or view.text(before.title) != section.title \
                    or view.text(before.subtitle) != section.subtitle:
                raise _Cannot()
            found, structural = _section_edits(before, section, view, whole)
            if structural or len(found) > MAX_SCHEDULE_EDITS:
                raise _Cannot()
            in_place += found
        except _Cannot:
            where = annex(section, "annex_replaced")
            in_place.append(Provision(say("schedule_replaced", number=before.number, title=before.title, annex=where),
                                      ops=[ops.ReplaceSchedule(before.number, section)]))
    provisions += in_place
    for key, section in old_schedules.items():
        if key not in new_schedules:
            provisions.append(Provision(say("schedule_deleted", number=section.number, title=section.title),
                                        ops=[ops.DeleteSchedule(section.number)]))
    provisions += _schedule_moves(old_schedules, new_schedules, view)
    for key, section in new_schedules.items():
        if key not in old_schedules:
            where = annex(section, "annex_added")
            provisions.append(Provision(say("schedule_added", annex=where, number=section.number, title=section.title),
                                        ops=[ops.AddSchedule(section.number, section)]))
    return provisions, annexes


def _schedule_moves(old: dict[str, tree.Section], new: dict[str, tree.Section], view: View) -> list[Provision]:
    """Schedules kept but in a different order: each one out of order moved before its new successor."""
    kept_old = [k for k in old if k in new]
    kept_new = [k for k in new if k in old]
    stay = {a for op, a, _ in diff.align(kept_old, kept_new, lambda k: k) if op == "equal"}
    out = []
    for n in reversed(range(len(kept_new))):
        key = kept_new[n]
        if key in stay:
            continue
        section = old[key]
        after = kept_new[n + 1] if n + 1 < len(kept_new) else None
        if after is None:
            text = say("schedule_moved_last", number=section.number, title=section.title)
        else:
            text = say("schedule_moved", number=section.number, title=section.title, before=old[after].number,
                       before_title=old[after].title)
        out.append(Provision(text, ops=[ops.MoveSchedule(section.number, old[after].number if after else "")]))
        stay.add(key)
    return out


def _unit_lines(unit: diff.Unit) -> list[str]:
    return [" ".join(((b.full_number if isinstance(b, tree.Para) else "") + " " + diff.block_text(b)).split())
            for b in unit.blocks]


def _mismatches(applied: tree.Document, new: tree.Document) -> tuple[set, set]:
    """(clauses, schedules) of ``new`` that ``applied`` does not reproduce exactly."""
    units, schedules = set(), set()
    got = {diff.section_key(s): s for s in applied.sections}
    for section in new.sections:
        if section.kind in ("execution", "annex"):
            continue
        mine = got.get(diff.section_key(section))
        if mine is None:
            schedules.add(section.key)
            continue
        if section.kind == "schedule" and (mine.title, mine.subtitle, mine.number) != \
                (section.title, section.subtitle, section.number):
            schedules.add(section.key)
        have = {u.key: _unit_lines(u) for u in diff.units(mine)}
        for unit in diff.units(section):
            if have.get(unit.key) != _unit_lines(unit):
                if section.kind == "schedule":
                    schedules.add(section.key)
                else:
                    units.add((diff.section_key(section), unit.key))
        if section.kind == "schedule" and set(have) != {u.key for u in diff.units(section)}:
            schedules.add(section.key)
    return units, schedules


def plan_deed(old_doc: tree.Document, new_doc: tree.Document, old_agreement=None, new_agreement=None) -> Plan:
    """The provisions taking ``old_doc`` to ``new_doc``, each checked by applying it.

    Short edits to a clause that do not give its new text exactly are
    replaced by the whole clause (a schedule's, by the whole schedule).
    """
    parties, renames = _party_changes(old_doc, new_doc, old_agreement, new_agreement)
    old_schedules, new_schedules = _schedules(old_doc), _schedules(new_doc)
    numbers = {s.number: new_schedules[k].number for k, s in old_schedules.items() if k in new_schedules}
    gone = tuple(s.title for k, s in old_schedules.items() if k not in new_schedules)
    come = tuple(s.title for k, s in new_schedules.items() if k not in old_schedules)
    view = View(renames, numbers, gone, come)
    whole_units: set = set()
    whole_schedules: set = set()
    for _ in range(3):
        provisions, annexes = _provisions(old_doc, new_doc, view, parties, whole_units, whole_schedules)
        state = ops.start(old_doc)
        failed = {id(op) for op, _ in ops.apply_ops(state, [op for p in provisions for op in p.ops])}
        renumbered = ops.numbering_changed(state)
        ops.renumber(state)
        units, schedules = _mismatches(state.document, new_doc)
        for provision in provisions:
            if any(id(op) in failed for op in provision.ops):
                if any(isinstance(op, (ops.ReplaceSchedule, ops.AddSchedule)) for op in provision.ops):
                    continue
                section, key = provision.unit or ("", "")
                if section in old_schedules:
                    schedules.add(section)
                else:
                    units.add((section, key))
        if not (units - whole_units or schedules - whole_schedules):
            break
        whole_units |= units
        whole_schedules |= schedules
    return Plan(provisions, annexes, renumbered)


def _para(text: str, level: int = 0, key: str = "", heading: str = "", style: str = "") -> tree.Para:
    return tree.Para([tree.Text(text)] if text else [], level=level, key=key, heading=heading, style=style)


def _emit(provision: Provision, level: int) -> list[tree.Block]:
    blocks: list[tree.Block] = [_para(provision.text, level)]
    for n, item in enumerate(provision.items):
        ending = "; and" if n == len(provision.items) - 2 else ";" if n < len(provision.items) - 1 else "."
        blocks.append(_para(item + ending, level + 1))
    blocks += provision.quoted
    return blocks


def _variation_clause(old: tree.Document) -> str:
    for section in old.sections:
        if section.kind == "body":
            for unit in diff.units(section):
                if diff.short_key(unit.key) == "variation" and unit.number:
                    return unit.number
    return ""


def deed_warnings(old_doc: tree.Document, old_agreement, new_agreement, effective_iso: str = "",
                  old_name: str = "OLD", new_name: str = "NEW") -> list[Diagnostic]:
    """What a reviewer should check before this deed is signed."""
    found = []
    if not old_doc.date:
        found.append(Diagnostic(Location(f"{old_name}/agreement.yaml"), WARNING, "S75-DEED-UNSIGNED",
                                "the agreement being varied has no date, so it may not have been signed; "
                                "the deed says it is dated [\u25cf]",
                                "vary the signed agreement (give its agreement_date), or amend the draft instead"))
    if effective_iso and old_agreement is not None and new_agreement is not None:
        for year in sorted(_changed_years(old_agreement, new_agreement)):
            end = dt.date(int(year[:4]) + 1, 3, 31)
            if end < dt.date.fromisoformat(effective_iso):
                found.append(Diagnostic(Location(f"{new_name}/schedules"), WARNING, "S75-DEED-PAST-YEAR",
                                        f"the deed changes money for {year}, a financial year that ended on "
                                        f"{format_date(end)}, before the deed takes effect",
                                        "check that a past year's figures are meant to change, or give an earlier "
                                        "--effective date"))
    return found


def _changed_years(old_agreement, new_agreement) -> set[str]:
    return {m.year for m in diff.money_changes(old_agreement, new_agreement) if re.fullmatch(r"\d{4}-\d{2}", m.year)}


def build_deed(old_doc: tree.Document, new_doc: tree.Document, old_agreement, new_agreement,
               date: str | None = None, effective: str | None = None, plan: Plan | None = None,
               new_name: str = "NEW") -> tree.Document:
    """The deed of variation from ``old`` to ``new`` as a numbered document tree; UsageError if nothing changed."""
    words = wording()
    date_text, date_iso = deed_date(date, "--date")
    effective_text, _ = deed_date(effective, "--effective")
    plan = plan or plan_deed(old_doc, new_doc, old_agreement, new_agreement)
    if plan.empty:
        raise UsageError(Diagnostic(Location(new_name), ERROR, "S75-DEED-EMPTY",
                                    "the two versions have the same text, so there is nothing for a deed to vary",
                                    "compare the version that was signed with the one you want it to become"))
    act, regulations = words["act"], words["regulations"]
    variation = _variation_clause(old_doc)
    clause = words["variation_clause"].format(number=variation) if variation else words["variation_clause_unknown"]
    recitals = []
    for text in words["recitals"]:
        text = text.format(act=act, title=q(old_doc.title), date="\x00", variation_clause=clause)
        before, _, after = text.partition("\x00")
        dated = [tree.Text(old_doc.date)] if old_doc.date else [tree.Blank("date of the Agreement")]
        parts = [tree.Text(before)] + (dated if _ else []) + ([tree.Text(after)] if after else [])
        recitals.append(tree.Para([p for p in parts if not (isinstance(p, tree.Text) and not p.text)], level=2))
        if len(recitals) == 1:
            recitals += _successions(old_agreement, new_agreement)
    effective_words = effective_text or words["effective_default"]
    deed_body: list[tree.Block] = [_para("", 1, "deed-interpretation", words["interpretation"]["heading"])]
    deed_body += [_para(t.format(effective=effective_words), 2) for t in words["interpretation"]["paragraphs"]]
    deed_body += [_para("", 1, "deed-variation", words["variation"]["heading"]),
                  _para(words["variation"]["opening"], 2)]
    for provision in plan.provisions:
        deed_body += _emit(provision, 3)
    if plan.renumbered:
        deed_body.append(_para(" ".join(words["variation"]["renumbering"].split()), 2))
    for part in ("effect", "general"):
        deed_body.append(_para("", 1, f"deed-{part}", words[part]["heading"]))
        deed_body += [_para(" ".join(t.format(act=act, regulations=regulations).split()), 2)
                      for t in words[part]["paragraphs"]]
    sections = [
        tree.Section("recitals", "Background", recitals, key="recitals"),
        tree.Section("body", "Agreed terms", deed_body, key="body"),
        *plan.annexes,
        tree.Section("execution", "Execution", _execution(new_agreement, old_agreement), key="execution"),
    ]
    parties = _deed_parties(old_doc, new_doc, old_agreement, new_agreement)
    document = tree.Document(
        title=words["title"].format(title=new_doc.title),
        subtitle=words["subtitle"].format(act=act),
        version="1", status="for signature" if date_text else "draft",
        date=date_text, parties=parties, sections=sections, subject=words["subject"],
        keywords=", ".join(p.name for p in parties), iso_date=date_iso or new_doc.iso_date,
    )
    number_document(document)
    return document


def _successions(old_agreement, new_agreement) -> list[tree.Block]:
    """A recital for each party that has succeeded another since the old version, worded by the clause library."""
    if old_agreement is None or new_agreement is None:
        return []
    before = {p.key: p for p in old_agreement.parties}
    library = default_library()
    renderer = Renderer(library, new_agreement)
    blocks: list[tree.Block] = []
    for party in new_agreement.parties:
        if "succeeds" in party and "succeeds" not in before.get(party.key, {"succeeds": None}):
            blocks += renderer.clause_blocks(library.clauses["variation-succession"],
                                             {"agreement": new_agreement, "party": party}, "", level_one=False)
    if renderer.problems:
        raise BuildError(renderer.problems)
    return blocks


def _deed_parties(old: tree.Document, new: tree.Document, old_agreement=None,
                  new_agreement=None) -> list[tree.PartyLine]:
    """The parties to the agreement as varied, then any party leaving it (matched by key)."""
    old_parties, new_parties, _ = diff.matched_parties(old, new, old_agreement, new_agreement)
    return list(new_parties.values()) + [p for k, p in old_parties.items() if k not in new_parties]


def _party_changes(old_doc, new_doc, old_agreement, new_agreement) -> tuple[list[Provision], dict[str, str]]:
    """Provisions for parties joining, leaving or renamed (by key, or by a recorded succession),
    and the words the renaming replaces throughout (old -> new)."""
    if old_agreement is None or new_agreement is None:
        return [], {}
    old_lines, new_lines, keyed = diff.matched_parties(old_doc, new_doc, old_agreement, new_agreement)
    succession = diff.successions(old_agreement, new_agreement)
    old = {succession.get(p.key, p.key): p for p in old_agreement.parties}
    new = {p.key: p for p in new_agreement.parties}
    out = []
    pairs: dict[str, str] = {}
    for key, party in new.items():
        before = old.get(key)
        if before is None:
            line = new_lines.get(key) if keyed else None
            out.append(Provision(say("party_joins", name=party.name, short=q(party.short_name)),
                                 ops=[ops.AddParty(line)] if line else []))
            continue
        mine = {}
        for name in ("name", "address", "short_name"):
            a, b = before[name], party[name]
            if name == "short_name" and a.startswith("the ") and b.startswith("the "):
                a, b = a[4:], b[4:]  # "CCG" -> "ICB" also renames the column headed "CCG"
            if a != b:
                mine[a] = b
        pairs.update(mine)
        items = [say("phrase_replaced", old=q(a), new=q(b)) for a, b in mine.items()]
        rename = [ops.Rename(tuple(mine.items()))] if mine else []
        if before.key != party.key:
            out.append(Provision(say("party_succeeds", new_name=party.name, old_name=before.name), items=items,
                                 ops=rename))
        elif len(items) == 1:
            out.append(Provision(say("party_renamed", item=items[0]), ops=rename))
        elif items:
            out.append(Provision(say("party_renamed_many"), items=items, ops=rename))
    for key, party in old.items():
        if key not in new:
            out.append(Provision(say("party_leaves", name=party.name), ops=[ops.RemoveParty(party.name)]))
    if keyed:  # an entry in the parties that reads otherwise than the renaming makes it ("as successor to")
        change = ops.renamer(pairs)
        for key, line in new_lines.items():
            before = old_lines.get(key)
            if before is None:
                continue
            renamed = tree.PartyLine(change(before.name), change(before.address), change(before.short_name))
            if renamed != line:
                entry = f"{line.name} of {line.address} ({q(line.short_name)})"
                out.append(Provision(say("party_entry", party=renamed.name, entry=q(entry)),
                                     ops=[ops.ReplaceParty(renamed.name, line)]))
    return out, pairs


def _execution(new_agreement, old_agreement) -> list[tree.Block]:
    """One execution block for each party to the deed: the new parties, then any leaving (by key)."""
    words = wording()["execution"]
    blocks: list[tree.Block] = [_para(words["testimonium"])]
    seen = set()
    for agreement in (new_agreement, old_agreement):
        for party in agreement.parties if agreement is not None else ():
            if party.key in seen:
                continue
            seen.add(party.key)
            officers = [(o.role, o.get("name", "")) for o in party.execution.signatories]
            intro = words["common_seal" if party.execution.method == "common_seal" else "signatories"]
            blocks.append(tree.SignatureBlock(party.name, party.execution.method, officers,
                                              intro=intro.format(name=party.name)))
    return blocks
