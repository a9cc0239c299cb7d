"""The new agreement as a Word document with tracked changes against the old.

Both versions are assembled by the engine, so the comparison is between the
two clause trees, not between two Word files. The two trees are merged into
one (:func:`merge_documents`): unchanged blocks from the new version,
removed ones from the old in their old place, changed paragraphs word by
word. Merged text carries private-use marker characters; the ordinary
writer writes it, and :func:`assembler.ooxml.track_changes_in_package`
turns the markers into ``w:ins`` / ``w:del`` with the given author and date
(never the clock).

"Accept all" in Word gives the plain build of the new version, and "Reject
all" the old one (paragraph numbers are Word's own, so they follow). The
table of contents is a field that Word rebuilds when the document opens.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace
from typing import Sequence

from assembler import diff, ooxml, tree
from assembler.diagnostics import ERROR, Diagnostic, Location, UsageError

INS, DEL, END = "\ue100", "\ue101", "\ue102"
ROW_INS, ROW_DEL = "\ue103", "\ue104"
BLOCK_INS, BLOCK_DEL, BLOCK_END = "\ue105", "\ue106", "\ue107"
MARKS = ooxml.ChangeMarks(INS, DEL, END, ROW_INS, ROW_DEL, BLOCK_INS, BLOCK_DEL, BLOCK_END)
DEFAULT_AUTHOR = "s75 assembler"
_TOKEN = re.compile(r"\s+|£?\d[\d,]*(?:\.\d+)?|\w+(?:['\u2019]\w+)*|[^\w\s]")


def revision_date(text: str, where: str = "--date") -> str:
    """An ISO date (YYYY-MM-DD) as the w:date Word expects; a clean usage error otherwise."""
    try:
        day = dt.date.fromisoformat(str(text).strip())
    except ValueError:
        raise UsageError(Diagnostic(Location(where), ERROR, "S75-DATE",
                                    f"'{text}' is not a date in the form YYYY-MM-DD", "e.g. --date 2018-04-01"))
    return f"{day.isoformat()}T00:00:00Z"


def default_date(document: tree.Document) -> str:
    """The new agreement's own date, else its commencement: never the clock."""
    return document.iso_date or "2000-01-01"


# --- strings and inline parts -----------------------------------------------------


def _wrap(text: str, mode: str) -> str:
    return f"{INS if mode == 'ins' else DEL}{text}{END}" if text else ""


def diff_string(old: str, new: str) -> str:
    """``new`` with the words that differ from ``old`` marked."""
    if old == new:
        return new
    a, b = _TOKEN.findall(old), _TOKEN.findall(new)
    out = []
    for tag, i, j, k, m in _matcher(a, b).get_opcodes():
        if tag == "equal":
            out.append("".join(b[k:m]))
            continue
        out.append(_wrap("".join(a[i:j]), "del") + _wrap("".join(b[k:m]), "ins"))
    return "".join(out)


def _matcher(a, b):
    import difflib

    return difflib.SequenceMatcher(None, a, b, autojunk=False)


def _tokens(parts: Sequence[tree.Inline]) -> list[tuple[object, tree.Inline]]:
    """(comparison key, part) per word of text, or per whole term, reference or blank."""
    out: list[tuple[object, tree.Inline]] = []
    for part in parts:
        if isinstance(part, tree.Text):
            for token in _TOKEN.findall(part.text):
                out.append((("t", token, part.bold, part.italic), tree.Text(token, part.bold, part.italic)))
        elif isinstance(part, tree.Ref):
            out.append((("r", part.key, part.number, part.label), part))
        else:
            out.append((("p", repr(part)), part))
    return out


def _merge_text(parts: list[tree.Inline]) -> list[tree.Inline]:
    merged: list[tree.Inline] = []
    for part in parts:
        last = merged[-1] if merged else None
        if (isinstance(part, tree.Text) and isinstance(last, tree.Text) and (last.bold, last.italic) == (part.bold, part.italic)
                and not any(c in MARKS.all for c in part.text + last.text)):
            merged[-1] = tree.Text(last.text + part.text, last.bold, last.italic)
        else:
            merged.append(part)
    return merged


def diff_parts(old: Sequence[tree.Inline], new: Sequence[tree.Inline]) -> list[tree.Inline]:
    a, b = _tokens(old), _tokens(new)
    out: list[tree.Inline] = []
    for tag, i, j, k, m in _matcher([t[0] for t in a], [t[0] for t in b]).get_opcodes():
        if tag == "equal":
            out += [p for _, p in b[k:m]]
            continue
        if i < j:
            out += [tree.Text(DEL)] + [p for _, p in a[i:j]] + [tree.Text(END)]
        if k < m:
            out += [tree.Text(INS)] + [p for _, p in b[k:m]] + [tree.Text(END)]
    return _merge_text(out)


def _whole_parts(parts: Sequence[tree.Inline], mode: str) -> list[tree.Inline]:
    return [tree.Text(INS if mode == "ins" else DEL)] + list(parts) + [tree.Text(END)] if parts else []


# --- blocks --------------------------------------------------------------------------


def _marker(char: str) -> tree.Para:
    return tree.Para([tree.Text(char)], level=0)


def _whole(blocks: Sequence[tree.Block], mode: str) -> list[tree.Block]:
    """Blocks inserted or deleted as a whole, inside a marked region."""
    out: list[tree.Block] = [_marker(BLOCK_INS if mode == "ins" else BLOCK_DEL)]
    for block in blocks:
        if isinstance(block, tree.Para):
            # The heading is marked too so the contents entry built from it is marked.
            block = replace(block, heading=_wrap(block.heading, mode), parts=list(block.parts))
            if mode == "del":
                block.key, block.number = "", ""
        elif isinstance(block, tree.Table) and mode == "del":
            block = replace(block, key="")
        out.append(block)
    out.append(_marker(BLOCK_END))
    return out


