"""Raw WordprocessingML that python-docx has no API for, in one place.

Numbering definitions and restarts, bookmarks, fields (REF, PAGEREF, TOC,
PAGE, NUMPAGES), a few table and style properties, settings, and the
package normalisation that makes a build byte-for-byte reproducible.
Everything here works on lxml elements; nothing here knows the document
tree. Twips (1/20 pt) are used for all lengths, as in the XML itself.
"""

from __future__ import annotations

import functools
import hashlib
import io
import re
import zipfile
from dataclasses import dataclass

from docx.oxml.ns import nsmap, qn
from docx.oxml.parser import oxml_parser, parse_xml
from docx.opc.pkgwriter import PackageWriter
from lxml import etree

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def el(tag: str, /, **attrs: str) -> etree._Element:
    """A new ``w:`` element; attribute names are given without the prefix.

    The element python-docx's ``OxmlElement(tag)`` makes, without re-parsing
    the prefixed name on every call (the body has tens of thousands).
    """
    clark, nsmap = _tag(tag)
    node = oxml_parser.makeelement(clark, nsmap=nsmap)
    for name, value in attrs.items():
        node.set(w_attr(name), str(value))
    return node


@functools.lru_cache(maxsize=None)
def _tag(tag: str) -> tuple[str, dict[str, str]]:
    """Clark name and namespace map of a prefixed tag, as OxmlElement derives them."""
    prefix = tag.split(":", 1)[0]
    return qn(tag), {prefix: nsmap[prefix]}


@functools.lru_cache(maxsize=None)
def w_attr(name: str) -> str:
    """Clark name of the ``w:`` attribute ``name``."""
    return qn(f"w:{name}")


def child(parent: etree._Element, tag: str, /, **attrs: str) -> etree._Element:
    """A new ``w:`` element appended to ``parent``, using the prefix already in scope there."""
    return etree.SubElement(parent, _tag(tag)[0], {w_attr(name): str(value) for name, value in attrs.items()})


# --- XML text ---------------------------------------------------------------
#
# Long runs of body paragraphs are written as XML text, in the form lxml
# itself writes (so document.xml is byte for byte what a whole-document
# serialisation would give), and spliced into document.xml as text.


def xml_text(text: str) -> str:
    """``text`` escaped for element content (a carriage return kept as one, not read as a newline)."""
    if not _NEEDS_ESCAPE.search(text):
        return text  # most text: one scan instead of four replaces
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


_NEEDS_ESCAPE = re.compile("[&<>\r]")


def xml_attr(text: str) -> str:
    """``text`` escaped for a double-quoted attribute value."""
    return xml_text(text).replace('"', "&quot;")


BODY_MARKER = b"<?s75-body ?>"  # where the body's blocks go in document.xml (as lxml writes the instruction)


def add_body_marker(body: etree._Element) -> None:
    """Mark where the body's blocks go: before the body's own w:sectPr, as python-docx adds paragraphs."""
    marker = etree.ProcessingInstruction("s75-body")
    sect_pr = body.find(qn("w:sectPr"))
    if sect_pr is not None:
        sect_pr.addprevious(marker)
    else:
        body.append(marker)


def _ppr(p_or_style: etree._Element) -> etree._Element:
    """The w:pPr of a paragraph or paragraph style, created in schema order."""
    ppr = p_or_style.find(qn("w:pPr"))
    if ppr is None:
        ppr = el("w:pPr")
        if p_or_style.tag == qn("w:style"):
            # pPr comes after name/basedOn/next/link/uiPriority/qFormat... and before rPr
            rpr = p_or_style.find(qn("w:rPr"))
            if rpr is not None:
                rpr.addprevious(ppr)
            else:
                p_or_style.append(ppr)
        else:
            p_or_style.insert(0, ppr)
    return ppr


def _insert_in_order(ppr: etree._Element, node: etree._Element, before: tuple[str, ...]) -> None:
    """Insert ``node`` into a pPr ahead of the first sibling named in ``before``."""
    for existing in ppr.findall(node.tag):
        ppr.remove(existing)
    for tag in before:
        anchor = ppr.find(qn(tag))
        if anchor is not None:
            anchor.addprevious(node)
            return
    ppr.append(node)


# Elements that follow w:numPr / w:outlineLvl inside w:pPr (ECMA-376 order).
_AFTER_NUMPR = (
    "w:suppressLineNumbers", "w:pBdr", "w:shd", "w:tabs", "w:suppressAutoHyphens",
    "w:kinsoku", "w:wordWrap", "w:overflowPunct", "w:topLinePunct", "w:autoSpaceDE",
    "w:autoSpaceDN", "w:bidi", "w:adjustRightInd", "w:snapToGrid", "w:spacing",
    "w:ind", "w:contextualSpacing", "w:mirrorIndents", "w:suppressOverlap", "w:jc",
    "w:textDirection", "w:textAlignment", "w:textboxTightWrap", "w:outlineLvl",
    "w:divId", "w:cnfStyle", "w:rPr", "w:sectPr", "w:pPrChange",
)
_AFTER_OUTLINE = ("w:divId", "w:cnfStyle", "w:rPr", "w:sectPr", "w:pPrChange")
_AFTER_TABS = _AFTER_NUMPR[_AFTER_NUMPR.index("w:suppressAutoHyphens"):]
_AFTER_SHD = _AFTER_NUMPR[_AFTER_NUMPR.index("w:shd"):]


