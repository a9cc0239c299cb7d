"""A deed of variation: the changes from one version of an agreement to the next,
written as operative provisions, built as a :class:`tree.Document` for the
ordinary writer.

References in the provisions are to the agreement as it stands before the
deed (the old numbering); replacement text is quoted as it will read after
(the new numbering). Small changes are written word for word ("in clause
7.2, “three” is replaced by “six”"); a clause with many changes is replaced
whole; a schedule with structural changes is replaced by one annexed in
full; an added schedule is annexed too.

Parties are matched by key: the deed is made between the parties to the
agreement as varied (and any party leaving it), each signing once under
its new name. A party whose name, short name or address changed gets one
provision replacing the old words throughout the agreement, and changes
to the text that say nothing more than that are not repeated.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from dataclasses import dataclass, field

from assembler.review import diff

from assembler.engine import tree
from assembler.engine.library import default_library
from assembler.engine.render import Renderer
from assembler.diagnostics import ERROR, BuildError, Diagnostic, Location, UsageError
from assembler.model import format_date
from assembler.engine.number import number_document
from assembler.engine.text import inline_text

MAX_CLAUSE_EDITS = 4  # more separate edits than this to one clause: replace the clause
MAX_SCHEDULE_EDITS = 10  # ... to one schedule: replace the schedule
MAX_PHRASES = 3  # phrase edits in one paragraph written out; more: replace the paragraph
MERGE_GAP = 3  # changes this many unchanged words apart or fewer are one phrase
ACT = "the National Health Service Act 2006"
REGULATIONS = "the NHS Bodies and Local Authorities Partnership Arrangements Regulations 2000"
# Words, figures, spaces and punctuation; "£1,240,000," is a figure and a comma.
_TOKEN = re.compile(r"\s+|£?\d+(?:,\d{3})*(?:\.\d+)?|\w+(?:['\u2019]\w+)*|[^\w\s]")
_DEFINITION = re.compile("^\u201c([^\u201d]+)\u201d means")
_FIGURE = re.compile(r"£?\d+(?:,\d{3})*(?:\.\d+)?")


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
    """One operative variation: a sentence, optional sub-items, optional quoted blocks."""

    text: str
    items: list[str] = field(default_factory=list)
    quoted: list[tree.Block] = field(default_factory=list)


class Renames:
    """Words a renamed party's provision replaces throughout the agreement (old -> new)."""

    def __init__(self, pairs: dict[str, str] | None = None):
        self.pairs = {a: b for a, b in (pairs or {}).items() if a and a != b}
        olds = sorted(self.pairs, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(a) for a in olds)) if olds else None

    def __bool__(self) -> bool:
        return bool(self.pairs)

    def __call__(self, text: str) -> str:
        """``text`` as it reads once the replacements are made (all at once)."""
        return self._pattern.sub(lambda m: self.pairs[m.group(0)], text) if self._pattern else text

    def block(self, block: tree.Block) -> tree.Block:
        """A copy of ``block`` with the replacements made, to compare with the new text."""
        if not self:
            return block
        if isinstance(block, tree.Para):
            parts = [dataclasses.replace(p, text=self(p.text)) if isinstance(p, (tree.Text, tree.TermUse)) else p
                     for p in block.parts]
            return dataclasses.replace(block, parts=parts, heading=self(block.heading))
        if isinstance(block, tree.Table):
            return dataclasses.replace(block, columns=[self(c) for c in block.columns], caption=self(block.caption),
                                       rows=[[self(c) for c in row] for row in block.rows])
        return dataclasses.replace(block, party_name=self(block.party_name), intro=self(block.intro),
                                   lines=[(self(r), self(n)) for r, n in block.lines])


NO_RENAMES = Renames()


def _place(section: tree.Section, number: str) -> str:
    """'clause 7.2', 'paragraph 1.1 of Schedule 2', 'recital (B)'."""
    if section.kind == "schedule":
        return f"paragraph {number} of Schedule {section.number}" if number else f"Schedule {section.number}"
    if section.kind == "recitals":
        return f"recital {number}"
    return f"clause {number}"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _display(block: tree.Block) -> str:
    if isinstance(block, tree.Para):
        text = inline_text(block.parts)
        return block.heading if block.level == 1 and not text else text
    return diff.block_text(block)


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
                                  caption=block.caption, fit_columns=block.fit_columns))
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