def _changed_para(old: tree.Para, new: tree.Para) -> tree.Para:
    return replace(new, parts=diff_parts(old.parts, new.parts), heading=diff_string(old.heading, new.heading))


def _changed_table(old: tree.Table, new: tree.Table) -> list[tree.Block]:
    if old.columns != new.columns or len(old.columns) != len(new.columns):
        return _whole([old], "del") + _whole([new], "ins")
    rows: list[list[str]] = []
    totals: set[int] = set()
    old_rows = [(i, tuple(r)) for i, r in enumerate(old.rows)]
    new_rows = [(i, tuple(r)) for i, r in enumerate(new.rows)]
    ops = diff.align(old_rows, new_rows, lambda r: "\x1f".join(r[1]), lambda a, b: a[1][0] == b[1][0])
    for op, a, b in ops:
        if op == "equal":
            row = list(b[1])
        elif op == "changed":
            row = [diff_string(x, y) for x, y in zip(a[1], b[1])]
        elif op == "inserted":
            row = [_wrap(c, "ins") for c in b[1]]
            row[0] = ROW_INS + row[0]
        else:
            row = [_wrap(c, "del") for c in a[1]]
            row[0] = ROW_DEL + row[0]
        if (b is not None and b[0] in new.total_rows) or (b is None and a[0] in old.total_rows):
            totals.add(len(rows))
        rows.append(row)
    return [replace(new, rows=rows, total_rows=totals, caption=diff_string(old.caption, new.caption),
                    columns=list(new.columns))]


def merge_blocks(old: Sequence[tree.Block], new: Sequence[tree.Block]) -> list[tree.Block]:
    out: list[tree.Block] = []
    for op, a, b in diff.align_blocks(old, new, refs_by_key=False):
        if op == "equal":
            out.append(b)
        elif op == "deleted":
            out += _whole([a], "del")
        elif op == "inserted":
            out += _whole([b], "ins")
        elif isinstance(a, tree.Para) and isinstance(b, tree.Para):
            out.append(_changed_para(a, b))
        elif isinstance(a, tree.Table) and isinstance(b, tree.Table):
            out += _changed_table(a, b)
        else:
            out += _whole([a], "del") + _whole([b], "ins")
    return out


def merge_section_blocks(old: tree.Section, new: tree.Section) -> list[tree.Block]:
    out: list[tree.Block] = []
    for op, a, b in diff.align_units(diff.units(old), diff.units(new)):
        if op == "equal":
            out += merge_blocks(a.blocks, b.blocks)
        elif op == "deleted":
            out += _whole(a.blocks, "del")
        else:
            out += _whole(b.blocks, "ins")
    return out


def merge_documents(old: tree.Document, new: tree.Document) -> tree.Document:
    """One document holding both versions, the differences marked for the writer."""
    sections: list[tree.Section] = []
    for op, a, b in diff.align_sections(old.sections, new.sections):
        if op == "equal":
            sections.append(replace(b, blocks=merge_section_blocks(a, b), title=diff_string(a.title, b.title),
                                    number=diff_string(a.number, b.number),
                                    subtitle=diff_string(a.subtitle, b.subtitle)))
            continue
        section, mode = (a, "del") if op == "deleted" else (b, "ins")
        begin, end = _marker(BLOCK_INS if mode == "ins" else BLOCK_DEL), _marker(BLOCK_END)
        whole = replace(section, title=_wrap(section.title, mode), subtitle=_wrap(section.subtitle, mode),
                        blocks=_whole(section.blocks, mode)[1:-1] + [end],
                        key=section.key if mode == "ins" else "")
        if sections:
            sections[-1].blocks.append(begin)  # the region opens before the section's heading
        else:
            whole.blocks.insert(0, begin)
        sections.append(whole)
    parties = _merge_parties(old.parties, new.parties)
    return replace(new, sections=sections, parties=parties)


def _merge_parties(old: list[tree.PartyLine], new: list[tree.PartyLine]) -> list[tree.PartyLine]:
    """Parties on the front sheet: changed fields marked word by word."""
    out = []
    for op, a, b in diff.align(old, new, lambda p: p.name, lambda x, y: True):
        if op == "equal":
            out.append(b)
        elif op == "changed":
            out.append(tree.PartyLine(diff_string(a.name, b.name), diff_string(a.address, b.address),
                                      diff_string(a.short_name, b.short_name)))
        else:
            mode = "del" if op == "deleted" else "ins"
            p = a if mode == "del" else b
            out.append(tree.PartyLine(_wrap(p.name, mode), _wrap(p.address, mode), _wrap(p.short_name, mode)))
    return out


def render_redline_bytes(old: tree.Document, new: tree.Document, author: str = DEFAULT_AUTHOR,
                         date: str | None = None) -> bytes:
    """The .docx bytes of ``new`` with tracked changes against ``old``."""
    from assembler.writer import render_docx_bytes

    when = revision_date(date) if date else revision_date(default_date(new), "the new agreement's date")
    merged = merge_documents(old, new)
    data = render_docx_bytes(merged)
    return ooxml.track_changes_in_package(data, MARKS, author or DEFAULT_AUTHOR, when)


def write_redline(old: tree.Document, new: tree.Document, path, author: str = DEFAULT_AUTHOR,
                  date: str | None = None) -> None:
    from assembler.writer import _atomic_write

    _atomic_write(path, render_redline_bytes(old, new, author, date))
