"""Write a numbered, cross-referenced :class:`tree.Document` as a .docx file.

The reference template (``templates/reference.docx``) supplies styles,
Word-native lists, front sheet, header and footer; docxtpl fills its
placeholders with values as *data* (autoescaped, sandboxed), then the body
is appended with python-docx. Raw XML python-docx cannot produce comes from
:mod:`assembler.word.ooxml`. Output is reproducible (same tree, same bytes) and
written atomically (a failed build leaves the previous file untouched).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.resources
import io
import pathlib
import re
from contextlib import suppress

from docx.enum.style import WD_STYLE_TYPE
from docx.opc.constants import CONTENT_TYPE as CT
from docx.opc.package import Unmarshaller
from docx.opc.part import PartFactory
from docx.opc.pkgreader import PackageReader
from docx.package import Package
from docx.oxml.ns import qn
from docx.shared import Cm, Emu
from docxtpl import DocxTemplate
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from assembler.engine import tree
from assembler.engine.text import BLANK_MARK
from assembler.word import files, ooxml
from assembler.diagnostics import ERROR, BuildError, Diagnostic, Location
from assembler.recent import Recent

AUTHOR = "s75 assembler"
EPOCH = dt.datetime(2000, 1, 1, 0, 0, 0)
STATUTE = "made under section 75 of the National Health Service Act 2006"
PARA_STYLES = {"Definition", "Recital", "Note", "Quote"}
SECTION_KINDS = {"recitals", "body", "schedule", "execution", "annex"}
SIGNING_LINE = "." * 60
HEADER_FILL = "D9D9D9"
# A fitted table column (tree.Table.fit_columns): the widest 10 pt character
# in Arial or LibreOffice's stand-in DejaVu Sans (a bold figure, about 0.64 em
# = 128 twips) times the longest cell, plus both cell margins (85 twips each,
# make_reference.py) and a little slack.
FIT_CHAR_TWIPS = 128
FIT_PAD_TWIPS = 230
FIT_HEADING_FACTOR = 1.3  # bold capitals in a heading are wider than figures
FIT_MONEY_CHARS = 11  # a numeric column fits "£99,999,999" even while its cells are blanks "[●]"
FIT_AT_MOST = 0.75  # fitted columns leave at least a quarter of the width to the others
LABEL_WIDTH, LINE_WIDTH = Cm(3), Cm(10)  # signature block: label column, line column
SIGN_OFF_ROW_HEIGHT = Cm(1.2)

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
    atomic_write(path, data)


def render_docx_bytes(document: tree.Document) -> bytes:
    """The .docx for ``document`` as bytes; identical input gives identical bytes."""
    reference = _reference_bytes()
    key = hashlib.sha256(reference).digest()
    template = _ReferenceTemplate(reference, key)
    try:
        template.render(_context(document), jinja_env=_TEMPLATE_ENV, autoescape=True)
    except TemplateError as exc:
        raise BuildError(_diag(
            "<reference.docx>", "S75-TEMPLATE", f"the Word template could not be filled in: {exc}",
            "regenerate it with 'python -m assembler.templates.make_reference'",
        )) from exc
    docx = template.docx
    style_ids = _STYLE_IDS.setdefault(key, {})
    splices = _BodyWriter(docx, document, style_ids).write()
    _set_properties(docx, document)
    return ooxml.package_bytes(docx.part.package, splices)


_KEPT = 64  # compiled parts, references and cleaned parts a process keeps (see Recent)


class _TemplateEnvironment(SandboxedEnvironment):
    """The sandbox docxtpl fills the template in, compiling each template part once.

    docxtpl asks for every part (body, headers, footers, properties) to be
    compiled on every build; the parts are the reference's and do not change,
    and a compiled Jinja template holds no state between renders.
    """

    def __init__(self) -> None:
        super().__init__(autoescape=True, undefined=StrictUndefined)
        self._compiled = Recent(_KEPT)

    def from_string(self, source, globals=None, template_class=None):
        if globals is not None or template_class is not None or not isinstance(source, str):
            return super().from_string(source, globals, template_class)
        return self._compiled.get(source, lambda: super(_TemplateEnvironment, self).from_string(source))


_TEMPLATE_ENV = _TemplateEnvironment()


class _ReferenceTemplate(DocxTemplate):
    """docxtpl's template over the reference, doing once per process what depends only on the reference.

    docxtpl unzips the reference and reads its relationships on every
    build, and cleans the XML of each part that holds placeholders
    (``patch_xml``) so that Jinja can read them. Both depend only on the
    reference: the package as read is kept by the sha256 of its bytes
    (``key``: another template never gets it), the cleaned XML by the XML it
    was cleaned from. Every part is still parsed afresh (the build changes
    them), and every placeholder filled with this document's values.
    """

    _read = Recent(_KEPT)  # sha256 of a reference -> python-docx's reader of it
    _patched = Recent(_KEPT)  # a part's XML -> the same, cleaned for Jinja

    def __init__(self, reference: bytes, key: bytes) -> None:
        super().__init__(io.BytesIO(reference))
        self._key = key

    def init_docx(self, reload: bool = True) -> None:
        """``Document(template_file)``: python-docx's ``Package.open``, unzipping once per reference."""
        if self.docx is not None and not (self.is_rendered and reload):
            return
        reader = self._read.get(self._key, lambda: PackageReader.from_file(self.template_file))
        package = Package()
        Unmarshaller.unmarshal(reader, package, PartFactory)
        part = package.main_document_part
        if part.content_type != CT.WML_DOCUMENT_MAIN:  # as docx.Document checks
            raise ValueError(f"the Word template is not a Word file, content type is {part.content_type!r}")
        self.docx = part.document
        self.is_rendered = False

    def patch_xml(self, src_xml: str) -> str:
        return self._patched.get(src_xml, lambda: super(_ReferenceTemplate, self).patch_xml(src_xml))


