"""Write a numbered, cross-referenced :class:`tree.Document` as a .docx file.

The reference template (``templates/reference.docx``) supplies styles,
Word-native lists, front sheet, header and footer; docxtpl fills its
placeholders with values as *data* (autoescaped, sandboxed), then the body
is appended with python-docx. Raw XML python-docx cannot produce comes from
:mod:`assembler.ooxml`. Output is reproducible (same tree, same bytes) and
written atomically (a failed build leaves the previous file untouched).
"""

from __future__ import annotations

import datetime as dt
import errno
import importlib.resources
import io
import os
import pathlib
import re
import tempfile
from contextlib import suppress

from docx.enum.style import WD_STYLE_TYPE
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.oxml.table import CT_Tbl
from docx.table import Table
from docx.text.paragraph import Paragraph
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_COLOR_INDEX
from docx.shared import Cm
from docxtpl import DocxTemplate
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from . import ooxml, tree
from .diagnostics import ERROR, BuildError, Diagnostic, Location

AUTHOR = "s75 assembler"
EPOCH = dt.datetime(2000, 1, 1, 0, 0, 0)
STATUTE = "made under section 75 of the National Health Service Act 2006"
PARA_STYLES = {"Definition", "Recital", "Note", "Quote"}
SECTION_KINDS = {"recitals", "body", "schedule", "execution", "annex"}
SIGNING_LINE = "." * 60
HEADER_FILL = "D9D9D9"
LABEL_WIDTH, LINE_WIDTH = Cm(3), Cm(10)  # signature block: label column, line column

# Characters XML 1.0 cannot hold, plus those docxtpl would turn into markup.
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_MONTHS = {m: i for i, m in enumerate(
    "january february march april may june july august september october november december".split(), 1)}


def clean(text: str) -> str:
    """Text as Word can store it: drop control characters XML forbids."""
    return _ILLEGAL.sub("", str(text))


# --- public API -----------------------------------------------------------


def write_docx(document: tree.Document, path: pathlib.Path) -> None:
    """Build ``document`` and replace ``path`` with it atomically.

    Raises BuildError if the document cannot be built or the file cannot be
    written; in both cases any previous file at ``path`` is left unchanged.
    """
    path = pathlib.Path(path)
    data = render_docx_bytes(document)
    _atomic_write(path, data)


def render_docx_bytes(document: tree.Document) -> bytes:
    """The .docx for ``document`` as bytes; identical input gives identical bytes."""
    template = DocxTemplate(io.BytesIO(_reference_bytes()))
    env = SandboxedEnvironment(autoescape=True, undefined=StrictUndefined)
    try:
        template.render(_context(document), jinja_env=env, autoescape=True)
    except TemplateError as exc:
        raise BuildError(_diag(
            "<reference.docx>", "S75-TEMPLATE", f"the Word template could not be filled in: {exc}",
            "regenerate it with 'python -m assembler.templates.make_reference'",
        )) from exc
    docx = template.docx
    _BodyWriter(docx, document).write()
    _set_properties(docx, document)
    buf = io.BytesIO()
    docx.save(buf)
    return ooxml.normalise_package(buf.getvalue())


def reference_template() -> pathlib.Path | importlib.resources.abc.Traversable:
    """Where reference.docx is: the installed package data, else beside this file."""
    try:
        found = importlib.resources.files("assembler.templates") / "reference.docx"
        if found.is_file():
            return found
    except (ModuleNotFoundError, FileNotFoundError):
        pass
    return pathlib.Path(__file__).with_name("templates") / "reference.docx"


def _reference_bytes() -> bytes:
    source = reference_template()
    try:
        return source.read_bytes()
    except OSError as exc:
        raise BuildError(_diag(
            str(source), "S75-TEMPLATE", f"the Word template cannot be read: {exc.strerror or exc}",
            "reinstall s75-assembler or run 'python -m assembler.templates.make_reference'",
        )) from exc


# --- front sheet, header, footer (docxtpl context) ------------------------