def _applied(old: str, edits: list[tuple[str, str]]) -> str:
    """``old`` with each quoted phrase (once in ``old``) replaced, all at once."""
    found = sorted((old.index(before), before, after) for before, after in edits)
    out, at = [], 0
    for start, before, after in found:
        out += [old[at:start], after]
        at = start + len(before)
    return "".join(out + [old[at:]])


def phrase_edits(old: str, new: str) -> list[tuple[str, str]] | None:
    """Each edit as (old words, new words), or None if it cannot be said briefly.

    Each quoted old phrase occurs once in ``old``, and making every
    replacement in ``old`` gives ``new``. None (replace the whole paragraph)
    when there are more than MAX_PHRASES phrases, when they change more than
    half the words (unless each is one figure for another), or when no short
    phrase is unambiguous.
    """
    a, b = _TOKEN.findall(old), _TOKEN.findall(new)
    spans = _spans(a, b)
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
    if _settled(_applied(old, edits)) != _settled(new):
        return None
    return edits


def _para_edit(section: tree.Section, old: tree.Para, new: tree.Para, anchor: str) -> Provision:
    """The provision for one changed paragraph."""
    where = _place(section, old.full_number) if old.number else anchor
    if old.level == 1:
        if inline_text(old.parts) == inline_text(new.parts):
            return Provision(f"The heading of {where} is replaced by {q(new.heading)}.")
        return Provision(f"{_cap(where)} is deleted and replaced by:", quoted=_quote_blocks([new]))
    definition = _DEFINITION.match(_display(old))
    edits = phrase_edits(_display(old), _display(new))
    if edits:
        sentences = [f"{q(a)} is replaced by {q(b)}" if b else f"{q(a)} is deleted" for a, b in edits]
        subject = f"the definition of {q(definition.group(1))} in {anchor}" if definition and not old.number else where
        if len(sentences) == 1:
            return Provision(f"In {subject}, {sentences[0]}.")
        return Provision(f"In {subject}:", items=sentences)
    if definition and not old.number:
        return Provision(f"In {anchor}, the definition of {q(definition.group(1))} is deleted and replaced by:",
                         quoted=_quote_blocks([new]))
    return Provision(f"{_cap(where)} is deleted and replaced by:", quoted=_quote_blocks([new]))


def _table_edit(section: tree.Section, old: tree.Table, new: tree.Table, anchor: str,
                renames: Renames = NO_RENAMES) -> Provision | None:
    """Cell by cell, or the whole table when its columns changed."""
    title = f"the table headed {q(old.caption)}" if old.caption else "the table"
    if [renames(c) for c in old.columns] != new.columns:
        return Provision(f"In {anchor}, {title} is deleted and replaced by:", quoted=[_quote_blocks([new])[0]])
    items = []
    previous = None
    # Rows are aligned as they read after any renaming, and quoted as they read before.
    shown = {id(r): [renames(c) for c in r] for r in old.rows}
    look = lambda r: shown.get(id(r), r)  # noqa: E731
    for op, a, b in diff.align(old.rows, new.rows, lambda r: "\x1f".join(look(r)), lambda x, y: look(x)[0] == y[0]):
        if op == "equal":
            previous = b
            continue
        if op == "changed":
            for column, x, y in zip(new.columns, a, b):
                if renames(x) != y:
                    items.append(f"in the row {q(a[0] or 'Total')}, in the column {q(column)}, "
                                 f"{q(x or '(blank)')} is replaced by {q(y or '(blank)')}")
        elif op == "deleted":
            items.append(f"the row {q(a[0])} is deleted")
        else:
            after = f"after the row {q(previous[0])}" if previous is not None else "as the first row"
            items.append(f"the following row is inserted {after}: {q(' | '.join(b))}")
        if b is not None:
            previous = b
    if not items:
        return None
    if len(items) == 1:
        return Provision(f"In {title} in {anchor}, {items[0]}.")
    return Provision(f"In {title} in {anchor}:", items=items)