# Style name -> id, per reference template (by content): docxtpl fills in
# text, never styles, so the lookup gives the same ids on every build.
_STYLE_IDS: dict[bytes, dict[tuple[str, int], str | None]] = {}


def reference_template() -> pathlib.Path | importlib.resources.abc.Traversable:
    """Where reference.docx is: the installed package data, else beside this file."""
    try:
        found = importlib.resources.files("assembler.word.templates") / "reference.docx"
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
#
# The body has the exact shape python-docx's add_paragraph / add_run /
# add_table and property setters give, built without their proxy objects and
# per-call schema searches (tens of thousands of elements: the proxies were
# most of the build time). Paragraphs and tables are written as XML text, in
# the form lxml writes, and go into document.xml as they are.

_NO_PAGE_BREAK = ("Schedule Heading", "Execution Heading")


def _run_xml(text: str, bold: bool | None = None, italic: bool | None = None,
             highlight: bool = False) -> str:
    """A ``w:r`` holding ``clean(text)``, as XML text.

    Run properties only where they say something (bold, italic, yellow
    highlight): an empty ``w:rPr`` would only make the file larger.
    Tabs and line breaks become ``w:tab`` and ``w:br``, as python-docx's setter makes them.
    The run cleans its own text, so callers need not. Most text has nothing
    to drop, break or escape: printable text holds no control character
    (tab and line breaks among them) and no surrogate, and str.isprintable
    finds that in half the time of a regex search.
    """
    rpr = _RPR_XML[bool(bold), bool(italic), bool(highlight)]
    if not text:
        content = ""
    elif text.isprintable() and "&" not in text and "<" not in text and ">" not in text:
        content = _t_xml(text)
    else:
        text = clean(text)
        if "\t" in text or "\n" in text or "\r" in text:
            content = "".join(_BREAK_XML.get(piece) or _t_xml(ooxml.xml_text(piece))
                              for piece in _BREAKS.split(text))
        else:
            content = _t_xml(ooxml.xml_text(text))
    if not rpr and not content:
        return "<w:r/>"  # an empty element as lxml writes it
    return f"<w:r>{rpr}{content}</w:r>"