# --- numbering ------------------------------------------------------------


@dataclass(frozen=True)
class Level:
    """One level of a multi-level list: format, text, indents and linked style."""

    fmt: str  # "decimal", "lowerLetter", "lowerRoman", "upperLetter"
    text: str  # "%1.", "%1.%2", "(%4)"
    left: int  # twips: where the text starts
    hanging: int  # twips: how far the number hangs to the left of the text
    style: str = ""  # style id linked to this level
    bold: bool = False


def abstract_num(abstract_id: int, name: str, levels: list[Level]) -> etree._Element:
    """A ``w:abstractNum`` (multi-level, tab after the number) for ``levels``."""
    node = el("w:abstractNum", abstractNumId=str(abstract_id))
    child(node, "w:multiLevelType", val="multilevel")
    child(node, "w:name", val=name)
    for ilvl, level in enumerate(levels):
        lvl = child(node, "w:lvl", ilvl=str(ilvl))
        child(lvl, "w:start", val="1")
        child(lvl, "w:numFmt", val=level.fmt)
        if level.style:
            child(lvl, "w:pStyle", val=level.style)
        child(lvl, "w:suff", val="tab")
        child(lvl, "w:lvlText", val=level.text)
        child(lvl, "w:lvlJc", val="left")
        ppr = child(lvl, "w:pPr")
        tabs = child(ppr, "w:tabs")
        child(tabs, "w:tab", val="num", pos=str(level.left))
        child(ppr, "w:ind", left=str(level.left), hanging=str(level.hanging))
        rpr = child(lvl, "w:rPr")
        child(rpr, "w:b", val="1" if level.bold else "0")
        child(rpr, "w:i", val="0")
    return node


def add_abstract_num(numbering: etree._Element, node: etree._Element) -> None:
    """Abstract definitions must precede every ``w:num`` in numbering.xml."""
    first_num = numbering.find(qn("w:num"))
    if first_num is not None:
        first_num.addprevious(node)
    else:
        numbering.append(node)


def last_num_id(numbering: etree._Element) -> int:
    """The largest ``w:numId`` in use (0 for none)."""
    return max((int(n) for n in numbering.xpath("./w:num/@w:numId")), default=0)


def add_num(numbering: etree._Element, abstract_id: int, restart_levels: int = 0, num_id: int | None = None) -> int:
    """Add a ``w:num`` for ``abstract_id`` and return its id.

    With ``restart_levels`` > 0 each of the first n levels gets a
    ``w:startOverride`` of 1, so this instance counts from 1 again instead of
    continuing other instances of the same abstract list (Word's default).
    The id is ``num_id`` if given, else one more than the largest in use: a
    caller adding one per schedule counts them itself, since that search
    reads every ``w:num`` and made thousands of schedules cost quadratic time.
    The ``w:num`` is parsed from XML text: adding its elements one by one
    to numbering.xml took four times as long.
    """
    num_id = last_num_id(numbering) + 1 if num_id is None else num_id
    overrides = "".join(f'<w:lvlOverride w:ilvl="{ilvl}"><w:startOverride w:val="1"/></w:lvlOverride>'
                        for ilvl in range(restart_levels))
    numbering.append(parse_xml(f'<w:num xmlns:w="{W_NS}" w:numId="{num_id}">'
                               f'<w:abstractNumId w:val="{abstract_id}"/>{overrides}</w:num>'))
    return num_id


def set_numbering(p_or_style: etree._Element, num_id: int, ilvl: int | None) -> None:
    """Attach a paragraph or paragraph style to list ``num_id`` (at ``ilvl``)."""
    numpr = el("w:numPr")
    if ilvl is not None:
        child(numpr, "w:ilvl", val=str(ilvl))
    child(numpr, "w:numId", val=str(num_id))
    _insert_in_order(_ppr(p_or_style), numpr, _AFTER_NUMPR)


def numbering_xml(num_id: int, ilvl: int) -> str:
    """The ``w:numPr`` ``set_numbering`` adds to a new paragraph, as XML text."""
    return f'<w:numPr><w:ilvl w:val="{ilvl}"/><w:numId w:val="{num_id}"/></w:numPr>'


def outline_level_xml(level: int) -> str:
    """The ``w:outlineLvl`` ``set_outline_level`` adds to a new paragraph, as XML text."""
    return f'<w:outlineLvl w:val="{level}"/>'


