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
import os
import stat
import zipfile
import zlib
from dataclasses import dataclass, field

from lxml import etree

from assembler.diagnostics import ERROR, Diagnostic, LoadError, Location, UsageError

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
DOCUMENT = "word/document.xml"
# Bounds on a .docx from outside (git runs textconv on every committed one; verify and
# a build over an existing file read them too). An agreement of 2,000 schedules, far
# beyond any real one, builds to a 7 MB file whose document.xml unpacks to 61 MiB.
MAX_DOCX_BYTES = 64 * 1024 * 1024  # the file itself
MAX_PART_BYTES = 256 * 1024 * 1024  # any one part, unpacked
MAX_PACKAGE_BYTES = 512 * 1024 * 1024  # all parts together, unpacked
MAX_PARTS = 10_000
MAX_LIST_VALUE = 32767  # Word's own largest list number (and level start)
MAX_LEVEL = 8  # list levels are 0-8


def q(tag: str) -> str:
    return f"{{{W}}}{tag}"


def _attr(node, name: str, default: str = "") -> str:
    if node is None:
        return default
    return node.get(q(name), default)


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_blank_text=False)


# --- reading the package ----------------------------------------------------


def _docx_error(display: str, message: str, hint: str = "") -> LoadError:
    return LoadError(Diagnostic(Location(display), ERROR, "S75-DOCX-READ", message, hint))


def read_docx_file(path: str | os.PathLike, display: str | None = None) -> bytes:
    """The bytes of a .docx on disk: an ordinary file of at most MAX_DOCX_BYTES, checked before reading.

    A FIFO would block forever and /dev/zero never ends, so anything but a
    regular file is refused; the file is opened without blocking and checked
    again once open, so swapping it in between gains nothing.
    """
    display = str(path) if display is None else display
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise UsageError(Diagnostic(Location(display), ERROR, "S75-READ", f"cannot read {display}: "
                                    f"{exc.strerror or exc}", "give the path of a .docx file"))
    with open(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            what = "a folder" if stat.S_ISDIR(info.st_mode) else "not an ordinary file"
            raise _docx_error(display, f"'{display}' is {what}", "give the path of a .docx file")
        if info.st_size > MAX_DOCX_BYTES:
            raise _docx_error(display, f"'{display}' is {info.st_size:,} bytes, over the {MAX_DOCX_BYTES:,}-byte "
                              "limit for a .docx", "check that this is an agreement document")
        data = handle.read(MAX_DOCX_BYTES + 1)
    if len(data) > MAX_DOCX_BYTES:
        raise _docx_error(display, f"'{display}' grew past {MAX_DOCX_BYTES:,} bytes while it was read")
    return data


def open_package(data: bytes, display: str = "<docx>") -> zipfile.ZipFile:
    """The zip package of a .docx, refused if it could unpack to more than the limits allow.

    zipfile never unpacks more than a part's recorded size (a part that holds
    more fails its CRC check), so checking the recorded sizes bounds memory.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError):
        raise _docx_error(display, f"'{display}' is not a Word .docx file (it is not a zip package)",
                          "give the path of a .docx file")
    infos = archive.infolist()
    problem = ""
    if len(infos) > MAX_PARTS:
        problem = f"it has {len(infos):,} parts (at most {MAX_PARTS:,} are read)"
    elif any(info.file_size > MAX_PART_BYTES for info in infos):
        big = max(infos, key=lambda info: info.file_size)
        problem = f"its part {big.filename} unpacks to {big.file_size:,} bytes (at most {MAX_PART_BYTES:,})"
    elif sum(info.file_size for info in infos) > MAX_PACKAGE_BYTES:
        problem = f"it unpacks to {sum(i.file_size for i in infos):,} bytes (at most {MAX_PACKAGE_BYTES:,})"
    if problem:
        archive.close()
        raise _docx_error(display, f"'{display}' is refused: {problem}",
                          "an agreement document is a few megabytes; this one may be built to exhaust memory")
    return archive


def read_parts(data: bytes, display: str = "<docx>") -> dict[str, etree._Element]:
    """The document, styles and numbering parts (the last two may be absent)."""
    def bad(message: str, hint: str = "") -> LoadError:
        return _docx_error(display, message, hint)

    archive = open_package(data, display)
    parts = {}
    with archive:
        for name in (DOCUMENT, "word/styles.xml", "word/numbering.xml"):
            if name not in archive.NameToInfo:
                if name == DOCUMENT:
                    raise bad(f"'{display}' has no {DOCUMENT}, so it is not a Word document")
                continue
            try:
                parts[name] = etree.fromstring(archive.read(name), _parser())
            except (etree.XMLSyntaxError, zipfile.BadZipFile, OSError, ValueError, NotImplementedError,
                    EOFError, RuntimeError, zlib.error) as exc:  # damaged, or compressed or encrypted in a way zipfile cannot read
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
                    ilvl = _level(_attr(lvl, "ilvl", "0"))
                    if ilvl is None:
                        continue
                    levels[ilvl] = _Level(_number(_attr(lvl.find(q("start")), "val", "1"), 1),
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
                    level = _level(_attr(override, "ilvl", "0"))
                    if start is not None and level is not None:
                        overrides[level] = _number(_attr(start, "val"), 1)
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
        level = _level(ilvl)
        if level not in levels:
            return ""
        key = num_id if overrides else ("abstract", abstract)
        counts = self.counters.get(key)
        if counts is None:
            counts = self.counters[key] = {}
        start = overrides.get(level, levels[level].start)
        counts[level] = min(counts.get(level, start - 1) + 1, MAX_LIST_VALUE)
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


def _level(text: str) -> int | None:
    """A list level (0-8) as written in the file, or None if it is not one."""
    text = text.strip()
    return int(text) if text.isdigit() and len(text) <= 2 and int(text) <= MAX_LEVEL else None


def _number(text: str, default: int) -> int:
    """A list start value, clamped to Word's range: a document asking for 10**12 gets Word's largest."""
    text = text.strip()
    if not (text.isdigit() or (text[:1] == "-" and text[1:].isdigit())):
        return default
    if len(text) > 6:
        return 0 if text.startswith("-") else MAX_LIST_VALUE
    return max(0, min(int(text), MAX_LIST_VALUE))


MAX_LETTER_VALUE = 780  # Word's letter numbering ends at 780 (z written 30 times)


def format_number(n: int, fmt: str) -> str:
    if fmt in ("lowerLetter", "upperLetter"):
        n = min(n, MAX_LETTER_VALUE)
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
    source = open_package(data)
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