_RPR_XML = {
    (bold, italic, highlight): "" if not (bold or italic or highlight) else "<w:rPr>" + (
        "<w:b/>" if bold else "") + ("<w:i/>" if italic else "") + (
        '<w:highlight w:val="yellow"/>' if highlight else "") + "</w:rPr>"
    for bold in (False, True) for italic in (False, True) for highlight in (False, True)
}
"""(bold, italic, highlight) -> the run's ``w:rPr`` as XML text."""
_BREAKS = re.compile(r"([\t\r\n])")
_BREAK_XML = {"\t": "<w:tab/>", "\r": "<w:br/>", "\n": "<w:br/>"}


def _t_xml(escaped: str) -> str:
    """What python-docx's ``CT_R.add_t`` makes of text escaped as ``escaped`` ("" for none).

    Escaping leaves the text's ends as they are (no white space becomes an
    entity: a carriage return is a break, never inside a ``w:t``).
    """
    if not escaped:
        return ""
    if escaped[0].isspace() or escaped[-1].isspace():  # what strip() would take off
        return f'<w:t xml:space="preserve">{escaped}</w:t>'
    return f"<w:t>{escaped}</w:t>"


def _text_run(p: list[str], text: str, bold: bool | None = None, italic: bool | None = None,
              highlight: bool = False) -> None:
    """``p.add_run(text)`` (see _run_xml) for a paragraph held as XML text."""
    p.append(_run_xml(text, bold, italic, highlight))