def set_outline_level(p_or_style: etree._Element, level: int) -> None:
    """Outline level 0 is what ``TOC \\u`` collects as a first-level entry."""
    _insert_in_order(_ppr(p_or_style), el("w:outlineLvl", val=str(level)), _AFTER_OUTLINE)


def set_tabs(p_or_style: etree._Element, tabs: list[tuple[str, int, str]]) -> None:
    """Tab stops as (alignment, position, leader), e.g. ("right", 9071, "dot")."""
    node = el("w:tabs")
    for align, pos, leader in tabs:
        tab = child(node, "w:tab", val=align, pos=str(pos))
        if leader:
            tab.set(qn("w:leader"), leader)
    _insert_in_order(_ppr(p_or_style), node, _AFTER_TABS)


def set_paragraph_border(p_or_style: etree._Element, side: str, size: int = 6, space: int = 4) -> None:
    """A single rule above or below (``side`` "top" or "bottom")."""
    bdr = el("w:pBdr")
    child(bdr, f"w:{side}", val="single", sz=str(size), space=str(space), color="auto")
    _insert_in_order(_ppr(p_or_style), bdr, _AFTER_SHD)


# --- bookmarks ------------------------------------------------------------


_NOT_IN_NAME = re.compile(r"[^A-Za-z0-9_]")


class Bookmarks:
    """Deterministic, unique bookmark names and ids for one document.

    Word limits names to 40 characters of letters, digits and underscores
    and compares them without regard to case; names starting "_" are hidden.
    """

    MAX = 40

    def __init__(self) -> None:
        self._next_id = 1
        self._taken: set[str] = set()
        self.by_key: dict[str, str] = {}

    def name_for(self, key: str, prefix: str = "_Ref_") -> str:
        """The bookmark name for ``key`` (the same key always gets the same name)."""
        if key in self.by_key:
            return self.by_key[key]
        clean = _NOT_IN_NAME.sub("_", key)
        name = prefix + clean
        if len(name) > self.MAX or name.lower() in self._taken:
            digest = hashlib.sha1(key.encode("utf-8")).hexdigest()
            room = self.MAX - len(prefix) - 9
            name = f"{prefix}{clean[:room]}_{digest[:8]}"
            counter = 1
            while name.lower() in self._taken:
                tail = f"_{digest[:6]}{counter}"
                name = f"{prefix}{clean[: self.MAX - len(prefix) - len(tail)]}{tail}"
                counter += 1
        self._taken.add(name.lower())
        self.by_key[key] = name
        return name

    def wrap_xml(self, p: list[str], name: str) -> None:
        """``wrap`` for a paragraph held as XML text: its opening tag and pPr, then its content."""
        bm_id = self._next_id
        self._next_id += 1
        p.insert(1, f'<w:bookmarkStart w:id="{bm_id}" w:name="{xml_attr(name)}"/>')
        p.append(f'<w:bookmarkEnd w:id="{bm_id}"/>')

# --- fields ---------------------------------------------------------------


def new_run(rpr: etree._Element | None) -> etree._Element:
    """An empty ``w:r`` with a copy of the run properties ``rpr`` (if any)."""
    run = el("w:r")
    if rpr is not None:
        run.append(copy_element(rpr))
    return run


def copy_element(node: etree._Element) -> etree._Element:
    """A deep copy of ``node``, detached from its tree."""
    return etree.fromstring(etree.tostring(node))


def text_run(text: str, rpr: etree._Element | None = None) -> etree._Element:
    run = new_run(rpr)
    t = child(run, "w:t")
    t.text = text
    t.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
    return run


def field_runs(instr: str, result: str, rpr: etree._Element | None = None) -> list[etree._Element]:
    """A complex field: begin, instruction, separate, cached result, end.

    The cached result is what a reader sees before (or without) a field
    update, so it must already be right.
    """
    begin = new_run(rpr)
    child(begin, "w:fldChar", fldCharType="begin")
    code = new_run(rpr)
    instr_el = child(code, "w:instrText")
    instr_el.text = f" {instr} "
    instr_el.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
    sep = new_run(rpr)
    child(sep, "w:fldChar", fldCharType="separate")
    end = new_run(rpr)
    child(end, "w:fldChar", fldCharType="end")
    return [begin, code, sep, text_run(result, rpr), end]


def append_field(p: etree._Element, instr: str, result: str, rpr: etree._Element | None = None) -> None:
    for run in field_runs(instr, result, rpr):
        p.append(run)


def field_xml(instr: str, result: str) -> str:
    """``field_runs(instr, result)`` (no run properties) as XML text."""
    return _field_begin_xml(instr) + _text_run_xml(result) + _FIELD_END