def _unit_edits(section: tree.Section, old: diff.Unit, new: diff.Unit,
                renames: Renames = NO_RENAMES) -> list[Provision]:
    provisions: list[Provision] = []
    anchor = _place(section, old.number) if old.number else _place(section, "")
    last_old: tree.Block | None = None
    here = anchor
    # Blocks are compared as they read after any renaming (so a change that is only
    # the renaming is no change), and quoted as they read before.
    renamed = [renames.block(block) for block in old.blocks]
    original = {id(r): block for r, block in zip(renamed, old.blocks)}
    for op, a, b in diff.align_blocks(renamed, new.blocks, refs_by_key=True):
        a = original[id(a)] if a is not None else None
        if isinstance(last_old, tree.Para) and last_old.number:
            here = _place(section, last_old.full_number)
        if op == "equal":
            last_old = a
            continue
        if op == "changed":
            if isinstance(a, tree.Para) and isinstance(b, tree.Para):
                provisions.append(_para_edit(section, a, b, here))
            elif isinstance(a, tree.Table) and isinstance(b, tree.Table):
                found = _table_edit(section, a, b, here, renames)
                if found:
                    provisions.append(found)
            last_old = a
        elif op == "deleted":
            if isinstance(a, tree.Para) and a.number:
                provisions.append(Provision(f"{_cap(_place(section, a.full_number))} is deleted."))
            elif isinstance(a, tree.Para) and _DEFINITION.match(_display(a)):
                provisions.append(Provision(f"In {here}, the definition of {q(_DEFINITION.match(_display(a)).group(1))} is deleted."))
            else:
                provisions.append(Provision(f"In {here}, the following is deleted: {q(_display(a))}."))
            last_old = a
        else:
            if isinstance(b, tree.Para) and not b.number and _DEFINITION.match(_display(b)):
                provisions.append(Provision(f"In {here}, the following definition is inserted in its alphabetical place:",
                                            quoted=_quote_blocks([b])))
            else:
                provisions.append(Provision(f"The following is inserted after {here}:", quoted=_quote_blocks([b])))
    return provisions


def _section_edits(old: tree.Section, new: tree.Section,
                   renames: Renames = NO_RENAMES) -> tuple[list[Provision], bool]:
    """Provisions for one section, and whether it changed structurally (clauses added or removed)."""
    provisions: list[Provision] = []
    structural = False
    old_units = diff.units(old)
    previous_old: diff.Unit | None = None
    old_keys = {u.key for u in old_units}
    new_keys = {u.key for u in diff.units(new)}
    for op, a, b in diff.align(old_units, diff.units(new), lambda u: u.key):
        if op == "equal":
            edits = _unit_edits(old, a, b, renames)
            if len(edits) > MAX_CLAUSE_EDITS and a.number:
                edits = [Provision(f"{_cap(_place(old, a.number))} ({a.heading}) is deleted and replaced by:",
                                   quoted=_quote_blocks(b.blocks))]
            provisions += edits
            previous_old = a
        elif op == "deleted":
            if a.key in new_keys:
                continue  # moved: written where it is inserted
            structural = True
            provisions.append(Provision(f"{_cap(_place(old, a.number))} ({a.heading}) is deleted."
                                        if a.number else f"In {_place(old, '')}, the opening text is deleted."))
            previous_old = a
        else:
            structural = True
            after = (f"after {_place(old, previous_old.number)}" if previous_old is not None and previous_old.number
                     else "at the beginning")
            word = "clause" if old.kind == "body" else "paragraph"
            if b.key in old_keys:
                source = next(u for u in old_units if u.key == b.key)
                provisions.append(Provision(f"{_cap(_place(old, source.number))} ({source.heading}) is moved to "
                                            f"follow {after.removeprefix('after ')} and reads:" if previous_old else
                                            f"{_cap(_place(old, source.number))} ({source.heading}) is moved {after} and reads:",
                                            quoted=_quote_blocks(b.blocks)))
            else:
                provisions.append(Provision(f"The following {word} is inserted {after}:", quoted=_quote_blocks(b.blocks)))
    return provisions, structural


# --- the deed ---------------------------------------------------------------------------


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