class _BodyWriter:
    """Appends the tree's sections to a rendered template, in order."""

    def __init__(self, docx, document: tree.Document, style_ids: dict | None = None):
        self.docx = docx
        self.document = document
        self.body = docx.element.body
        self.numbering = docx.part.numbering_part.element
        self.bookmarks = ooxml.Bookmarks()
        self.toc: list[ooxml.TocEntry] = []
        self.numbered_keys: set[str] = set()
        self.written_keys: set[str] = set()
        self.new_page = True  # the body starts after the contents page
        self.keep_with_next = False  # the paragraphs being written stay on the page of the block after them
        # Blocks written as XML text, in order: a table as one string, a
        # paragraph as a list still open for runs and bookmarks ("</w:p>" to come).
        self.pending: list[str | list[str]] = []
        self.schedule_list = self._abstract_id("s75-schedule")
        self.last_num_id = ooxml.last_num_id(self.numbering)
        self.style_ids: dict[tuple[str, int], str | None] = {} if style_ids is None else style_ids
        self.pstyle_xml: dict[str, str] = {}
        self.block_width = docx._block_width
        self.chunks: list[bytes] = []  # the body's blocks as canonical XML, section by section
        self._plan_bookmarks()

    def _style_id(self, name: str, kind=WD_STYLE_TYPE.PARAGRAPH) -> str | None:
        """python-docx's id for a style name (None for the default style), looked up once.

        Setting ``paragraph.style = name`` searches every style twice per
        paragraph; setting the id python-docx would have found writes the same XML.
        """
        key = (name, kind)
        if key not in self.style_ids:
            self.style_ids[key] = self.docx.part.get_style_id(name, kind)
        return self.style_ids[key]

    def _pstyle(self, style: str) -> str:
        """The ``w:pStyle`` for paragraph style ``style`` as XML text ("" for the default style)."""
        xml = self.pstyle_xml.get(style)
        if xml is None:
            style_id = self._style_id(style)
            xml = self.pstyle_xml[style] = (
                "" if style_id is None else f'<w:pStyle w:val="{ooxml.xml_attr(style_id)}"/>')
        return xml

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

    def write(self) -> dict[bytes, list[bytes]]:
        """Fill the template; return the body's blocks and the contents as XML, by the marker each replaces,
        for :func:`ooxml.package_bytes` to splice in.

        The blocks come section by section, not joined: document.xml is made
        by one join of its head, these and its tail, so a large body is not
        copied once more on the way (a tenth of the peak at 2,000 schedules).
        """
        for section in self.document.sections:
            self._section(section)
            self._insert_blocks()  # a section at a time: the whole body as one text would double the peak
        ooxml.add_body_marker(self.body)
        splices = {ooxml.BODY_MARKER: self.chunks}
        if ooxml.mark_toc(self.body):
            splices[ooxml.TOC_MARKER] = [ooxml.toc_xml(self.toc, self.docx.styles["toc 1"].style_id)]
        ooxml.set_update_fields(self.docx.settings.element)
        return splices

    # sections

    def _section(self, section: tree.Section) -> None:
        num_id = None
        if section.kind in ("schedule", "annex"):
            word = "SCHEDULE" if section.kind == "schedule" else "ANNEX"
            heading = f"{word} {clean(section.number)}".strip()
            p = self._paragraph("Schedule Heading")
            _text_run(p, heading)
            if section.title:
                _text_run(p, "\n" + section.title)
            self._toc_entry(p, "", heading + ("\n" + clean(section.title) if section.title else ""))
            if section.subtitle:
                _text_run(self._paragraph("Schedule Subtitle"), section.subtitle)
            self.last_num_id = num_id = ooxml.add_num(self.numbering, self.schedule_list, restart_levels=5,
                                                      num_id=self.last_num_id + 1)
        elif section.kind == "execution":
            if section.title:
                _text_run(self._paragraph("Execution Heading"), section.title)
            else:
                self.new_page = True
        elif section.title:
            _text_run(self._paragraph("Part Heading"), section.title)
        if section.key and num_id is not None:
            self._bookmark(p, section.key)
        for block, following in zip(section.blocks, [*section.blocks[1:], None]):
            if isinstance(block, tree.Para):
                # A party's words of execution stay on the page of the signature lines they introduce.
                self.keep_with_next = isinstance(following, tree.SignatureBlock)
                self._para(block, section, num_id)
                self.keep_with_next = False
            elif isinstance(block, tree.Table):
                self._table(block)
            elif isinstance(block, tree.SignatureBlock):
                self._signature(block)
            else:
                raise BuildError(_diag("<document>", "S75-DOCX",
                                       f"unknown block {type(block).__name__} in {section.title!r}"))

    def _paragraph(self, style: str, numbering: str = "") -> list[str]:
        """A new body paragraph in ``style``, as XML text; the first after a page break starts a page.

        ``numbering`` is XML text ending the pPr (numPr or outlineLvl). The
        list holds the opening tags up to the end of pPr, then the content;
        "</w:p>" is added when the body is flushed.
        """
        ppr = "<w:p><w:pPr>" + self._pstyle(style)
        if self.keep_with_next:
            ppr += "<w:keepNext/>"  # paragraph_format.keep_with_next = True
        if self.new_page:
            if style not in _NO_PAGE_BREAK:
                ppr += "<w:pageBreakBefore/>"  # paragraph_format.page_break_before = True
            self.new_page = False
        p = ["<w:p><w:pPr/>" if ppr == "<w:p><w:pPr>" and not numbering else ppr + numbering + "</w:pPr>"]
        self.pending.append(p)
        return p

    def _spacer(self, style: str) -> None:
        """An empty paragraph after a table (``add_paragraph()`` then ``p.style = ...``)."""
        new_page, self.new_page = self.new_page, False
        self._paragraph(style)
        self.new_page = new_page

    def _insert_blocks(self) -> None:
        """Keep the blocks written as text, as the bytes they take in document.xml.

        They go into document.xml as text when the package is written, where
        the body's marker stands: holding them as elements took nine times
        the XML's size, most of a large build's peak memory, and inserting
        them section by section walked the whole body each time. The text is
        already what lxml would write for it (every value escaped by
        ``ooxml.xml_text``, empty elements closed as ``<w:r/>``), so it is
        not parsed and written out again: that took a fifth of the writer's
        time. tests/test_writer.py parses every example's document.xml to
        check that it is well formed and comes back byte for byte.
        """
        if not self.pending:
            return
        xml: list[str] = []
        for item in self.pending:
            if isinstance(item, str):
                xml.append(item)
            else:
                xml += item
                xml.append("</w:p>")
        self.pending = []
        self.chunks.append("".join(xml).encode("utf-8"))  # one join: not a string per paragraph first

    def _bookmark(self, p, key: str) -> None:
        if key in self.written_keys:
            return  # a duplicate key: only its first paragraph can hold the name
        self.written_keys.add(key)
        self.bookmarks.wrap_xml(p, self.bookmarks.name_for(key))

    def _toc_entry(self, p, number: str, text: str) -> None:
        name = self.bookmarks.name_for(f"{len(self.toc) + 1:08d}", prefix="_Toc")
        self.bookmarks.wrap_xml(p, name)
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
        numbering = ""
        if schedule and style.startswith("Schedule Level"):
            numbering = ooxml.numbering_xml(num_id, level - 1)
        elif level == 1 and style.startswith("Level") and not para.heading:
            numbering = ooxml.outline_level_xml(9)  # no heading: keep its text out of the contents
        p = self._paragraph(style, numbering)
        if level == 1 and para.heading and style != "Recital":
            _text_run(p, para.heading, bold=True)
            if not schedule:
                number = f"{clean(para.number).rstrip('.')}." if para.number else ""  # as Word shows "%1."
                self._toc_entry(p, number, clean(para.heading))
            if para.key:
                self._bookmark(p, para.key)
            if para.parts:
                self._inline(self._paragraph("Body Text Indent"), para.parts)
            return
        if para.heading:
            _text_run(p, para.heading, bold=True)
            _text_run(p, " ")
        self._inline(p, para.parts)
        if para.key:
            self._bookmark(p, para.key)

    def _inline(self, p, parts: list[tree.Inline]) -> None:
        plain: list[str] = []  # neighbouring plain text and term uses share one run
        for part in parts:
            if isinstance(part, tree.Text) and not (part.bold or part.italic):
                plain.append(part.text)
                continue
            if isinstance(part, tree.TermUse):
                plain.append(part.shown)
                continue
            if plain:
                _text_run(p, "".join(plain))
                plain = []
            if isinstance(part, tree.Text):
                _text_run(p, part.text, part.bold, part.italic)
            elif isinstance(part, tree.Ref):
                self._ref(p, part)
            elif isinstance(part, tree.Blank):
                if part.signing:
                    _text_run(p, SIGNING_LINE)
                else:
                    _text_run(p, f"[{BLANK_MARK}: {part.label}]", highlight=True)
            else:
                raise BuildError(_diag("<document>", "S75-DOCX", f"unknown inline part {part!r}"))
        if plain:
            _text_run(p, "".join(plain))

    def _ref(self, p, ref: tree.Ref) -> None:
        """A REF field showing the engine's number; words around it stay plain text.

        Only the number is inside the field, because that is all Word puts
        there when it updates ``REF \\w``: "clause " must survive an update.
        """
        label = clean(ref.label or ref.number)
        number = clean(ref.number)
        if not label:  # unresolved: the xref stage reports it; the reader must see it too
            _text_run(p, f"[{BLANK_MARK}: reference to {ref.key}]", highlight=True)
            return
        match = None
        if number and ref.key in self.numbered_keys:
            match = re.search(r"(?<![\w.])" + re.escape(number) + r"(?![\w])", label)
        if match is None:
            _text_run(p, label)
            return
        if match.start():
            _text_run(p, label[: match.start()])
        p.append(ooxml.field_xml(ooxml.ref_instr(self.bookmarks.name_for(ref.key)), number))
        if match.end() < len(label):
            _text_run(p, label[match.end():])

    # tables

    def _grid(self, widths: list[int], rows: list[str], style: str | None, borderless: bool = False,
              fixed: bool = False) -> None:
        """``docx.add_table`` with ``rows`` (XML text), as XML text.

        ``widths`` are the columns' twips. ``style``: a table style, spanning
        the text column. ``borderless``: the signature layout, no borders and
        fixed column widths. ``fixed``: Word keeps the given widths instead of
        fitting columns to their contents.
        """
        style_id = self._style_id(style, WD_STYLE_TYPE.TABLE) if style else None
        xml = "<w:tbl><w:tblPr>"
        if style_id is not None:
            xml += f'<w:tblStyle w:val="{ooxml.xml_attr(style_id)}"/>'
        xml += '<w:tblW w:type="pct" w:w="5000"/>' if style else '<w:tblW w:type="auto" w:w="0"/>'
        if borderless:
            xml += ooxml.NO_BORDERS_XML + '<w:tblLayout w:type="fixed"/>'
        elif fixed:
            xml += '<w:tblLayout w:type="fixed"/>'
        xml += _TBL_LOOK + "</w:tblPr>"
        xml += "<w:tblGrid>" + "".join(f'<w:gridCol w:w="{w}"/>' for w in widths) + "</w:tblGrid>" if widths else \
            "<w:tblGrid/>"
        self.pending.append(xml + "".join(rows) + "</w:tbl>")

    def _even_widths(self, cols: int) -> list[int]:
        """``add_table``'s columns: the text block shared evenly, in twips."""
        return [Emu(self.block_width // cols).twips] * cols if cols else []

    def _widths(self, table: tree.Table) -> list[int]:
        """Column widths in twips: fitted columns as wide as their longest cell, the others share the rest.

        So a money column keeps "£105,196,000" on one line and a scheme line's
        name gets all the width the figures leave. Fitted columns never take
        more than FIT_AT_MOST of the block.
        """
        if not table.fit_columns:
            return self._even_widths(len(table.columns))
        block = Emu(self.block_width).twips
        def chars(c: int) -> float:
            body = max((len(clean(str(row[c]))) for row in table.rows), default=0)
            least = FIT_MONEY_CHARS if c in table.numeric_columns else 0  # the same width while figures are blanks
            return max(body, least, len(clean(table.columns[c])) * FIT_HEADING_FACTOR)

        fitted = {c: chars(c) * FIT_CHAR_TWIPS + FIT_PAD_TWIPS for c in table.fit_columns}
        scale = min(1.0, block * FIT_AT_MOST / sum(fitted.values()))
        fitted = {c: int(w * scale) for c, w in fitted.items()}
        free = [c for c in range(len(table.columns)) if c not in fitted]
        share = (block - sum(fitted.values())) // len(free)
        widths = [fitted.get(c, share) for c in range(len(table.columns))]
        widths[free[0]] += block - sum(widths)  # rounding: the first free column takes the odd twips
        return widths

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
            _text_run(caption, table.caption)
            if table.key:
                self._bookmark(caption, table.key)
        widths = self._widths(table)
        numeric = table.numeric_columns
        rows = [_HEADER_ROW + "".join(
            self._cell(w, name, bold=True, right=c in numeric, fill=HEADER_FILL)
            for c, (w, name) in enumerate(zip(widths, table.columns))) + "</w:tr>"]
        for r, row in enumerate(table.rows):
            bold = r in table.total_rows
            rows.append(_BODY_ROW + "".join(
                self._cell(w, value, bold=bold, right=c in numeric)
                for c, (w, value) in enumerate(zip(widths, row))) + "</w:tr>")
        self._grid(widths, rows, "Agreement Table", fixed=bool(table.fit_columns))
        self._spacer("Table Text")  # breathing space after the grid

    def _cell(self, width: int, text: str, bold: bool = False, right: bool = False, keep: bool = False,
              style: str = "Table Text", fill: str = "") -> str:
        """A ``w:tc`` as XML text: add_table's cell, with shading, ``p.style``, alignment, keep and run."""
        xml = f'<w:tc><w:tcPr><w:tcW w:type="dxa" w:w="{width}"/>'
        if fill:
            xml += f'<w:shd w:val="clear" w:color="auto" w:fill="{fill}"/>'  # header shading
        xml += "</w:tcPr><w:p><w:pPr>" + self._pstyle(style)
        if keep:
            xml += "<w:keepNext/>"
        if right:
            xml += '<w:jc w:val="right"/>'
        blank = BLANK_MARK in text  # a cell still to complete is marked like every other blank in the document
        return xml + "</w:pPr>" + _run_xml(text, bold, highlight=blank) + "</w:p></w:tc>"

    # execution

    def _signature(self, block: tree.SignatureBlock) -> None:
        """Signature lines or a sign-off table; the words of execution are paragraphs from the clause library."""
        name = clean(block.party_name)
        if block.method in ("common_seal", "signatories"):
            if block.intro:
                _text_run(self._paragraph("Execution Text"), block.intro)
            # One party's signatories stay on one page with its words of execution (review r6 B3-9).
            for n, (role, person) in enumerate(block.lines):
                self._signature_lines(tree.signature_lines(role, person), keep_last=n < len(block.lines) - 1)
        elif block.method == "sign_off":
            if block.intro:
                _text_run(self._paragraph("Table Caption"), block.intro)
            widths = self._even_widths(4)
            rows = [_HEADER_ROW + "".join(
                self._cell(w, heading, bold=True, fill=HEADER_FILL)
                for w, heading in zip(widths, tree.SIGN_OFF_COLUMNS)) + "</w:tr>"]
            for role, person in block.lines:
                rows.append(_SIGN_OFF_ROW + "".join(
                    self._cell(w, value) for w, value in zip(widths, (role, person, "", ""))) + "</w:tr>")
            self._grid(widths, rows, "Agreement Table")
            self._spacer("Table Text")
        else:
            raise BuildError(_diag("<document>", "S75-DOCX",
                                   f"signature block for {name!r} has unknown method {block.method!r}",
                                   "use common_seal, signatories or sign_off"))

    def _signature_lines(self, lines: list[tuple[str, str]], keep_last: bool = False) -> None:
        """Label and dotted line (or the known value) for each row, kept together (and with the next signatory's
        lines when keep_last)."""
        widths = [LABEL_WIDTH.twips, LINE_WIDTH.twips]
        rows = []
        for r, (label, value) in enumerate(lines):
            keep = keep_last or r < len(lines) - 1
            rows.append(_BODY_ROW
                        + self._cell(widths[0], label, keep=keep, style="Signature Text")
                        + self._cell(widths[1], value or SIGNING_LINE, keep=keep,
                                     style="Signature Text")
                        + "</w:tr>")
        self._grid(widths, rows, None, borderless=True)
        self._spacer("Execution Text")


_SECT_PR = qn("w:sectPr")

# Row and table properties as python-docx and ooxml's table helpers leave them.
_TBL_LOOK = ('<w:tblLook w:firstColumn="1" w:firstRow="1" w:lastColumn="0" w:lastRow="0" '
             'w:noHBand="0" w:noVBand="1" w:val="04A0"/>')
_HEADER_ROW = "<w:tr><w:trPr><w:cantSplit/><w:tblHeader/></w:trPr>"  # repeats on each page, never split
_BODY_ROW = "<w:tr><w:trPr><w:cantSplit/></w:trPr>"  # never split across pages
_SIGN_OFF_ROW = f'<w:tr><w:trPr><w:trHeight w:val="{SIGN_OFF_ROW_HEIGHT.twips}"/><w:cantSplit/></w:trPr>'


# --- writing the file -----------------------------------------------------


def _diag(location: str, code: str, message: str, hint: str = "") -> Diagnostic:
    return Diagnostic(Location(location), ERROR, code, message, hint)


def atomic_write(path: pathlib.Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` all at once (see :mod:`assembler.word.files`)."""
    files.replace_files([(pathlib.Path(path), data)])