def _field_begin_xml(instr: str) -> str:
    """A field's begin, instruction and separate runs, as XML text."""
    return ('<w:r><w:fldChar w:fldCharType="begin"/></w:r>'
            f'<w:r><w:instrText xml:space="preserve"> {xml_text(instr)} </w:instrText></w:r>'
            '<w:r><w:fldChar w:fldCharType="separate"/></w:r>')


def _text_run_xml(text: str) -> str:
    """``text_run(text)`` as XML text."""
    return f'<w:r><w:t xml:space="preserve">{xml_text(text)}</w:t></w:r>'


_FIELD_END = '<w:r><w:fldChar w:fldCharType="end"/></w:r>'


def ref_instr(bookmark: str) -> str:
    """Paragraph number of ``bookmark`` in full context (``\\w``), as a link."""
    return f"REF {bookmark} \\w \\h"


TOC_INSTR = 'TOC \\o "1-1" \\h \\z \\u'


@dataclass(frozen=True)
class TocEntry:
    """One contents line: number ("1." or ""), text, and the heading's bookmark."""

    number: str
    text: str
    bookmark: str
    page: str = ""


def toc_xml(entries: list[TocEntry], style_id: str) -> bytes:
    """The TOC field as paragraphs whose cached result lists ``entries``, as XML text.

    Each entry links to its heading. Page numbers are only known after
    layout, so an entry without ``page`` has no leader or PAGEREF: readers
    that show cached results (LibreOffice, PDF export) get a clean list, and
    Word rebuilds the whole table, with pages, when it updates fields.
    The field begins in the first paragraph and ends in the last. Written
    as text in the form lxml writes, like the body, and spliced in with it.
    """
    lines = entries or [TocEntry("", "Contents: update fields to build this table.", "")]
    ppr = f'<w:p><w:pPr><w:pStyle w:val="{xml_attr(style_id)}"/></w:pPr>'
    paras = []
    for entry in lines:
        xml = ppr + (_TOC_BEGIN if not paras else "")
        if entry.bookmark:
            xml += f'<w:hyperlink w:anchor="{xml_attr(entry.bookmark)}" w:history="1">'
        if entry.number:
            xml += _text_run_xml(entry.number) + "<w:r><w:tab/></w:r>"
        xml += "<w:r><w:br/></w:r>".join(_text_run_xml(line) for line in entry.text.split("\n"))
        if entry.bookmark and entry.page:
            xml += "<w:r><w:tab/></w:r>" + field_xml(f"PAGEREF {entry.bookmark} \\h", entry.page)
        if entry.bookmark:
            xml += "</w:hyperlink>"
        paras.append(xml)
    paras[-1] += _FIELD_END
    return ("</w:p>".join(paras) + "</w:p>").encode("utf-8")


_TOC_BEGIN = _field_begin_xml(TOC_INSTR)


def fill_toc_pages(docx: bytes, pages: list[str]) -> bytes | None:
    """``docx`` with each contents entry given its page number, and Word no longer asked to update.

    ``pages`` are the page numbers LibreOffice laid out, one per entry in
    order. Each entry gets a PAGEREF to its heading with that number as its
    result, as Word itself writes a contents page, so the document keeps
    s75's own structure. None if the entries and ``pages`` do not pair up.
    """
    with zipfile.ZipFile(io.BytesIO(docx)) as package:
        parts = {info.filename: package.read(info.filename) for info in package.infolist()}
    body = etree.fromstring(parts["word/document.xml"])
    start = find_toc_paragraph(body)
    if start is None:
        return None
    style = start.find(f"{qn('w:pPr')}/{qn('w:pStyle')}")
    entries = []
    for paragraph in [start, *start.itersiblings(qn("w:p"))]:
        found = paragraph.find(f"{qn('w:pPr')}/{qn('w:pStyle')}")
        link = paragraph.find(qn("w:hyperlink"))
        if style is None or found is None or found.get(qn("w:val")) != style.get(qn("w:val")) or link is None:
            break
        entries.append(link)
    if not entries or len(entries) != len(pages) or not all(page.isdigit() for page in pages):
        return None
    for link, page in zip(entries, pages):
        child(child(link, "w:r"), "w:tab")
        for run in field_runs(f"PAGEREF {link.get(qn('w:anchor'))} \\h", page):
            link.append(run)
    settings = etree.fromstring(parts["word/settings.xml"])
    for node in settings.findall(qn("w:updateFields")):
        settings.remove(node)
    parts["word/document.xml"] = etree.tostring(body, xml_declaration=True, encoding="UTF-8", standalone=True)
    parts["word/settings.xml"] = etree.tostring(settings, xml_declaration=True, encoding="UTF-8", standalone=True)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
        for name, data in parts.items():
            package.writestr(name, data)
    return normalise_package(out.getvalue())


def find_toc_paragraph(body: etree._Element) -> etree._Element | None:
    """The paragraph holding the TOC field's instruction, if any."""
    for instr in body.iter(qn("w:instrText")):
        if (instr.text or "").strip().startswith("TOC"):
            return instr.getparent().getparent()
    return None


