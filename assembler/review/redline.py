"""The new agreement as a Word document with tracked changes against the old.

Both versions are assembled by the engine, so the comparison is between the
two clause trees, not between two Word files. The two trees are merged into
one (:func:`merge_documents`): unchanged blocks from the new version,
removed ones from the old in their old place, changed paragraphs word by
word. Merged text carries private-use marker characters; the ordinary
writer writes it, and :func:`assembler.word.ooxml.track_changes_in_package`
turns the markers into ``w:ins`` / ``w:del`` with the given author and date
(never the clock).

The front sheet (date, parties, title, version and status), headers and
footers are not in the clause tree: docxtpl fills them in from the Word
template. They are compared as Word paragraphs instead, against the old
version's front sheet and headers written by the same writer
(:func:`track_template_text`).

"Accept all" in Word gives the plain build of the new version, and "Reject
all" the old one (paragraph numbers are Word's own, so they follow). The
table of contents is a field that Word rebuilds when the document opens.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import unicodedata
import zipfile
from dataclasses import replace
from typing import Sequence

from docx.oxml.ns import qn
from lxml import etree

from assembler.review import diff

from assembler.word import ooxml
from assembler.word.writer import atomic_write, render_docx_bytes

from assembler.engine import tree
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


def revision_author(text: str, where: str = "--author") -> str:
    """The author Word shows on each change: printable text of at most 255 characters (Word's own limit)."""
    bad = next((ch for ch in text if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")), None)
    if bad is not None or len(text) > 255:
        problem = f"holds the invisible character U+{ord(bad):04X}" if bad is not None else "is over 255 characters"
        raise UsageError(Diagnostic(Location(where), ERROR, "S75-AUTHOR", f"the author name {problem}",
                                    "give a plain name, e.g. --author 'Jane Smith'"))
    return text


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
    for tag, i, j, k, m in diff.grouped_ops(a, b):
        if tag == "equal":
            out.append("".join(b[k:m]))
            continue
        out.append(_wrap("".join(a[i:j]), "del") + _wrap("".join(b[k:m]), "ins"))
    return "".join(out)


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
    spacing = lambda key: key[0] == "t" and key[1].isspace()  # noqa: E731
    for tag, i, j, k, m in diff.grouped_ops([t[0] for t in a], [t[0] for t in b], spacing):
        if tag == "equal":
            out += [p for _, p in b[k:m]]
            continue
        if i < j:
            out += [tree.Text(DEL)] + [p for _, p in a[i:j]] + [tree.Text(END)]
        if k < m:
            out += [tree.Text(INS)] + [p for _, p in b[k:m]] + [tree.Text(END)]
    return _merge_text(out)


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
    ops = diff.align(old_rows, new_rows, lambda r: "\x1f".join(r[1]), lambda a, b: diff.same_row(a[1], b[1]))
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
    return replace(new, sections=sections)  # front sheet: see track_template_text


# --- front sheet, headers and footers -------------------------------------------
#
# What docxtpl fills in is compared paragraph by paragraph (aligned as the
# body's blocks are) and, inside a changed paragraph, word by word over its
# runs: old words in w:del with their old formatting, new ones in w:ins.

_DOCUMENT = "word/document.xml"
_TEMPLATE_PARTS = re.compile(r"word/(?:header|footer)\d*\.xml")
_P, _R, _RPR, _T, _PPR = qn("w:p"), qn("w:r"), qn("w:rPr"), qn("w:t"), qn("w:pPr")


def track_template_text(data: bytes, old_data: bytes, author: str, date: str) -> bytes:
    """``data`` (a redline) with its front sheet, headers and footers tracked against ``old_data``'s."""
    blobs, old_blobs = _package(data), _package(old_data)
    roots = {name: etree.fromstring(blobs[name]) for name in sorted(blobs)
             if name == _DOCUMENT or (_TEMPLATE_PARTS.fullmatch(name) and name in old_blobs)}
    used = [int(n) for root in roots.values() for n in root.xpath("//@w:id", namespaces={"w": ooxml.W_NS})
            if n.isdigit()]
    revisions = ooxml.Revisions(author, date, max(used, default=0) + 1)  # ids unique across all parts
    changed = False
    for name, root in roots.items():
        first = revisions.next_id
        new_part, old_part = root, etree.fromstring(old_blobs[name])
        if name == _DOCUMENT:
            new_part, old_part = root.find(qn("w:body")), old_part.find(qn("w:body"))
        _track_paragraphs(_template_paragraphs(old_part), _template_paragraphs(new_part), new_part, revisions)
        if revisions.next_id != first:
            blobs[name] = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
            changed = True
    return ooxml.normalised_zip(blobs) if changed else data


def _package(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _template_paragraphs(root: etree._Element) -> list[etree._Element]:
    """A header's or footer's paragraphs; in the body, those of the front sheet (before the contents)."""
    if root.tag != qn("w:body"):
        return root.findall(_P)
    toc = ooxml.find_toc_paragraph(root)
    if toc is None or toc.getparent() is not root:
        return []  # no contents field: no telling where the front sheet ends
    return [node for node in root[:root.index(toc)] if node.tag == _P]


def _text(p: etree._Element) -> str:
    return "".join(t.text or "" for t in p.iter(_T))


def _paragraph_key(p: etree._Element) -> str:
    return f"{_style(p)}\x1f{_text(p)}"


def _style(p: etree._Element) -> str:
    style = p.find(f"{_PPR}/{qn('w:pStyle')}")
    return "" if style is None else style.get(ooxml.w_attr("val"), "")


def _track_paragraphs(old: list[etree._Element], new: list[etree._Element], parent: etree._Element,
                      revisions: ooxml.Revisions) -> None:
    """Mark ``new`` (in ``parent``) against ``old``; old paragraphs that are gone come back deleted."""
    at = None  # the paragraph the next deleted one goes after
    for op, a, b in diff.align(old, new, _paragraph_key, lambda x, y: _style(x) == _style(y)):
        if op == "deleted":
            gone = ooxml.copy_element(a)
            for section in gone.iter(qn("w:sectPr")):  # a deleted paragraph must not end a section
                section.getparent().remove(section)
            _replace_runs(gone, [("del", _atoms(a))], revisions)
            ooxml.mark_paragraph_mark(gone, "del", revisions)
            if at is None:
                parent.insert(parent.index(new[0]) if new else 0, gone)
            else:
                at.addnext(gone)
            b = gone
        elif op == "inserted":
            _replace_runs(b, [("ins", _atoms(b))], revisions)
            ooxml.mark_paragraph_mark(b, "ins", revisions)
        elif op == "changed":
            _replace_runs(b, _diff_atoms(_atoms(a), _atoms(b)), revisions)
        at = b


def _atoms(p: etree._Element) -> list[tuple[tuple, object, etree._Element | None]]:
    """(comparison key, word or element, run properties) for each word, tab or break of ``p``'s runs."""
    out = []
    for run in p.findall(_R):
        rpr = run.find(_RPR)
        look = b"" if rpr is None else etree.tostring(rpr)
        for atom in run:
            if atom.tag == _T:
                out += [((look, word), word, rpr) for word in _TOKEN.findall(atom.text or "")]
            elif atom.tag != _RPR:
                out.append(((look, etree.tostring(atom)), atom, rpr))
    return out


def _diff_atoms(old: list, new: list) -> list[tuple[str, list]]:
    """(mode, atoms) pieces: "" unchanged (new's), "del" old's only, "ins" new's only."""
    pieces: list[tuple[str, list]] = []
    spacing = lambda key: isinstance(key[1], str) and key[1].isspace()  # noqa: E731
    for tag, i, j, k, m in diff.grouped_ops([a[0] for a in old], [b[0] for b in new], spacing):
        if tag == "equal":
            pieces.append(("", new[k:m]))
            continue
        pieces += [("del", old[i:j])] if i < j else []
        pieces += [("ins", new[k:m])] if k < m else []
    return pieces


def _replace_runs(p: etree._Element, pieces: list[tuple[str, list]], revisions: ooxml.Revisions) -> None:
    """Put ``pieces`` where ``p``'s own runs were (other content, such as bookmarks, stays)."""
    runs = p.findall(_R)
    ppr = p.find(_PPR)
    at = p.index(runs[0]) if runs else (p.index(ppr) + 1 if ppr is not None else 0)
    for run in runs:
        p.remove(run)
    for mode, atoms in pieces:
        made = _runs(atoms)
        if mode and made:
            wrapper = revisions.mark(mode)
            for run in made:
                if mode == "del":
                    ooxml.set_deleted_text(run)
                wrapper.append(run)
            made = [wrapper]
        for node in made:
            p.insert(at, node)
            at += 1


def _runs(atoms: list) -> list[etree._Element]:
    """Runs holding ``atoms``, neighbours with the same formatting in one run."""
    runs: list[etree._Element] = []
    look, text = None, None
    for key, atom, rpr in atoms:
        if not runs or key[0] != look:
            runs.append(ooxml.new_run(rpr))
            look, text = key[0], None
        if isinstance(atom, str):
            if text is None:
                text = ooxml.child(runs[-1], "w:t")
                text.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
                text.text = ""
            text.text += atom
        else:
            runs[-1].append(ooxml.copy_element(atom))
            text = None
    return runs


def render_redline_bytes(old: tree.Document, new: tree.Document, author: str = DEFAULT_AUTHOR,
                         date: str | None = None) -> bytes:
    """The .docx bytes of ``new`` with tracked changes against ``old``."""

    when = revision_date(date) if date else revision_date(default_date(new), "the new agreement's date")
    author = author or DEFAULT_AUTHOR
    merged = merge_documents(old, new)
    data = ooxml.track_changes_in_package(render_docx_bytes(merged), MARKS, author, when)
    data = track_whole_contents_entries(data, author, when)
    # Only the template's parts of the old version are wanted: its clauses are in ``merged`` already.
    return not_final(track_template_text(data, render_docx_bytes(replace(old, sections=[])), author, when))


def track_whole_contents_entries(data: bytes, author: str, date: str) -> bytes:
    """The contents entry of a schedule added or removed whole is tracked whole.

    The entry reads "SCHEDULE 6" then the title; only the title comes
    marked from the clause tree, so "Accept all" would leave an empty
    "SCHEDULE 6" line (and "Reject all" a stray one for an added schedule).
    Here the rest of such an entry, and its paragraph mark, are tracked too.
    The field's own begin and end runs are left alone.
    """
    blobs = _package(data)
    root = etree.fromstring(blobs[_DOCUMENT])
    body = root.find(qn("w:body"))
    toc = ooxml.find_toc_paragraph(body)
    if toc is None:
        return data
    used = [int(n) for n in root.xpath("//@w:id", namespaces={"w": ooxml.W_NS}) if n.isdigit()]
    revisions = ooxml.Revisions(author, date, max(used, default=0) + 1)
    style = _style(toc)
    changed = False
    for p in [toc] + list(toc.itersiblings()):
        if p.tag != _P or _style(p) != style:
            break
        modes = {qn("w:ins"): "ins", qn("w:del"): "del"}
        marked = [n for n in p.iter(qn("w:ins"), qn("w:del")) if n.getparent().tag != _RPR]
        kinds = {modes[n.tag] for n in marked}
        if len(kinds) != 1:
            continue
        mode = kinds.pop()
        plain = [r for r in p.iter(_R) if r.getparent().tag not in (qn("w:ins"), qn("w:del"))
                 and r.find(qn("w:fldChar")) is None and r.find(qn("w:instrText")) is None]
        for run in plain:
            wrapper = revisions.mark(mode)
            run.addprevious(wrapper)
            if mode == "del":
                ooxml.set_deleted_text(run)
            wrapper.append(run)
        ooxml.mark_paragraph_mark(p, mode, revisions)
        changed = True
    if not changed:
        return data
    blobs[_DOCUMENT] = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
    return ooxml.normalised_zip(blobs)


def not_final(data: bytes) -> bytes:
    """A redline is never a final agreement: its document status says "redline", so it can be
    written over by the next redline (only a final agreement is protected from that)."""
    blobs = _package(data)
    core = blobs.get("docProps/core.xml")
    if core is None:
        return data
    marked = re.sub(rb"<cp:contentStatus>[^<]*</cp:contentStatus>", b"<cp:contentStatus>redline</cp:contentStatus>",
                    core)
    if marked == core:
        return data
    blobs["docProps/core.xml"] = marked
    return ooxml.normalised_zip(blobs)


def write_redline(old: tree.Document, new: tree.Document, path, author: str = DEFAULT_AUTHOR,
                  date: str | None = None) -> None:

    atomic_write(path, render_redline_bytes(old, new, author, date))
