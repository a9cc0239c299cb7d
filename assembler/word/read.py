"""Read the text of a .docx back, numbered as Word shows it: for ``s75 textconv``.

Word keeps paragraph numbers out of the text: a paragraph carries a list
reference (``w:numPr``), directly or through its style, and Word counts.
This module does the same count from ``numbering.xml`` and ``styles.xml``,
so it reads any .docx — one built by s75 or one a lawyer has since edited
in Word — and prints what a reader sees: one paragraph per line, each
starting with its number, table rows as cells joined by `` | ``.

Tracked changes are shown inline as ``[-deleted-]`` and ``{+inserted+}``.
:func:`accept_changes` and :func:`reject_changes` give the document as it
would be after "Accept all" or "Reject all" in Word (used to test redlines).

Only the main document part is read; headers, footers and comments are not.
Nothing here writes OOXML for a build: that is :mod:`assembler.word.ooxml`.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field

from lxml import etree

from assembler.diagnostics import ERROR, Diagnostic, LoadError, Location

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
DOCUMENT = "word/document.xml"
MAX_PART_BYTES = 64 * 1024 * 1024


def q(tag: str) -> str:
    return f"{{{W}}}{tag}"


def _attr(node, name: str, default: str = "") -> str:
    if node is None:
        return default
    return node.get(q(name), default)


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_blank_text=False)


# --- reading the package ----------------------------------------------------


def read_parts(data: bytes, display: str = "<docx>") -> dict[str, etree._Element]:
    """The document, styles and numbering parts (the last two may be absent)."""
    def bad(message: str, hint: str = "") -> LoadError:
        return LoadError(Diagnostic(Location(display), ERROR, "S75-DOCX-READ", message, hint))

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise bad(f"'{display}' is not a Word .docx file (it is not a zip package)",
                  "textconv reads .docx files only; check the .gitattributes pattern")
    parts = {}
    with archive:
        for name in (DOCUMENT, "word/styles.xml", "word/numbering.xml"):
            try:
                info = archive.getinfo(name)
            except KeyError:
                if name == DOCUMENT:
                    raise bad(f"'{display}' has no {DOCUMENT}, so it is not a Word document")
                continue
            if info.file_size > MAX_PART_BYTES:
                raise bad(f"'{display}': {name} is too large to read ({info.file_size} bytes)")
            try:
                parts[name] = etree.fromstring(archive.read(name), _parser())
            except (etree.XMLSyntaxError, zipfile.BadZipFile, OSError, ValueError) as exc:
                raise bad(f"'{display}': {name} cannot be read: {exc}")
    return parts


# --- numbering ----------------------------------------------------------------


@dataclass
class _Level:
    start: int = 1
    fmt: str = "decimal"
    text: str = ""


@dataclass
class _Numbering:
    """numbering.xml and styles.xml, enough to count like Word."""

    abstracts: dict[str, dict[int, _Level]] = field(default_factory=dict)
    nums: dict[str, tuple[str, dict[int, int]]] = field(default_factory=dict)  # numId -> (abstract, overrides)
    styles: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # styleId -> (basedOn, numId, ilvl)
    style_levels: dict[str, tuple[str, int]] = field(default_factory=dict)  # styleId -> (abstract, ilvl) via lvl/pStyle
    counters: dict[object, dict[int, int]] = field(default_factory=dict)

    @classmethod
    def read(cls, styles: etree._Element | None, numbering: etree._Element | None) -> "_Numbering":
        self = cls()
        if numbering is not None:
            for abstract in numbering.findall(q("abstractNum")):
                aid = _attr(abstract, "abstractNumId")
                levels = {}
                for lvl in abstract.findall(q("lvl")):
                    ilvl = int(_attr(lvl, "ilvl", "0") or 0)
                    start = _attr(lvl.find(q("start")), "val", "1")
                    levels[ilvl] = _Level(int(start) if start.lstrip("-").isdigit() else 1,
                                          _attr(lvl.find(q("numFmt")), "val", "decimal"),
                                          _attr(lvl.find(q("lvlText")), "val", ""))
                    style = _attr(lvl.find(q("pStyle")), "val")
                    if style:
                        self.style_levels[style] = (aid, ilvl)
                self.abstracts[aid] = levels
            for num in numbering.findall(q("num")):
                overrides = {}
                for override in num.findall(q("lvlOverride")):
                    start = override.find(q("startOverride"))
                    if start is not None and _attr(start, "val").isdigit():
                        overrides[int(_attr(override, "ilvl", "0") or 0)] = int(_attr(start, "val"))
                self.nums[_attr(num, "numId")] = (_attr(num.find(q("abstractNumId")), "val"), overrides)
        if styles is not None:
            for style in styles.findall(q("style")):
                numpr = style.find(f"{q('pPr')}/{q('numPr')}")
                self.styles[_attr(style, "styleId")] = (
                    _attr(style.find(q("basedOn")), "val"),
                    _attr(numpr.find(q("numId")), "val") if numpr is not None else "",
                    _attr(numpr.find(q("ilvl")), "val") if numpr is not None else "",
                )
        return self

    def _style_numpr(self, style: str) -> tuple[str, str, str]:
        """(numId, ilvl, the style that set them) through the basedOn chain."""
        seen = set()
        while style and style not in seen and style in self.styles:
            seen.add(style)
            based, num_id, ilvl = self.styles[style]
            if num_id or ilvl:
                return num_id, ilvl, style
            style = based
        return "", "", ""

    def label(self, p: etree._Element) -> str:
        """The number Word shows for paragraph ``p`` (and counts it), or ""."""
        ppr = p.find(q("pPr"))
        style = _attr(ppr.find(q("pStyle")) if ppr is not None else None, "val")
        numpr = ppr.find(q("numPr")) if ppr is not None else None
        num_id = _attr(numpr.find(q("numId")) if numpr is not None else None, "val")
        ilvl = _attr(numpr.find(q("ilvl")) if numpr is not None else None, "val")
        s_num, s_ilvl, s_style = self._style_numpr(style)
        num_id = num_id or s_num
        if not ilvl:
            ilvl = s_ilvl
        if not num_id or num_id == "0" or num_id not in self.nums:
            return ""
        abstract, overrides = self.nums[num_id]
        levels = self.abstracts.get(abstract, {})
        if not ilvl:
            linked = self.style_levels.get(s_style or style)
            ilvl = str(linked[1]) if linked and linked[0] == abstract else "0"
        level = int(ilvl) if ilvl.isdigit() else 0
        if level not in levels:
            return ""
        key = num_id if overrides else ("abstract", abstract)
        counts = self.counters.get(key)
        if counts is None:
            counts = self.counters[key] = {}
        start = overrides.get(level, levels[level].start)
        counts[level] = counts.get(level, start - 1) + 1
        for deeper in [k for k in counts if k > level]:
            del counts[deeper]
        text = levels[level].text
        for n in range(9, -1, -1):
            token = f"%{n + 1}"
            if token in text:
                lvl = levels.get(n, _Level())
                value = counts.get(n, overrides.get(n, lvl.start))
                text = text.replace(token, format_number(value, lvl.fmt))
        return "" if levels[level].fmt == "none" else text


def format_number(n: int, fmt: str) -> str:
    if fmt in ("lowerLetter", "upperLetter"):
        letter = "abcdefghijklmnopqrstuvwxyz"[(n - 1) % 26] * ((n - 1) // 26 + 1) if n > 0 else ""
        return letter.upper() if fmt == "upperLetter" else letter
    if fmt in ("lowerRoman", "upperRoman"):
        out, rest = "", n
        for value, symbol in ((1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"),
                              (50, "l"), (40, "xl"), (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i")):
            while rest >= value:
                out, rest = out + symbol, rest - value
        return out.upper() if fmt == "upperRoman" else out
    if fmt == "bullet":
        return "\u2022"
    if fmt == "none":
        return ""
    return str(n)


# --- text ----------------------------------------------------------------------


def paragraph_text(p: etree._Element, marks: bool = True) -> str:
    """The visible text of a paragraph: field results, not field codes.

    With ``marks``, tracked deletions read ``[-...-]`` and insertions ``{+...+}``.
    """
    out: list[str] = []
    state = {"mode": "", "in_code": 0}

    def switch(mode: str) -> None:
        if mode == state["mode"] or not marks:
            state["mode"] = mode
            return
        out.append({"del": "-]", "ins": "+}"}.get(state["mode"], ""))
        out.append({"del": "[-", "ins": "{+"}.get(mode, ""))
        state["mode"] = mode

    for node in p.iter(q("t"), q("delText"), q("tab"), q("br"), q("cr"), q("fldChar"), q("noBreakHyphen")):
        if node.tag == q("fldChar"):
            kind = _attr(node, "fldCharType")
            if kind == "begin":
                state["in_code"] += 1
            elif kind == "separate" and state["in_code"]:
                state["in_code"] -= 1
            continue
        if state["in_code"]:
            continue
        container = next((a for a in node.iterancestors() if a.tag in (q("ins"), q("del"), q("p"))), None)
        switch("del" if container is not None and container.tag == q("del") else
               "ins" if container is not None and container.tag == q("ins") else "")
        if node.tag in (q("t"), q("delText")):
            out.append(node.text or "")
        elif node.tag == q("tab"):
            out.append("\t")
        elif node.tag == q("noBreakHyphen"):
            out.append("-")
        else:
            out.append("\n")
    switch("")
    text = "".join(out)
    return text


def _cell_text(tc: etree._Element, marks: bool) -> str:
    return " ".join(t for t in (paragraph_text(p, marks).strip() for p in tc.iter(q("p"))) if t)


def _is_toc(p: etree._Element) -> bool:
    return any((i.text or "").strip().startswith("TOC") for i in p.iter(q("instrText")))


def document_lines(data: bytes, display: str = "<docx>", marks: bool = True, skip_toc: bool = False) -> list[str]:
    """Each non-empty paragraph (with its number) and each table row, in order.

    ``skip_toc`` leaves out the contents table, a field Word rebuilds on opening.
    """
    parts = read_parts(data, display)
    numbering = _Numbering.read(parts.get("word/styles.xml"), parts.get("word/numbering.xml"))
    body = parts[DOCUMENT].find(q("body"))
    lines: list[str] = []
    if body is None:
        return lines
    toc_depth = 0  # open fields while inside the contents table
    for node in body.iterchildren():
        if node.tag == q("p"):
            if skip_toc and (toc_depth > 0 or _is_toc(node)):
                for f in node.iter(q("fldChar")):
                    kind = _attr(f, "fldCharType")
                    toc_depth += 1 if kind == "begin" else -1 if kind == "end" else 0
                continue
            label = numbering.label(node)
            text = paragraph_text(node, marks).strip()
            if text:
                lines.append(f"{label} {text}" if label else text)
        elif node.tag == q("tbl"):
            for tr in node.iter(q("tr")):
                cells = [_cell_text(tc, marks) for tc in tr.findall(q("tc"))]
                if any(cells):
                    lines.append(" | ".join(cells))
    return lines


def textconv(data: bytes, display: str = "<docx>") -> str:
    """The text git shows for a .docx: paragraphs separated by blank lines."""
    lines = document_lines(data, display)
    return "\n\n".join(line.replace("\n", " ") for line in lines) + "\n"


# --- accepting and rejecting tracked changes ------------------------------------


def _unwrap(node: etree._Element) -> None:
    parent = node.getparent()
    index = parent.index(node)
    for offset, kid in enumerate(list(node)):
        parent.insert(index + offset, kid)
    parent.remove(node)


def _merge_into_next(p: etree._Element) -> None:
    """Remove a paragraph mark: what is left of ``p`` joins the next paragraph."""
    content = [k for k in p if k.tag != q("pPr")]
    following = p.getnext()
    if content and following is not None and following.tag == q("p"):
        anchor = following.find(q("pPr"))
        index = following.index(anchor) + 1 if anchor is not None else 0
        for offset, kid in enumerate(content):
            following.insert(index + offset, kid)
        p.getparent().remove(p)
    elif not content or not any(k.tag != q("bookmarkStart") and k.tag != q("bookmarkEnd") for k in content):
        p.getparent().remove(p)
    else:
        mark = p.find(f"{q('pPr')}/{q('rPr')}")
        for tag in ("ins", "del"):
            for old in mark.findall(q(tag)) if mark is not None else []:
                mark.remove(old)


def _resolve(root: etree._Element, keep: str) -> None:
    drop = "del" if keep == "ins" else "ins"
    # rows
    for tr in list(root.iter(q("tr"))):
        trpr = tr.find(q("trPr"))
        if trpr is None:
            continue
        if trpr.find(q(drop)) is not None:
            tr.getparent().remove(tr)
            continue
        for mark in trpr.findall(q(keep)):
            trpr.remove(mark)
    for tbl in list(root.iter(q("tbl"))):
        if tbl.find(q("tr")) is None:
            tbl.getparent().remove(tbl)
    # runs
    for node in list(root.iter(q(drop))):
        if node.getparent() is not None and node.getparent().tag not in (q("rPr"), q("trPr")):
            node.getparent().remove(node)
    for node in list(root.iter(q(keep))):
        if node.getparent() is not None and node.getparent().tag not in (q("rPr"), q("trPr")):
            _unwrap(node)
    if keep == "del":
        for node in root.iter(q("delText")):
            node.tag = q("t")
        for node in root.iter(q("delInstrText")):
            node.tag = q("instrText")
    # paragraph marks
    for p in list(root.iter(q("p"))):
        mark = p.find(f"{q('pPr')}/{q('rPr')}")
        if mark is None:
            continue
        if mark.find(q(drop)) is not None:
            _merge_into_next(p)
        else:
            for old in mark.findall(q(keep)):
                mark.remove(old)


def _rewrite_document(data: bytes, keep: str) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            blob = source.read(info.filename)
            if info.filename == DOCUMENT:
                root = etree.fromstring(blob, _parser())
                _resolve(root, keep)
                blob = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
            target.writestr(info, blob)
    return out.getvalue()


def accept_changes(data: bytes) -> bytes:
    """The .docx as Word's "Accept all changes" leaves it."""
    return _rewrite_document(data, "ins")


def reject_changes(data: bytes) -> bytes:
    """The .docx as Word's "Reject all changes" leaves it."""
    return _rewrite_document(data, "del")


def count_changes(data: bytes) -> dict[str, int]:
    """How many w:ins and w:del elements the document holds (run, paragraph and row marks)."""
    root = read_parts(data)[DOCUMENT]
    return {"ins": sum(1 for _ in root.iter(q("ins"))), "del": sum(1 for _ in root.iter(q("del")))}