TOC_MARKER = b"<?s75-toc ?>"  # where toc_xml's paragraphs go in document.xml


def mark_toc(body: etree._Element) -> bool:
    """Swap the template's placeholder TOC paragraph for the marker its entries will replace."""
    old = find_toc_paragraph(body)
    if old is None:
        return False
    old.addprevious(etree.ProcessingInstruction("s75-toc"))
    old.getparent().remove(old)
    return True


# --- tables ---------------------------------------------------------------


def table_style_properties(style: etree._Element, border_size: int, color: str, cell_margin: int) -> None:
    """Borders on every edge and inner line, and cell margins, for a table style."""
    tblpr = style.find(qn("w:tblPr"))
    if tblpr is None:
        tblpr = child(style, "w:tblPr")
    borders = child(tblpr, "w:tblBorders")
    for side in ("top", "left", "bottom", "right", "insideH", "insideV"):
        child(borders, f"w:{side}", val="single", sz=str(border_size), space="0", color=color)
    margins = child(tblpr, "w:tblCellMar")
    child(margins, "w:top", w="40", type="dxa")
    child(margins, "w:left", w=str(cell_margin), type="dxa")
    child(margins, "w:bottom", w="40", type="dxa")
    child(margins, "w:right", w=str(cell_margin), type="dxa")


NO_BORDERS_XML = "<w:tblBorders>" + "".join(
    f'<w:{side} w:val="nil"/>' for side in ("top", "left", "bottom", "right", "insideH", "insideV")
) + "</w:tblBorders>"
"""Table borders switched off on every side, as XML text (the signature layout)."""


# --- settings and package -------------------------------------------------


def set_update_fields(settings: etree._Element) -> None:
    """Ask Word to refresh REF, PAGEREF and TOC fields when the file is opened."""
    for old in settings.findall(qn("w:updateFields")):
        settings.remove(old)
    node = el("w:updateFields", val="true")
    # CT_Settings order: updateFields sits just before hdrShapeDefaults/compat.
    for tag in _AFTER_UPDATE_FIELDS:
        anchor = settings.find(qn(tag))
        if anchor is not None:
            anchor.addprevious(node)
            return
    settings.append(node)


_AFTER_UPDATE_FIELDS = (
    "w:hdrShapeDefaults", "w:footnotePr", "w:endnotePr", "w:compat", "w:docVars",
    "w:rsids", "m:mathPr", "w:attachedSchema", "w:themeFontLang", "w:clrSchemeMapping",
    "w:doNotIncludeSubdocsInStats", "w:doNotAutoCompressPictures", "w:forceUpgrade",
    "w:captions", "w:readModeInkLockDown", "w:smartTagType", "w:shapeDefaults",
    "w:doNotEmbedSmartTags", "w:decimalSymbol", "w:listSeparator",
)


_RSID_ATTR = re.compile(rb'\s+w:rsid[A-Za-z]*="[0-9A-Fa-f]*"')
_RSIDS_ELEM = re.compile(rb"<w:rsids>.*?</w:rsids>|<w:rsids/>|<w:rsid w:val=\"[0-9A-Fa-f]*\"/>", re.S)
_FIRST = ("[Content_Types].xml", "_rels/.rels")
EPOCH = (1980, 1, 1, 0, 0, 0)


def strip_rsids(xml: bytes) -> bytes:
    """Remove revision-session ids: they carry no meaning and vary by editor.

    Every pattern contains "w:rsid"; a part without it (most, and the large
    document.xml) is returned as it is, skipping two slow regex scans.
    """
    if b"w:rsid" not in xml:
        return xml
    return _RSIDS_ELEM.sub(b"", _RSID_ATTR.sub(b"", xml))


def normalise_package(data: bytes, splices: dict[bytes, list[bytes]] | None = None) -> bytes:
    """Re-zip a .docx with fixed order, timestamps and compression (and ``splices`` made).

    Zip entries otherwise carry the current time, so two builds of the same
    agreement would differ.
    """
    with zipfile.ZipFile(io.BytesIO(data)) as src:
        blobs = {name: src.read(name) for name in src.namelist()}
    return normalised_zip(blobs, splices)


def package_bytes(package, splices: dict[bytes, list[bytes]] | None = None) -> bytes:
    """A python-docx package as a normalised .docx, zipped once.

    The same parts python-docx's ``save`` writes, taken as bytes instead of
    being compressed, read back and compressed again by normalise_package.
    ``splices``: marker in document.xml -> the XML text (in pieces) that replaces it.
    """
    steps = [getattr(PackageWriter, name, None)
             for name in ("_write_content_types_stream", "_write_pkg_rels", "_write_parts")]
    if None in steps:  # a python-docx whose internals differ: save, then re-zip
        buf = io.BytesIO()
        package.save(buf)
        return normalise_package(buf.getvalue(), splices)
    content_types, pkg_rels, write_parts = steps
    parts = list(package.parts)
    for part in parts:
        part.before_marshal()
    blobs = _Blobs()
    content_types(blobs, parts)
    pkg_rels(blobs, package.rels)
    write_parts(blobs, parts)
    return normalised_zip(blobs, splices)