def build_deed(old_doc: tree.Document, new_doc: tree.Document, old_agreement, new_agreement,
               date: str | None = None, effective: str | None = None) -> tree.Document:
    """The deed of variation from ``old`` to ``new`` as a numbered document tree."""
    date_text, date_iso = deed_date(date, "--date")
    effective_text, _ = deed_date(effective, "--effective")
    changes: list[tuple[str, list[Provision]]] = []  # (group heading, provisions)
    annexes: list[tree.Section] = []
    renumbered = False

    def annex(section: tree.Section, how: str) -> str:
        letter = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[len(annexes) % 26]
        annexes.append(tree.Section("annex", f"Schedule {section.number}: {section.title} ({how})",
                                    [b for b in section.blocks], key=f"annex-{section.key}", number=letter))
        return f"Annex {letter}"

    parties, renames = _party_changes(old_agreement, new_agreement)
    old_sections = {diff.section_key(s): s for s in old_doc.sections}
    new_sections = {diff.section_key(s): s for s in new_doc.sections}
    body: list[Provision] = []
    schedules: list[Provision] = []
    for section in new_doc.sections:
        key = diff.section_key(section)
        before = old_sections.get(key)
        if section.kind == "execution":
            continue
        if before is None:
            if section.kind == "schedule":
                where = annex(section, "added by this Deed")
                schedules.append(Provision(f"The schedule set out in {where} is added to the Agreement as "
                                           f"Schedule {section.number} ({section.title})."))
                renumbered = True
            continue
        if section.kind == "schedule" and before.number != section.number:
            renumbered = True
        provisions, structural = _section_edits(before, section, renames)
        if section.kind == "schedule":
            if provisions and (structural or len(provisions) > MAX_SCHEDULE_EDITS):
                where = annex(section, "as substituted by this Deed")
                schedules.append(Provision(f"Schedule {before.number} ({before.title}) is deleted and replaced by "
                                           f"the schedule set out in {where}."))
            else:
                schedules += provisions
        else:
            body += provisions
            if any(u.number != v.number for u in diff.units(before) for v in diff.units(section) if u.key == v.key):
                renumbered = True
    for section in old_doc.sections:
        if diff.section_key(section) not in new_sections and section.kind == "schedule":
            schedules.append(Provision(f"Schedule {section.number} ({section.title}) is deleted."))
            renumbered = True
    if parties:
        changes.append(("parties", parties))
    changes.append(("body", body))
    changes.append(("schedules", schedules))

    old_date = old_doc.date
    variation = _variation_clause(old_doc)
    date_part: list[tree.Inline] = [tree.Text(old_date)] if old_date else [tree.Blank("date of the Agreement")]
    recitals = [
        tree.Para([tree.Text("The Partners entered into a partnership agreement under section 75 of "
                             f"{ACT} entitled {q(old_doc.title)}, dated ")] + date_part +
                  [tree.Text(f" (the {q('Agreement')}).")], level=2),
        *_successions(old_agreement, new_agreement),
        _para(f"Clause {variation} of the Agreement provides that it may be varied by written agreement of the Partners."
              if variation else "The Agreement may be varied by written agreement of the Partners.", level=2),
        _para("The Partners have agreed to vary the Agreement on the terms of this Deed.", level=2),
    ]
    effective_words = effective_text or "the date of this Deed"
    deed_body: list[tree.Block] = [
        _para("", 1, "deed-interpretation", "Definitions and interpretation"),
        _para(f"In this Deed, {q('Agreement')} has the meaning given in recital (A), and "
              f"{q('Effective Date')} means {effective_words}.", 2),
        _para("Words defined in the Agreement have the same meaning in this Deed.", 2),
        _para("A reference in clause 2 to a clause, paragraph or Schedule is to that clause, paragraph or Schedule "
              "of the Agreement as it stands before this Deed takes effect. Text to be inserted is set out as it "
              "will read in the Agreement as varied.", 2),
        _para("", 1, "deed-variation", "Variation"),
        _para("With effect from the Effective Date the Agreement is varied as follows.", 2),
    ]
    count = 0
    for _, provisions in changes:
        for provision in provisions:
            deed_body += _emit(provision, 3)
            count += 1
    if count == 0:
        deed_body.append(_para("There are no changes to the text of the Agreement.", 3))
    if renumbered:
        deed_body.append(_para("The clauses, paragraphs and Schedules of the Agreement are renumbered, and the "
                               "references to them are updated, to take account of the variations in this clause.", 2))
    deed_body += [
        _para("", 1, "deed-effect", "Effect of this Deed"),
        _para("Except as varied by this Deed, the Agreement continues in full force and effect.", 2),
        _para("From the Effective Date, a reference in the Agreement to the Agreement is a reference to it as "
              "varied by this Deed, and the Agreement and this Deed are to be read as one document.", 2),
        _para("This Deed does not affect any right, obligation or liability of a Partner that arose under the "
              "Agreement before the Effective Date.", 2),
        _para("The Partners are satisfied that the Agreement as varied continues to meet the requirements of "
              f"section 75 of {ACT} and {REGULATIONS}.", 2),
        _para("", 1, "deed-general", "General"),
        _para("This Deed may be executed in any number of counterparts, each of which is an original and all of "
              "which together are one deed.", 2),
        _para("This Deed and any dispute or claim arising out of or in connection with it are governed by the law "
              "of England and Wales.", 2),
    ]
    sections = [
        tree.Section("recitals", "Background", recitals, key="recitals"),
        tree.Section("body", "Agreed terms", deed_body, key="body"),
        *annexes,
        tree.Section("execution", "Execution", _execution(new_agreement, old_agreement), key="execution"),
    ]
    parties = _deed_parties(old_doc, new_doc, old_agreement, new_agreement)
    document = tree.Document(
        title=f"Deed of variation: {new_doc.title}",
        subtitle=f"Varying a partnership agreement made under section 75 of {ACT}",
        version=new_doc.version, status=new_doc.status, date=date_text, parties=parties, sections=sections,
        subject="Deed of variation of a section 75 partnership agreement",
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


_DETAILS = ("name", "short_name", "address")  # what a renamed party's provision can replace


def _party_changes(old_agreement, new_agreement) -> tuple[list[Provision], Renames]:
    """Provisions for parties joining, leaving or renamed (by key), and the renaming they make."""
    if old_agreement is None or new_agreement is None:
        return [], NO_RENAMES
    old = {p.key: p for p in old_agreement.parties}
    new = {p.key: p for p in new_agreement.parties}
    out = []
    pairs: dict[str, str] = {}
    for key, party in new.items():
        before = old.get(key)
        if before is None:
            out.append(Provision(f"{party.name} becomes a party to the Agreement as a Partner, and is referred "
                                 f"to in it as {q(party.short_name)}."))
            continue
        items = [f"{q(before[name])} is replaced by {q(party[name])}" for name in _DETAILS
                 if before[name] != party[name]]
        pairs.update({before[name]: party[name] for name in _DETAILS})
        if len(items) == 1:
            out.append(Provision(f"In the parties to the Agreement and throughout it, {items[0]}."))
        elif items:
            out.append(Provision("In the parties to the Agreement and throughout it:", items=items))
    for key, party in old.items():
        if key not in new:
            out.append(Provision(f"{party.name} ceases to be a party to the Agreement."))
    return out, Renames(pairs)


def _execution(new_agreement, old_agreement) -> list[tree.Block]:
    """One execution block for each party to the deed: the new parties, then any leaving (by key)."""
    blocks: list[tree.Block] = [_para(
        "This document has been executed as a deed and is delivered on the date written at the beginning of it.")]
    seen = set()
    for agreement in (new_agreement, old_agreement):
        for party in agreement.parties if agreement is not None else ():
            if party.key in seen:
                continue
            seen.add(party.key)
            officers = [(o.role, o.get("name", "")) for o in party.execution.signatories]
            if party.execution.method == "common_seal":
                intro = f"Executed as a deed by affixing the common seal of {party.name} in the presence of:"
            else:
                intro = f"Executed as a deed by {party.name} acting by:"
            blocks.append(tree.SignatureBlock(party.name, party.execution.method, officers, intro=intro))
    return blocks