def _context(document: tree.Document) -> dict:
    """Only plain strings, booleans and lists of dicts: the template sees data, never code."""
    subtitle = clean(document.subtitle)
    return {
        "title": clean(document.title),
        "subtitle": subtitle,
        "statute": "" if "section 75" in subtitle.lower() else STATUTE,
        "version": clean(document.version),
        "draft": document.is_draft,
        "status_label": clean(document.status).upper(),
        "date": clean(document.date),
        "parties": [
            {"name": clean(p.name), "address": clean(p.address), "short_name": clean(p.short_name)}
            for p in document.parties
        ],
    }


def _set_properties(docx, document: tree.Document) -> None:
    """Core properties from the agreement; dates from the agreement, never the clock."""
    props = docx.core_properties
    when = _agreement_datetime(document)
    props.title = _property(document.title)
    props.subject = _property(document.subject or document.subtitle)
    props.keywords = _property(document.keywords)
    props.author = props.last_modified_by = AUTHOR
    props.version = _property(document.version)
    props.content_status = _property(document.status)
    props.language = "en-GB"
    props.comments = props.category = props.identifier = ""
    props.revision = 1
    props.created = props.modified = props.last_printed = when


def _property(text: str) -> str:
    """A core property value: Word (and python-docx) hold at most 255 characters."""
    return clean(text)[:255]


def _agreement_datetime(document: tree.Document) -> dt.datetime:
    """The agreement's date ("2017-04-01", "1 April 2017", "1st April 2017") or 2000-01-01."""
    text = (getattr(document, "iso_date", "") or document.date or "").strip()
    with suppress(ValueError):
        return dt.datetime.combine(dt.date.fromisoformat(text), dt.time())
    m = re.fullmatch(r"(\d{1,2})(?:st|nd|rd|th)?\s+([A-Za-z]+)\s+(\d{4})", text)
    if m and m.group(2).lower() in _MONTHS:
        with suppress(ValueError):
            return dt.datetime(int(m.group(3)), _MONTHS[m.group(2).lower()], int(m.group(1)))
    return EPOCH


# --- body -----------------------------------------------------------------


def _text_run(p, text: str, bold: bool | None, italic: bool | None) -> None:
    """Append a run to paragraph element ``p``, as python-docx would, without its proxies.

    ``bold``/``italic`` None: ``p.add_run(text)``, no run properties.
    True/False: ``run = p.add_run(text); run.bold = bold or None;
    run.italic = italic or None``, which always leaves a (possibly empty)
    ``w:rPr``. Same elements, same order, same bytes; the text goes through
    python-docx's own setter (tabs, breaks, xml:space).
    """
    r = p.add_r()
    if bold is not None or italic is not None:
        rpr = OxmlElement("w:rPr")
        if bold:
            rpr.append(OxmlElement("w:b"))
        if italic:
            rpr.append(OxmlElement("w:i"))
        r.append(rpr)
    if not text:
        return
    if "\t" in text or "\n" in text or "\r" in text:
        r.text = text  # python-docx turns these into w:tab and w:br
        return
    t = OxmlElement("w:t")  # what python-docx's CT_R.add_t makes of plain text
    t.text = text
    if len(text.strip()) < len(text):
        t.set(_XML_SPACE, "preserve")
    r.append(t)


_XML_SPACE = qn("xml:space")
_VAL = qn("w:val")


def _set_new_paragraph_style(p, style_id: str | None) -> None:
    """``p.style = style_id`` for a paragraph element that has no children yet.

    python-docx adds an (empty for the default style) ``w:pPr`` holding
    ``w:pStyle``; in an empty paragraph both go first, so no search is needed.
    """
    ppr = OxmlElement("w:pPr")
    if style_id is not None:
        pstyle = OxmlElement("w:pStyle")
        pstyle.set(_VAL, style_id)
        ppr.append(pstyle)
    p.insert(0, ppr)