def _splice(blobs: dict[str, bytes], splices: dict[bytes, list[bytes]] | None) -> None:
    """Replace each marker in document.xml by its pieces, in one join (the body may be large)."""
    if not splices:
        return
    xml = blobs["word/document.xml"]
    pieces, start = [], 0
    for at, marker in sorted((xml.find(marker), marker) for marker in splices):
        if at < 0:
            raise ValueError(f"document.xml has no marker {marker!r}")
        pieces += [xml[start:at], *splices[marker]]
        start = at + len(marker)
    blobs["word/document.xml"] = b"".join((*pieces, xml[start:]))


class _Blobs(dict):
    """Stands in for python-docx's zip writer: member name -> bytes."""

    def write(self, pack_uri, blob: bytes) -> None:
        self[pack_uri.membername] = blob


def normalised_zip(blobs: dict[str, bytes], splices: dict[bytes, list[bytes]] | None = None) -> bytes:
    """Zip member name -> bytes in a fixed order with fixed timestamps, without rsids (and ``splices`` made).

    The spliced XML goes in after the rsids are gone: it is the writer's
    own, never holds one, and is most of the package, not to be scanned for them.
    """
    blobs = {name: strip_rsids(blob) if name.endswith((".xml", ".rels")) else blob for name, blob in blobs.items()}
    _splice(blobs, splices)
    order = [n for n in _FIRST if n in blobs] + sorted(n for n in blobs if n not in _FIRST)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for name in order:
            blob = blobs[name]
            info = zipfile.ZipInfo(name, date_time=EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 0
            info.external_attr = 0
            dst.writestr(info, blob, compress_type=zipfile.ZIP_DEFLATED, compresslevel=6)
    return out.getvalue()


def set_doc_defaults(styles: etree._Element, font: str, half_points: int, lang: str) -> None:
    """Document-wide font, size and language, replacing theme-font defaults.

    Explicit font names (not theme references) so Word and LibreOffice agree.
    """
    old = styles.find(qn("w:docDefaults"))
    defaults = el("w:docDefaults")
    rpr = child(child(defaults, "w:rPrDefault"), "w:rPr")
    child(rpr, "w:rFonts", ascii=font, hAnsi=font, eastAsia=font, cs=font)
    child(rpr, "w:sz", val=str(half_points))
    child(rpr, "w:szCs", val=str(half_points))
    child(rpr, "w:lang", val=lang, eastAsia=lang, bidi="ar-SA")
    ppr = child(child(defaults, "w:pPrDefault"), "w:pPr")
    child(ppr, "w:spacing", after="0", line="240", lineRule="auto")
    if old is not None:
        old.addprevious(defaults)
        styles.remove(old)
    else:
        styles.insert(0, defaults)


def set_compatibility_mode(settings: etree._Element, mode: int) -> None:
    """Lay the document out as Word ``mode`` does (15: Word 2013 and later), not in "Compatibility Mode"."""
    for setting in settings.iter(qn("w:compatSetting")):
        if setting.get(qn("w:name")) == "compatibilityMode":
            setting.set(qn("w:val"), str(mode))


def set_theme_font_lang(settings: etree._Element, lang: str) -> None:
    node = settings.find(qn("w:themeFontLang"))
    if node is not None:
        node.attrib.clear()
        node.set(qn("w:val"), lang)


def set_app_properties(package, application: str) -> None:
    """Replace docProps/app.xml (python-docx ships one naming another program)."""
    xml = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties" '
        'xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">'
        f"<Application>{application}</Application><DocSecurity>0</DocSecurity>"
        "</Properties>"
    ).encode("utf-8")
    for part in package.iter_parts():
        if str(part.partname) == "/docProps/app.xml":
            part._blob = xml


# --- tracked changes (redline) -------------------------------------------------
#
# The redline writes an ordinary document whose text carries private-use
# marker characters, then turns the marked stretches into w:ins / w:del here.
# Inline: ``start_ins`` / ``start_del`` ... ``end`` inside one paragraph's
# runs. Rows: a row whose first cell starts with ``row_ins`` / ``row_del``.
# Blocks: a paragraph holding only ``block_ins`` / ``block_del`` opens a
# region of whole paragraphs and tables, closed by one holding ``block_end``.


@dataclass(frozen=True)
class ChangeMarks:
    start_ins: str
    start_del: str
    end: str
    row_ins: str
    row_del: str
    block_ins: str
    block_del: str
    block_end: str

    @property
    def all(self) -> str:
        return "".join((self.start_ins, self.start_del, self.end, self.row_ins, self.row_del,
                        self.block_ins, self.block_del, self.block_end))