class _BodyWriter:
    """Appends the tree's sections to a rendered template, in order."""

    def __init__(self, docx, document: tree.Document):
        self.docx = docx
        self.document = document
        self.numbering = docx.part.numbering_part.element
        self.bookmarks = ooxml.Bookmarks()
        self.toc: list[ooxml.TocEntry] = []
        self.numbered_keys: set[str] = set()
        self.written_keys: set[str] = set()
        self.new_page = True  # the body starts after the contents page
        self.schedule_list = self._abstract_id("s75-schedule")
        self.style_ids: dict[tuple[str, int], str | None] = {}
        # Body content goes before the body's own w:sectPr, as python-docx puts
        # it; python-docx finds that by scanning the whole body on every
        # paragraph and table, which makes a long document quadratic.
        self.end = docx.element.body.find(qn("w:sectPr"))
        self.block_width = docx._block_width
        self._plan_bookmarks()

    def _add_paragraph(self) -> Paragraph:
        """``docx.add_paragraph()``, without the scan for w:sectPr."""
        if self.end is None:
            return self.docx.add_paragraph()
        p = OxmlElement("w:p")
        self.end.addprevious(p)
        return Paragraph(p, self.docx._body)

    def _add_table(self, rows: int, cols: int) -> Table:
        """``docx.add_table(rows, cols)``, without the scans for w:sectPr."""
        if self.end is None:
            return self.docx.add_table(rows=rows, cols=cols)
        tbl = CT_Tbl.new_tbl(rows, cols, self.block_width)
        self.end.addprevious(tbl)
        tbl.tblStyle_val = None  # what add_table's ``table.style = None`` does
        return Table(tbl, self.docx._body)

    def _style_id(self, name: str, kind=WD_STYLE_TYPE.PARAGRAPH) -> str | None:
        """python-docx's id for a style name (None for the default style), looked up once.

        Setting ``paragraph.style = name`` searches every style twice per
        paragraph; setting the id python-docx would have found writes the same XML.
        """
        key = (name, kind)
        if key not in self.style_ids:
            self.style_ids[key] = self.docx.part.get_style_id(name, kind)
        return self.style_ids[key]

    def _abstract_id(self, name: str) -> int:
        ids = self.numbering.xpath(f'./w:abstractNum[w:name/@w:val="{name}"]/@w:abstractNumId')
        if not ids:
            raise BuildError(_diag(
                "<reference.docx>", "S75-TEMPLATE", f"the Word template has no list named {name!r}",
                "regenerate it with 'python -m assembler.templates.make_reference'",
            ))
        return int(ids[0])

    def _plan_bookmarks(self) -> None:
        """Name every keyed paragraph first, so references may point forwards."""
        for section in self.document.sections:
            if section.kind not in SECTION_KINDS:
                raise BuildError(_diag(
                    "<document>", "S75-DOCX",
                    f"section {section.title!r} has unknown kind {section.kind!r}",
                    f"use one of: {', '.join(sorted(SECTION_KINDS))}",
                ))
            for block in section.blocks:
                if isinstance(block, tree.Para) and block.key:
                    self.bookmarks.name_for(block.key)
                    if block.level > 0 and section.kind != "recitals":
                        self.numbered_keys.add(block.key)

    def write(self) -> None:
        for section in self.document.sections:
            self._section(section)
        toc_style = self.docx.styles["toc 1"].style_id
        ooxml.replace_toc(self.docx.element.body, self.toc, toc_style)
        ooxml.set_update_fields(self.docx.settings.element)

    # sections

    def _section(self, section: tree.Section) -> None:
        num_id = None
        if section.kind in ("schedule", "annex"):
            word = "SCHEDULE" if section.kind == "schedule" else "ANNEX"
            heading = f"{word} {clean(section.number)}".strip()
            p = self._paragraph("Schedule Heading")
            p.add_run(heading)
            if section.title:
                p.add_run("\n" + clean(section.title))
            self._toc_entry(p, "", heading + ("\n" + clean(section.title) if section.title else ""))
            if section.subtitle:
                self._paragraph("Schedule Subtitle").add_run(clean(section.subtitle))
            num_id = ooxml.add_num(self.numbering, self.schedule_list, restart_levels=5)
        elif section.kind == "execution":
            if section.title:
                self._paragraph("Execution Heading").add_run(clean(section.title))
            else:
                self.new_page = True
        elif section.title:
            self._paragraph("Part Heading").add_run(clean(section.title))
        if section.key and num_id is not None:
            self._bookmark(p, section.key)
        for block in section.blocks:
            if isinstance(block, tree.Para):
                self._para(block, section, num_id)
            elif isinstance(block, tree.Table):
                self._table(block)
            elif isinstance(block, tree.SignatureBlock):
                self._signature(block)
            else:
                raise BuildError(_diag("<document>", "S75-DOCX",
                                       f"unknown block {type(block).__name__} in {section.title!r}"))

    def _paragraph(self, style: str):
        p = self._add_paragraph()
        _set_new_paragraph_style(p._p, self._style_id(style))
        if self.new_page:
            if style not in ("Schedule Heading", "Execution Heading"):
                p.paragraph_format.page_break_before = True
            self.new_page = False
        return p

    def _bookmark(self, p, key: str) -> None:
        if key in self.written_keys:
            return  # a duplicate key: only its first paragraph can hold the name
        self.written_keys.add(key)
        self.bookmarks.wrap(p._p, self.bookmarks.name_for(key))

    def _toc_entry(self, p, number: str, text: str) -> None:
        name = self.bookmarks.name_for(f"{len(self.toc) + 1:08d}", prefix="_Toc")
        self.bookmarks.wrap(p._p, name)
        self.toc.append(ooxml.TocEntry(number, text, name))

    # paragraphs

    def _para(self, para: tree.Para, section: tree.Section, num_id: int | None) -> None:
        level = para.level
        if not 0 <= level <= 5:
            raise BuildError(_diag("<document>", "S75-DOCX",
                                   f"paragraph {para.key or para.number!r} has level {level}",
                                   "levels run from 0 (unnumbered) to 5 ('(i)')"))
        if para.style and para.style not in PARA_STYLES:
            raise BuildError(_diag("<document>", "S75-DOCX",
                                   f"paragraph {para.key!r} has unknown style {para.style!r}",
                                   f"use one of: {', '.join(sorted(PARA_STYLES))}"))
        schedule = num_id is not None
        if level == 0:
            indented = section.kind in ("body", "schedule", "annex")
            style = para.style or ("Body Text Indent" if indented else "Body Text")
        elif section.kind == "recitals" or para.style == "Recital":
            style = "Recital"
        else:
            style = f"{'Schedule Level' if schedule else 'Level'} {level}"
        p = self._paragraph(style)
        if schedule and style.startswith("Schedule Level"):
            ooxml.set_numbering(p._p, num_id, level - 1)
        if level == 1 and para.heading and style != "Recital":
            p.add_run(clean(para.heading)).bold = True
            if not schedule:
                number = f"{clean(para.number).rstrip('.')}." if para.number else ""  # as Word shows "%1."
                self._toc_entry(p, number, clean(para.heading))
            if para.key:
                self._bookmark(p, para.key)
            if para.parts:
                self._inline(self._paragraph("Body Text Indent"), para.parts)
            return
        if level == 1 and style.startswith("Level"):
            ooxml.set_outline_level(p._p, 9)  # no heading: keep its text out of the contents
        if para.heading:
            p.add_run(clean(para.heading)).bold = True
            p.add_run(" ")
        self._inline(p, para.parts)
        if para.key:
            self._bookmark(p, para.key)

    def _inline(self, p, parts: list[tree.Inline]) -> None:
        for part in parts:
            if isinstance(part, tree.Text):
                _text_run(p._p, clean(part.text), part.bold, part.italic)
            elif isinstance(part, tree.TermUse):
                _text_run(p._p, clean(part.shown), None, None)
            elif isinstance(part, tree.Ref):
                self._ref(p, part)
            elif isinstance(part, tree.Blank):
                if part.signing:
                    p.add_run(SIGNING_LINE)
                else:
                    run = p.add_run(f"[\u25cf: {clean(part.label)}]")
                    run.font.highlight_color = WD_COLOR_INDEX.YELLOW
            else:
                raise BuildError(_diag("<document>", "S75-DOCX", f"unknown inline part {part!r}"))

    def _ref(self, p, ref: tree.Ref) -> None:
        """A REF field showing the engine's number; words around it stay plain text.

        Only the number is inside the field, because that is all Word puts
        there when it updates ``REF \\w``: "clause " must survive an update.
        """
        label = clean(ref.label or ref.number)
        number = clean(ref.number)
        if not label:  # unresolved: the xref stage reports it; the reader must see it too
            run = p.add_run(f"[\u25cf: reference to {clean(ref.key)}]")
            run.font.highlight_color = WD_COLOR_INDEX.YELLOW
            return
        match = None
        if number and ref.key in self.numbered_keys:
            match = re.search(r"(?<![\w.])" + re.escape(number) + r"(?![\w])", label)
        if match is None:
            p.add_run(label)
            return
        if match.start():
            p.add_run(label[: match.start()])
        ooxml.append_field(p._p, ooxml.ref_instr(self.bookmarks.name_for(ref.key)), number)
        if match.end() < len(label):
            p.add_run(label[match.end():])

    # tables

    def _table(self, table: tree.Table) -> None:
        width = len(table.columns)
        for i, row in enumerate(table.rows):
            if len(row) != width:
                raise BuildError(_diag("<document>", "S75-DOCX",
                                       f"table {table.caption or table.key!r} row {i + 1} has {len(row)} "
                                       f"cells but {width} columns",
                                       "give every row one value per column"))
        if table.caption:
            caption = self._paragraph("Table Caption")
            caption.add_run(clean(table.caption))
            if table.key:
                self._bookmark(caption, table.key)
        grid = self._add_table(1 + len(table.rows), width)
        grid._tbl.tblStyle_val = self._style_id("Agreement Table", WD_STYLE_TYPE.TABLE)
        ooxml.set_table_width_pct(grid._tbl)
        header = grid.rows[0]
        ooxml.set_repeat_header(header._tr)
        for c, name in enumerate(table.columns):
            cell = header.cells[c]
            ooxml.set_cell_shading(cell._tc, HEADER_FILL)
            self._cell(cell, name, bold=True, right=c in table.numeric_columns)
        for r, row in enumerate(table.rows):
            tr = grid.rows[r + 1]
            ooxml.set_cant_split(tr._tr)
            for c, value in enumerate(row):
                self._cell(tr.cells[c], value, bold=r in table.total_rows, right=c in table.numeric_columns)
        self._add_paragraph()._p.style = self._style_id("Table Text")  # breathing space after the grid

    def _cell(self, cell, text: str, bold: bool = False, right: bool = False, keep: bool = False):
        p = cell.paragraphs[0]
        p._p.style = self._style_id("Table Text")
        if right:
            p.alignment = WD_ALIGN_PARAGRAPH.RIGHT
        if keep:
            p.paragraph_format.keep_with_next = True
        run = p.add_run(clean(text))
        run.bold = bold or None
        return p

    # execution

    def _signature(self, block: tree.SignatureBlock) -> None:
        name = clean(block.party_name)
        if block.method == "common_seal":
            intro = self._paragraph("Execution Text")
            if block.intro:
                intro.add_run(clean(block.intro))
            else:
                intro.add_run("The common seal of ")
                intro.add_run(name).bold = True
                intro.add_run(" was affixed in the presence of:")
            for role, person in block.lines:
                self._signature_lines([("Signature", ""), ("Name", person), ("Title", role)])
        elif block.method == "signatories":
            if block.intro:
                self._paragraph("Execution Text").add_run(clean(block.intro))
            for role, person in block.lines:
                p = self._paragraph("Execution Text")
                p.add_run("Signed by ")
                p.add_run(clean(person) if person else SIGNING_LINE[:30])
                p.add_run(" for and on behalf of ")
                p.add_run(name).bold = True
                self._signature_lines([("Signature", ""), ("Title", role), ("Date", "")])
        elif block.method == "sign_off":
            caption = self._paragraph("Table Caption")
            caption.add_run(clean(block.intro) if block.intro else f"Signed off on behalf of {name}")
            grid = self._add_table(1 + len(block.lines), 4)
            grid._tbl.tblStyle_val = self._style_id("Agreement Table", WD_STYLE_TYPE.TABLE)
            ooxml.set_table_width_pct(grid._tbl)
            ooxml.set_repeat_header(grid.rows[0]._tr)
            for c, heading in enumerate(("Role", "Name", "Signature", "Date")):
                ooxml.set_cell_shading(grid.rows[0].cells[c]._tc, HEADER_FILL)
                self._cell(grid.rows[0].cells[c], heading, bold=True)
            for r, (role, person) in enumerate(block.lines, start=1):
                row = grid.rows[r]
                row.height = Cm(1.2)
                ooxml.set_cant_split(row._tr)
                self._cell(row.cells[0], role)
                self._cell(row.cells[1], person)
                self._cell(row.cells[2], "")
                self._cell(row.cells[3], "")
            self._add_paragraph()._p.style = self._style_id("Table Text")
        else:
            raise BuildError(_diag("<document>", "S75-DOCX",
                                   f"signature block for {name!r} has unknown method {block.method!r}",
                                   "use common_seal, signatories or sign_off"))

    def _signature_lines(self, rows: list[tuple[str, str]]) -> None:
        """Label and dotted line (or the known value) for each row, kept together."""
        grid = self._add_table(len(rows), 2)
        ooxml.set_table_borders_none(grid._tbl)
        grid.autofit = False
        grid.columns[0].width, grid.columns[1].width = LABEL_WIDTH, LINE_WIDTH
        for r, (label, value) in enumerate(rows):
            row = grid.rows[r]
            ooxml.set_cant_split(row._tr)
            row.cells[0].width, row.cells[1].width = LABEL_WIDTH, LINE_WIDTH
            keep = r < len(rows) - 1
            self._cell(row.cells[0], label, keep=keep)._p.style = self._style_id("Signature Text")
            value_p = self._cell(row.cells[1], clean(value) if value else SIGNING_LINE, keep=keep)
            value_p._p.style = self._style_id("Signature Text")
        self._add_paragraph()._p.style = self._style_id("Execution Text")