class Revisions:
    """Author, date and the next id for w:ins / w:del marks; ids must be unique in a document."""

    def __init__(self, author: str, date: str, first_id: int):
        self.author, self.date, self.next_id = author, date, first_id

    def mark(self, kind: str) -> etree._Element:
        node = el(f"w:{kind}", id=str(self.next_id), author=self.author, date=self.date)
        self.next_id += 1
        return node


def set_deleted_text(run: etree._Element) -> None:
    """Turn a run's text into deleted text, as Word requires inside w:del."""
    for t in run.findall(qn("w:t")):
        t.tag = qn("w:delText")
    for t in run.findall(qn("w:instrText")):
        t.tag = qn("w:delInstrText")


def _split_run(run: etree._Element, marks: ChangeMarks, mode: str, forced: str) -> tuple[list, str]:
    """The run cut at marker characters: [(mode, new run)], and the mode after it."""
    rpr = run.find(qn("w:rPr"))
    pieces: list[tuple[str, etree._Element]] = []
    for atom in run:
        if atom.tag == qn("w:rPr"):
            continue
        if atom.tag != qn("w:t") or not any(c in (atom.text or "") for c in marks.all):
            new = new_run(rpr)
            new.append(copy_element(atom))
            pieces.append((forced or mode, new))
            continue
        text = atom.text or ""
        chunk = ""
        for char in text + "\0":
            if char in marks.all or char == "\0":
                if chunk:
                    pieces.append((forced or mode, text_run(chunk, rpr)))
                chunk = ""
                if char == marks.start_ins:
                    mode = "ins"
                elif char == marks.start_del:
                    mode = "del"
                elif char == marks.end:
                    mode = ""
            else:
                chunk += char
    return pieces, mode


def _mark_paragraph_runs(p: etree._Element, marks: ChangeMarks, revisions: Revisions, forced: str = "") -> None:
    mode = ""
    for run in list(p.iter(qn("w:r"))):
        if run.getparent() is None or run.getparent().tag in (qn("w:ins"), qn("w:del")):
            continue
        texts = "".join(t.text or "" for t in run.findall(qn("w:t")))
        if not forced and not mode and not any(c in texts for c in marks.all):
            continue
        pieces, mode = _split_run(run, marks, mode, forced)
        parent = run.getparent()
        for kind, new in pieces:
            if kind:
                wrapper = revisions.mark(kind)
                if kind == "del":
                    set_deleted_text(new)
                wrapper.append(new)
                new = wrapper
            run.addprevious(new)
        parent.remove(run)


def mark_paragraph_mark(p: etree._Element, kind: str, revisions: Revisions) -> None:
    """Track the paragraph mark itself as inserted or deleted, so accepting or rejecting joins paragraphs."""
    ppr = _ppr(p)
    rpr = ppr.find(qn("w:rPr"))
    if rpr is None:
        rpr = el("w:rPr")
        _insert_in_order(ppr, rpr, ("w:sectPr", "w:pPrChange"))
    rpr.insert(0, revisions.mark(kind))


def _mark_row(tr: etree._Element, kind: str, revisions: Revisions) -> None:
    trpr = tr.find(qn("w:trPr"))
    if trpr is None:
        trpr = el("w:trPr")
        anchor = tr.find(qn("w:tblPrEx"))
        (anchor.addnext if anchor is not None else lambda n: tr.insert(0, n))(trpr)
    change = trpr.find(qn("w:trPrChange"))
    node = revisions.mark(kind)
    (change.addprevious if change is not None else trpr.append)(node)


def _only_text(p: etree._Element) -> str:
    return "".join(t.text or "" for t in p.iter(qn("w:t")))


def _mark_table(tbl: etree._Element, marks: ChangeMarks, revisions: Revisions, forced: str) -> None:
    for tr in tbl.iter(qn("w:tr")):
        row = forced
        first = tr.find(f"{qn('w:tc')}")
        lead = _only_text(first) if first is not None else ""
        if not row and lead[:1] in (marks.row_ins, marks.row_del) and lead[:1]:
            row = "ins" if lead[0] == marks.row_ins else "del"
        if row:
            _mark_row(tr, row, revisions)
        for p in tr.iter(qn("w:p")):
            _mark_paragraph_runs(p, marks, revisions, row)