# --- writing the file -----------------------------------------------------


def _diag(location: str, code: str, message: str, hint: str = "") -> Diagnostic:
    return Diagnostic(Location(location), ERROR, code, message, hint)


def _write_hint(path: pathlib.Path, exc: OSError) -> str:
    folder = path.parent
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        return "the disk is full; free some space and build again"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return (f"you cannot write in {folder}; choose another output folder, "
                "or close the document if it is open in Word")
    if exc.errno == errno.ENOENT:
        return f"the folder {folder} does not exist; create it or choose another output path"
    if exc.errno == errno.ENOTDIR:
        return f"part of {folder} is a file, not a folder; choose another output path"
    if exc.errno == errno.EISDIR:
        return f"{path} is a folder; give a file name ending in .docx"
    return "check the output path and try again"


def _atomic_write(path: pathlib.Path, data: bytes) -> None:
    """Write to a temporary file beside ``path``, fsync, then rename over it."""
    tmp: str | None = None
    try:
        mode = path.stat().st_mode & 0o777 if path.is_file() else _default_mode()
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
        tmp = None
        _fsync_dir(path.parent)
    except OSError as exc:
        raise BuildError(_diag(
            str(path), "S75-WRITE", f"cannot write {path.name}: {exc.strerror or exc}",
            _write_hint(path, exc),
        )) from exc
    finally:
        if tmp is not None:
            with suppress(OSError):
                os.unlink(tmp)


def _default_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _fsync_dir(folder: pathlib.Path) -> None:
    """Make the rename itself durable (POSIX only; a no-op elsewhere)."""
    with suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