def apply_tracked_changes(body: etree._Element, marks: ChangeMarks, author: str, date: str) -> None:
    """Turn marker characters in ``body`` into tracked insertions and deletions."""
    used = [int(n) for n in body.xpath(".//w:bookmarkStart/@w:id", namespaces={"w": W_NS}) if n.isdigit()]
    revisions = Revisions(author, date, max(used, default=0) + 1)
    region = ""
    before_region: etree._Element | None = None  # the block just before the open region
    last: etree._Element | None = None  # the last block of the open region
    for node in list(body):
        if node.tag == qn("w:p") and _only_text(node) in (marks.block_ins, marks.block_del, marks.block_end):
            text = _only_text(node)
            if region == "del" and last is not None:
                _close_deletion_upwards(before_region, last)
            region = "ins" if text == marks.block_ins else "del" if text == marks.block_del else ""
            before_region, last = node.getprevious(), None
            brk = node.find(f"{qn('w:pPr')}/{qn('w:pageBreakBefore')}")
            following = node.getnext()
            if brk is not None and following is not None and following.tag == qn("w:p"):
                _insert_in_order(_ppr(following), el("w:pageBreakBefore"), _AFTER_PAGE_BREAK)
            body.remove(node)
            continue
        if node.tag == qn("w:p"):
            _mark_paragraph_runs(node, marks, revisions, region)
            if region:
                mark_paragraph_mark(node, region, revisions)
        elif node.tag == qn("w:tbl"):
            _mark_table(node, marks, revisions, region)
        last = node


def _mark_properties(p: etree._Element) -> bytes:
    """A paragraph's properties, its mark's tracked-change flag left out."""
    ppr = p.find(qn("w:pPr"))
    if ppr is None:
        return b""
    ppr = copy_element(ppr)
    for flag in ppr.xpath("w:rPr/w:ins | w:rPr/w:del", namespaces={"w": W_NS}):
        flag.getparent().remove(flag)
    for rpr in ppr.findall(qn("w:rPr")):
        if len(rpr) == 0:
            ppr.remove(rpr)
    return etree.tostring(ppr)


def _close_deletion_upwards(before: etree._Element | None, last: etree._Element) -> None:
    """Delete the paragraph mark before a deleted region instead of the region's last one.

    Word tracks a deleted paragraph by its own mark, so the deletion ends at
    the start of the next paragraph. LibreOffice (7.x to at least 25.x)
    then counts that next paragraph as deleted too: it shows "[4.3]" where
    nothing changed and numbers the paragraphs after it, and its sub-list,
    "new[old]" wrongly. When the paragraph before the region is laid out
    exactly as the region's last one, deleting its mark instead gives the
    same text and properties on "Accept all" and "Reject all" in Word, and
    the next paragraph is left untouched. A section break is never deleted.
    """
    if before is None or before.tag != qn("w:p") or last.tag != qn("w:p"):
        return
    if before.find(f"{qn('w:pPr')}/{qn('w:sectPr')}") is not None:
        return
    if before.find(f"{qn('w:pPr')}/{qn('w:rPr')}/{qn('w:ins')}") is not None or \
            before.find(f"{qn('w:pPr')}/{qn('w:rPr')}/{qn('w:del')}") is not None:
        return
    if _mark_properties(before) != _mark_properties(last):
        return
    flag = last.find(f"{qn('w:pPr')}/{qn('w:rPr')}/{qn('w:del')}")
    if flag is None:
        return
    rpr = flag.getparent()
    rpr.remove(flag)
    target = _ppr(before).find(qn("w:rPr"))
    if target is None:
        target = el("w:rPr")
        _insert_in_order(_ppr(before), target, ("w:sectPr", "w:pPrChange"))
    target.insert(0, flag)
    if len(rpr) == 0 and rpr.getparent() is not None:
        ppr = rpr.getparent()
        ppr.remove(rpr)
        if len(ppr) == 0:
            last.remove(ppr)


_AFTER_PAGE_BREAK = (
    "w:framePr", "w:widowControl", "w:numPr", "w:suppressLineNumbers", "w:pBdr", "w:shd", "w:tabs",
    "w:suppressAutoHyphens", "w:kinsoku", "w:wordWrap", "w:overflowPunct", "w:topLinePunct",
    "w:autoSpaceDE", "w:autoSpaceDN", "w:bidi", "w:adjustRightInd", "w:snapToGrid", "w:spacing",
    "w:ind", "w:contextualSpacing", "w:mirrorIndents", "w:suppressOverlap", "w:jc",
    "w:textDirection", "w:textAlignment", "w:textboxTightWrap", "w:outlineLvl", "w:divId",
    "w:cnfStyle", "w:rPr", "w:sectPr", "w:pPrChange",
)


def track_changes_in_package(data: bytes, marks: ChangeMarks, author: str, date: str) -> bytes:
    """A built .docx with its marker characters turned into tracked changes, re-normalised."""
    with zipfile.ZipFile(io.BytesIO(data)) as src:
        blobs = {name: src.read(name) for name in src.namelist()}
    root = etree.fromstring(blobs["word/document.xml"])
    body = root.find(qn("w:body"))
    apply_tracked_changes(body, marks, author, date)
    blobs["word/document.xml"] = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for name, blob in blobs.items():
            dst.writestr(name, blob)
    return normalise_package(out.getvalue())
