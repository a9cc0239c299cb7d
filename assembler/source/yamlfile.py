"""Safe YAML loading: bytes -> plain data + a source map, or diagnostics.

Commissioners write agreements in a text editor, often by pasting from Word
or email, so a file may be in the wrong encoding, carry Word's hidden
control characters, use tabs, or rely on YAML features that make a contract
ambiguous (anchors, duplicate keys). Every such problem becomes a
:class:`Diagnostic` with a line and column; nothing here raises for bad
*content*, and every problem in every file is collected in one run.

Data is built from PyYAML *events* with an explicit stack rather than with
``yaml.compose``/``construct`` (which recurse), so a hostile 10,000-level
document gives a clean error, and aliases are refused before any expansion,
so a "billion laughs" document costs nothing.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Mapping, Union

import yaml

from assembler.codes import codes
from assembler.recent import Recent
from assembler.diagnostics import ERROR, Diagnostic, Location

# The codes this stage reports, with their meanings, from the one registry (data/codes.yaml).
CODES: dict[str, str] = {c.code: c.meaning for c in codes().values() if c.stage == "source"}

MAX_BYTES = 2 * 1024 * 1024
MAX_DEPTH = 50
MAX_NUMBER_CHARS = 100  # a plain number longer than this is refused before it is read
MAX_PER_CODE = 20  # per file; further ones are summarised in one line
MAX_TAB_PASSES = 6  # re-parses after tab errors, so all tabs are found cheaply


PathKey = tuple[Union[str, int], ...]

_STR = "tag:yaml.org,2002:str"
_TAG_PREFIX = "tag:yaml.org,2002:"
_PLAIN_TAGS = {_TAG_PREFIX + t for t in ("str", "int", "bool", "null", "float")}
_COLLECTION_TAGS = {"mapping": _TAG_PREFIX + "map", "sequence": _TAG_PREFIX + "seq"}
_STYLES = {None: "plain", "'": "single", '"': "double", "|": "literal", ">": "folded"}

# PyYAML's own definition of what it will read, and of a line break.
_NOT_PRINTABLE = re.compile(
    "[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\U00010000-\U0010ffff]"
)
_LINE_BREAK = re.compile("\r\n|[\n\r\x85\u2028\u2029]")
_LEADING_TABS = re.compile("^[ \t]*\t", re.MULTILINE)


# --- public values -------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SourceMap:
    """Where each value of a loaded file came from, for messages and hints.

    Paths are tuples into the data, e.g. ``("parties", 0, "name")``; ``()``
    is the root. ``scalars`` keeps the text YAML read before typing it and
    its style, so a later stage can say "YAML reads 1.10 as 1.1".
    """

    display: str
    values: Mapping[PathKey, Location]
    keys: Mapping[PathKey, Location]
    scalars: Mapping[PathKey, tuple[str, str]]
    # Values written as numbers in a form s75 refuses (1_000, 0x10): path ->
    # (how it is written, the number in plain digits). They load as their
    # text, so the rest of the file is still checked; the schema stage
    # reports each one (S75-NUMBER).
    odd_numbers: Mapping[PathKey, tuple[str, str]] = field(default_factory=dict)

    def locate(self, path: Iterable[str | int] = ()) -> Location:
        """Location of the value at ``path``, else of its nearest known ancestor."""
        path = tuple(path)
        for end in range(len(path), -1, -1):
            found = self.values.get(path[:end])
            if found is not None:
                return found
        return Location(self.display, 1, 1)

    def key_location(self, path: Iterable[str | int]) -> Location:
        """Location of the mapping key whose value is at ``path`` (or of the value)."""
        path = tuple(path)
        return self.keys.get(path) or self.locate(path)

    def raw(self, path: Iterable[str | int]) -> tuple[str, str] | None:
        """(text, style) of a scalar as written; style is plain/single/double/literal/folded."""
        return self.scalars.get(tuple(path))


@dataclass(frozen=True)
class YamlFile:
    """One successfully loaded file: its data and where each value came from.

    ``digest`` is the sha256 of the bytes it was loaded from: two files with
    the same digest and display name hold the same data and source map, which
    is what lets later stages keep their work on a file between builds.
    The data is shared by every load of the same bytes, so nothing may change it.
    """

    path: Path
    display: str
    data: object
    source: SourceMap
    digest: bytes = b""


# --- diagnostics collection ----------------------------------------------


class _Report:
    """Collects one file's diagnostics: no duplicates, at most MAX_PER_CODE per code.

    A pasted document may hold hundreds of vertical tabs; listing twenty and
    counting the rest keeps the output readable.
    """

    def __init__(self, display: str):
        self.display = display
        self.items: list[Diagnostic] = []
        self.seen: set[tuple] = set()
        self.counts: dict[str, int] = {}
        self.hidden: dict[str, tuple[int, Location]] = {}

    def add(self, line: int, column: int, code: str, message: str, hint: str = "") -> None:
        location = Location(self.display, line, column)
        identity = (location, code, message)
        if identity in self.seen:
            return
        self.seen.add(identity)
        self.counts[code] = self.counts.get(code, 0) + 1
        if self.counts[code] > MAX_PER_CODE:
            count, first = self.hidden.get(code, (0, location))
            self.hidden[code] = (count + 1, first)
            return
        self.items.append(Diagnostic(location, ERROR, code, message, hint))

    def at_mark(self, mark, code: str, message: str, hint: str = "") -> None:
        """Report at a PyYAML mark (0-based line and column)."""
        self.add(mark.line + 1, mark.column + 1, code, message, hint)

    def result(self) -> list[Diagnostic]:
        """All findings in file order, with one summary line per capped code."""
        out = list(self.items)
        for code, (count, first) in self.hidden.items():
            out.append(
                Diagnostic(
                    first,
                    ERROR,
                    code,
                    f"{count} more problem(s) of this kind ({CODES[code]}) from here on are not listed",
                    "fix the ones listed and run again",
                )
            )
        return sorted(out, key=lambda d: (d.location.line, d.location.column, d.code, d.message))


class _Lines:
    """Offset -> (line, column), counting line breaks exactly as PyYAML does."""

    def __init__(self, text: str):
        self.starts = [0] + [m.end() for m in _LINE_BREAK.finditer(text)]

    def position(self, offset: int) -> tuple[int, int]:
        index = bisect.bisect_right(self.starts, offset) - 1
        return index + 1, offset - self.starts[index] + 1


# --- bytes -> text --------------------------------------------------------


def _size_text(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB"


def _size_problem(report: _Report, size: int) -> None:
    report.add(
        1,
        1,
        "S75-SIZE",
        f"the file is {_size_text(size)}, over the {_size_text(MAX_BYTES)} limit for one agreement file",
        "an agreement file is normally a few kilobytes; check that this is the right file, "
        "or split the schemes into separate schedule files",
    )


def _wide_encoding(raw: bytes) -> str | None:
    """Name a UTF-16/UTF-32 encoding seen by its BOM or its pattern of NUL bytes.

    Windows tools ("Unicode" in Notepad, PowerShell redirection) write
    UTF-16; reading it as UTF-8 would report a NUL in every other column.
    """
    boms = [
        (b"\xff\xfe\x00\x00", "UTF-32"),
        (b"\x00\x00\xfe\xff", "UTF-32"),
        (b"\xff\xfe", "UTF-16"),
        (b"\xfe\xff", "UTF-16"),
    ]
    for bom, name in boms:
        if raw.startswith(bom):
            return name
    sample = raw[:4096]
    if len(sample) < 4 or b"\x00" not in sample:
        return None
    for width, name in ((4, "UTF-32"), (2, "UTF-16")):
        units = len(sample) // width
        for text_byte in (0, width - 1):  # little-endian, big-endian
            nul = sum(
                1
                for i in range(units)
                for j in range(width)
                if j != text_byte and sample[i * width + j] == 0
            )
            if nul >= 0.9 * units * (width - 1) and sum(
                1 for i in range(units) if sample[i * width + text_byte] == 0
            ) <= 0.1 * units:
                return name
    return None


def _decode(raw: bytes, report: _Report) -> str | None:
    """UTF-8 text of ``raw``; bad bytes become U+FFFD so the rest is still checked."""
    wide = _wide_encoding(raw)
    if wide:
        report.add(
            1,
            1,
            "S75-ENCODING",
            f"the file is saved as {wide}; agreement files must be UTF-8",
            f"save it as UTF-8 (in Notepad: File > Save As, Encoding 'UTF-8'), not {wide} or 'Unicode'",
        )
        return None
    if raw.startswith(b"\xef\xbb\xbf"):
        report.add(
            1,
            1,
            "S75-BOM",
            "the file starts with a UTF-8 byte order mark (BOM), an invisible character before the first line",
            "save it as UTF-8 without BOM (in Notepad: Save As, Encoding 'UTF-8', not 'UTF-8 with BOM')",
        )
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        text = raw.decode("utf-8", errors="replace")
        _bad_byte(raw, error, text, report)
        return text


def _bad_byte(raw: bytes, error: UnicodeDecodeError, text: str, report: _Report) -> None:
    """Report the first byte that is not UTF-8, with what it probably meant."""
    offset = len(raw[: error.start].decode("utf-8"))
    line, column = _Lines(text).position(offset)
    byte = raw[error.start]
    try:
        guess = bytes([byte]).decode("cp1252")
        meant = f" (in Windows-1252/Latin-1 it is '{guess}')"
    except UnicodeDecodeError:
        meant = ""
    others = text.count("\ufffd") - raw.decode("utf-8", errors="ignore").count("\ufffd") - 1
    more = f"; {others} more byte sequence(s) after it are not UTF-8 either" if others > 0 else ""
    report.add(
        line,
        column,
        "S75-ENCODING",
        f"byte 0x{byte:02X} is not valid UTF-8{meant}{more}",
        "the file was saved in another encoding (often Windows-1252); save it as UTF-8",
    )


# --- characters that YAML or Word cannot take -----------------------------

_CHAR_NAMES: dict[int, tuple[str, str, str]] = {
    # code point: (name, where it comes from, what to do)
    0x00: ("NUL character", "often a sign of a binary or UTF-16 file", "delete it"),
    0x07: ("bell character", "which Word puts in pasted text for the end of a table cell", "delete it"),
    0x08: ("backspace character", "", "delete it"),
    0x0B: (
        "vertical tab",
        "which Word puts in pasted text for a manual line break (Shift+Enter)",
        "replace it with a space, or use a YAML block (|) for separate lines",
    ),
    0x0C: ("form feed", "which Word puts in pasted text for a page break", "delete it"),
    0x13: ("field-start mark", "from a Word field in pasted text", "delete it and retype the field's text"),
    0x14: ("field-separator mark", "from a Word field in pasted text", "delete it and retype the field's text"),
    0x15: ("field-end mark", "from a Word field in pasted text", "delete it and retype the field's text"),
    0x1E: ("non-breaking hyphen mark", "which Word puts in pasted text", "type a normal hyphen '-'"),
    0x1F: ("optional hyphen mark", "which Word puts in pasted text", "delete it"),
    0x7F: ("delete character", "", "delete it"),
    0xFFFE: ("noncharacter", "", "delete it"),
    0xFFFF: ("noncharacter", "", "delete it"),
}


def _describe_char(char: str) -> tuple[str, str]:
    """(message, hint) naming an invisible character and where it comes from."""
    code = ord(char)
    name, origin, hint = _CHAR_NAMES.get(code, ("control character", "", "delete it"))
    if 0x80 <= code <= 0x9F:
        name = "C1 control character"
        try:
            meant = bytes([code]).decode("cp1252")
            origin = f"probably '{meant}' damaged by a Windows-1252 conversion"
            hint = f"replace it with '{meant}'"
        except UnicodeDecodeError:
            origin = "left by a Windows-1252 conversion"
    elif 0xD800 <= code <= 0xDFFF:
        name = "unpaired surrogate"
    origin = f", {origin}" if origin else ""
    message = f"{name} U+{code:04X}{origin}; it is not allowed in a YAML file or a Word document"
    return message, hint


def _control_chars(text: str, lines: _Lines, report: _Report) -> str:
    """Report every character YAML/XML cannot hold; return text with spaces in their place.

    The replacement keeps offsets, so PyYAML can still parse the rest and
    report other problems at the right columns; most of these characters
    stand for white space (line and page breaks), so a space disturbs least.
    """
    found = False
    for match in _NOT_PRINTABLE.finditer(text):
        found = True
        line, column = lines.position(match.start())
        message, hint = _describe_char(match.group())
        report.add(line, column, "S75-CONTROL", message, hint)
    return _NOT_PRINTABLE.sub(" ", text) if found else text


# --- scalars --------------------------------------------------------------

# PyYAML's binding to libyaml, when it was built with it; None means pure Python only.
_FAST_LOADER = getattr(yaml, "CSafeLoader", None)
_LIBYAML_DIFFERS = re.compile("[\t\x85\u2028\u2029\ufeff!?]|[|>][-+0-9]*#")

# YAML 1.2 core schema, the meaning the editors' YAML language server and
# check-jsonschema give plain text. PyYAML's own resolver is YAML 1.1, where
# yes/no/on/off are booleans, 1_000 and 0b101 numbers and 12:30 is 750: a file
# would then mean one thing in the editor and another in the built contract.
_CORE = [
    (_TAG_PREFIX + "null", re.compile(r"(?:~|null|Null|NULL|)\Z")),
    (_TAG_PREFIX + "bool", re.compile(r"(?:true|True|TRUE|false|False|FALSE)\Z")),
    (_TAG_PREFIX + "int", re.compile(r"(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)\Z")),
    (_TAG_PREFIX + "float", re.compile(
        r"(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))\Z")),
]
# Number forms one YAML tool reads as a number and another as text, or in a
# base no contract uses: 1_240_000, 0x20B70, 0o17, 0b101, 017. s75 refuses
# them rather than guess (S75-NUMBER); 12:30 is text in YAML 1.2 and stays so.
_ODD_NUMBER = re.compile(
    r"[-+]?(?:0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|0[0-9_]+"
    r"|[0-9_]*_[0-9_]*(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?|[0-9_]*\.[0-9_]*_[0-9_]*(?:[eE][-+]?[0-9]+)?)\Z")
_ODD_NUMBER_NAMES = [("_", "with underscores"), ("0x", "in hexadecimal"), ("0o", "in octal"),
                     ("0b", "in binary")]


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_TAG_PREFIX):] if tag.startswith(_TAG_PREFIX) else tag


# The first characters of every core-schema null, boolean, int and float: plain text starting with any other
# character (most of an agreement's text) is a string without trying the four patterns.
_CORE_STARTS = frozenset("~nNtTfF+-.0123456789")


def _core_tag(text: str) -> str:
    """The YAML 1.2 core-schema tag of a plain scalar's text."""
    if text and text[0] not in _CORE_STARTS:
        return _STR
    return next((tag for tag, pattern in _CORE if pattern.match(text)), _STR)


def _core_value(tag: str, text: str):
    """The value of ``text``, already known to match the core pattern of ``tag``."""
    if tag == _TAG_PREFIX + "null":
        return None
    if tag == _TAG_PREFIX + "bool":
        return text.lower() == "true"
    if tag == _TAG_PREFIX + "int":
        base = {"0o": 8, "0x": 16}.get(text[:2], 10)
        return int(text[2:] if base != 10 else text, base)
    if "n" in text.lower():  # .inf, -.inf, .nan: Python spells them without the dot
        return float(text.replace(".", "", 1))
    return float(text)


def _odd_number(text: str) -> tuple[str, str] | None:
    """(how it is written, the same number in plain digits) if ``text`` is a number
    in a form s75 refuses, else None."""
    digits = text.lstrip("+-")
    if not _ODD_NUMBER.match(text) or not any(ch.isdigit() for ch in digits):
        return None
    sign = "-" if text.startswith("-") else ""
    clean = digits.replace("_", "")
    for mark, name in _ODD_NUMBER_NAMES:
        if mark == "_" and "_" in digits:
            return name, sign + (clean.lstrip("0") or "0" if clean.isdigit() else clean)
        if clean[:2].lower() == mark:
            try:
                return name, sign + str(int(clean[2:], {"0x": 16, "0o": 8, "0b": 2}[mark]))
            except ValueError:
                return name, "digits 0-9"
    return "with a leading zero", sign + (clean.lstrip("0") or "0")


def odd_number_words(text: str, how: str, plain: str) -> tuple[str, str]:
    """(message, hint) of the S75-NUMBER finding for ``text``."""
    return (f"'{text}' is a number written {how}, which YAML tools read in different ways",
            f"write numbers in plain digits ({plain}); if it is text, put it in quotes: '{text}'")


class _BadValue(Exception):
    """A scalar that cannot be read; the message goes into an S75-TAG diagnostic."""


class _HugeNumber(Exception):
    """A plain number too long to read (Python refuses integers of more than 4,300 digits)."""


class _OddNumber(Exception):
    """A plain scalar written as a number in a refused form; the message goes into S75-NUMBER."""


def _scalar(event: yaml.ScalarEvent) -> tuple[object, str]:
    """(value, resolved tag) of a scalar, read with YAML 1.2 core-schema meaning.

    Plain text is a null, a boolean, a number or text by the core schema's
    patterns; quoted text is always text; dates stay text (the schema checks
    their format). Raises _OddNumber for a number in a refused form and
    _BadValue for a tag other than the plain types.
    """
    tag, text = event.tag, event.value
    explicit = tag not in (None, "!")
    plain = not explicit and bool(event.implicit[0])
    if plain or (explicit and tag != _STR):
        how = _odd_number(text)
        if how is not None:
            raise _OddNumber(how)
    if not explicit:
        tag = _core_tag(text) if plain else _STR
        if plain and text == "<<":  # not in the core schema, but tools that merge keys read it so
            return text, _TAG_PREFIX + "merge"
    if tag == _STR:
        return text, tag
    if tag not in _PLAIN_TAGS:
        raise _BadValue(f"the YAML tag '{_short_tag(tag)}' is not allowed")
    read_as = _core_tag(text)
    if read_as == _TAG_PREFIX + "int" and tag == _TAG_PREFIX + "float":
        return float(_core_value(read_as, text)), tag
    if read_as != tag:
        raise _BadValue(f"'{text}' cannot be read as {_short_tag(tag)}")
    return _core_value(tag, text), tag


# --- events -> data -------------------------------------------------------


class _Stop(Exception):
    """Stop reading events: the rest of the document cannot be trusted."""


_BAD = object()  # a node that was already reported (alias, bad tag)
_NOTHING = object()  # no document, so no root


class _Frame:
    """An open mapping or sequence on the builder's explicit stack."""

    __slots__ = ("container", "path", "role", "mark", "want_key", "key", "key_ok", "seen")

    def __init__(self, container, path, role, mark):
        self.container = container
        self.path = path  # None: inside something that will be discarded
        self.role = role  # root / item / key / value: where it goes when closed
        self.mark = mark
        self.want_key = True
        self.key = None
        self.key_ok = False
        self.seen: dict[str, int] = {}


class _Builder:
    """Turns PyYAML events into plain data and a source map, reporting as it goes."""

    def __init__(self, report: _Report):
        self.report = report
        self.stack: list[_Frame] = []
        self.root: object = _NOTHING
        self.failed = False  # stopped early: the data is incomplete
        self.documents = 0
        self.values: dict[PathKey, Location] = {}
        self.keys: dict[PathKey, Location] = {}
        self.scalars: dict[PathKey, tuple[str, str]] = {}
        self.odd_numbers: dict[PathKey, tuple[str, str]] = {}
        self.spans: list[tuple[int, int]] = []  # quoted and block scalars
        self.aliases: set[str] = set()
        self.saw_empty = False  # an empty plain scalar (e.g. "key:" with no value)

    def run(self, text: str, loader=yaml.SafeLoader) -> yaml.YAMLError | None:
        """Feed every event; return PyYAML's syntax error, if any."""
        handlers = {
            yaml.DocumentStartEvent: self._document,
            yaml.AliasEvent: self._alias,
            yaml.ScalarEvent: self._scalar,
            yaml.MappingStartEvent: self._open,
            yaml.SequenceStartEvent: self._open,
            yaml.MappingEndEvent: self._close,
            yaml.SequenceEndEvent: self._close,
        }
        parser = loader(text)
        try:
            while parser.check_event():
                event = parser.get_event()
                handler = handlers.get(type(event))
                if handler:
                    handler(event)
        except _Stop:
            self.failed = True
            return None
        except yaml.YAMLError as error:
            self.failed = True
            return error
        except ValueError as error:  # PyYAML's scanner: an escape beyond Unicode ("\U00110000")
            self.failed = True
            mark = parser.get_mark() if hasattr(parser, "get_mark") else None
            return yaml.scanner.ScannerError(None, None, f"an escape in quotes is not a character ({error})", mark)
        finally:
            parser.dispose()
        return None

    def _location(self, mark) -> Location:
        return Location(self.report.display, mark.line + 1, mark.column + 1)

    def _slot(self) -> tuple[str, PathKey | None]:
        """Where the next node goes (role) and its path in the data (None: unrecorded)."""
        if not self.stack:
            return "root", ()
        top = self.stack[-1]
        if isinstance(top.container, list):
            path = None if top.path is None else top.path + (len(top.container),)
            return "item", path
        if top.want_key:
            return "key", None
        path = top.path + (top.key,) if top.path is not None and top.key_ok else None
        return "value", path

    def _document(self, event) -> None:
        self.documents += 1
        if self.documents > 1:
            self.report.at_mark(
                event.start_mark,
                "S75-MULTIDOC",
                "a second YAML document starts here ('---'); an agreement file holds exactly one",
                "delete the '---' line, or move what follows into its own file",
            )
            raise _Stop

    def _anchor(self, event) -> None:
        if event.anchor is not None:
            self.report.at_mark(
                event.start_mark,
                "S75-ALIAS",
                f"the YAML anchor '&{event.anchor}' is not allowed in agreement files",
                "write the value out in full wherever it is needed, and delete '&"
                + event.anchor
                + "'",
            )

    def _alias(self, event) -> None:
        if event.anchor not in self.aliases:
            self.aliases.add(event.anchor)
            self.report.at_mark(
                event.start_mark,
                "S75-ALIAS",
                f"the YAML alias '*{event.anchor}' is not allowed in agreement files",
                "write the value out in full here instead of referring to another part of the file",
            )
        self._complete(_BAD, self._slot()[0], event.start_mark)

    def _scalar(self, event) -> None:
        self._anchor(event)
        role, path = self._slot()
        style = event.style or None  # libyaml gives '' for plain, PyYAML None
        if style is None and not event.value:
            self.saw_empty = True
        if style is not None:
            self.spans.append((event.start_mark.index, event.end_mark.index))
        try:
            if style is None and len(event.value) > MAX_NUMBER_CHARS and _core_tag(event.value) != _STR:
                raise _HugeNumber(len(event.value))
            value, tag = _scalar(event)
        except _HugeNumber as huge:
            self.report.at_mark(
                event.start_mark, "S75-NUMBER",
                f"this number is {huge.args[0]:,} characters long; s75 reads numbers of at most {MAX_NUMBER_CHARS}",
                "no amount the schemas allow is that long; if it is text, put it in quotes",
            )
            value, tag = _BAD, None
        except _BadValue as problem:
            self.report.at_mark(
                event.start_mark, "S75-TAG", str(problem),
                "delete the tag; write plain text, numbers, true/false or dates",
            )
            value, tag = _BAD, None
        except _OddNumber as odd:
            if role == "key" or path is None:
                how, plain = odd.args[0]
                self.report.at_mark(event.start_mark, "S75-NUMBER", *odd_number_words(event.value, how, plain))
                value, tag = _BAD, None
            else:
                value, tag = event.value, _STR
                self.odd_numbers[path] = odd.args[0]
        if path is not None:
            self.values[path] = self._location(event.start_mark)
            self.scalars[path] = (event.value, _STYLES.get(style, "plain"))
        self._complete(value, role, event.start_mark, tag)

    def _open(self, event) -> None:
        self._anchor(event)
        kind = "mapping" if isinstance(event, yaml.MappingStartEvent) else "sequence"
        if event.tag not in (None, "!", _COLLECTION_TAGS[kind]):
            self.report.at_mark(
                event.start_mark, "S75-TAG",
                f"the YAML tag '{_short_tag(event.tag)}' is not allowed", "delete the tag",
            )
        if len(self.stack) >= MAX_DEPTH:
            self.report.at_mark(
                event.start_mark,
                "S75-DEPTH",
                f"the data is nested more than {MAX_DEPTH} levels deep here",
                "an agreement needs only a few levels; check the indentation and the brackets",
            )
            raise _Stop
        role, path = self._slot()
        if path is not None:
            self.values[path] = self._location(event.start_mark)
        container = {} if kind == "mapping" else []
        self.stack.append(_Frame(container, path, role, event.start_mark))

    def _close(self, event) -> None:
        frame = self.stack.pop()
        self._complete(frame.container, frame.role, frame.mark)

    def _complete(self, value, role, mark, tag=None) -> None:
        """Put a finished node where it belongs in its parent."""
        if role == "root":
            self.root = None if value is _BAD else value
            self.failed = self.failed or value is _BAD
            return
        top = self.stack[-1]
        if role == "item":
            top.container.append(None if value is _BAD else value)
        elif role == "key":
            self._key(top, value, mark, tag)
        else:
            if top.key_ok:
                top.container[top.key] = None if value is _BAD else value
            top.want_key = True

    def _key(self, top: _Frame, key, mark, tag) -> None:
        """Accept a mapping key, or report why it cannot be one."""
        top.want_key, top.key, top.key_ok = False, key, False
        if key is _BAD:
            return
        problem = _key_problem(key, tag)
        if problem:
            self.report.at_mark(mark, "S75-KEY", *problem)
            return
        if key in top.seen:
            self.report.at_mark(
                mark,
                "S75-DUPKEY",
                f"the key '{key}' appears twice in this mapping (first at line {top.seen[key]})",
                "keep one of them: YAML tools silently drop one of the two values",
            )
            return
        top.seen[key] = mark.line + 1
        top.key_ok = True
        if top.path is not None:
            self.keys[top.path + (key,)] = self._location(mark)


def _key_problem(key, tag) -> tuple[str, str] | None:
    """(message, hint) if ``key`` cannot be a key of agreement data."""
    if isinstance(key, (dict, list)):
        return (
            "a list or mapping cannot be used as a key",
            "keys are names such as 'name:'; check for a stray '?', '[' or '{'",
        )
    if tag == _TAG_PREFIX + "merge":
        return ("the YAML merge key '<<' is not supported", "write the keys out in full")
    if not isinstance(key, str):
        shown = "null (empty)" if key is None else repr(key)
        return (
            f"YAML reads this key as {type(key).__name__} {shown}, not as text",
            "put the key in quotes",
        )
    return None


# --- syntax errors in plain English ---------------------------------------

_SYNTAX_HINTS = [
    ("mapping values are not allowed", "a value containing ': ' looks like a new key; put the whole value in quotes"),
    ("could not find expected ':'", "each line should be 'key: value'; a value running onto more lines needs quotes or '|'"),
    ("expected <block end>", "this line is not indented like the lines above it; line up keys of the same level"),
    ("did not find expected key", "this line is not indented like the lines above it; line up keys of the same level"),
    ("did not find expected '-'", "list items at the same level must start with '-' in the same column"),
    ("found unexpected end of stream", "a quote or bracket opened here is never closed"),
    ("found unknown escape character", "in double quotes a backslash starts an escape; use single quotes or write '\\\\'"),
    ("expected alphabetic or numeric character", "'*', '&' and '!' have a meaning in YAML; put the value in quotes"),
    ("that cannot start any token", "a value starting with '@', '`', '%' or '|' needs quotes"),
    ("an escape in quotes", "a \\U escape names a character up to \\U0010FFFF; type the character itself instead"),
    ("expected ',' or", "a list in [ ] or a mapping in { } is not closed properly; check the commas and brackets"),
    ("expected the node content", "a value is missing or starts with a special character; put it in quotes"),
]
_DEFAULT_SYNTAX_HINT = "values containing ': ' or ' #', or starting with a special character, need quotes"


def _syntax_problem(error: yaml.YAMLError, report: _Report, after_bad_chars: bool) -> None:
    """Report PyYAML's syntax error at its problem mark, in words a commissioner can act on."""
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    context = getattr(error, "context", None)
    context_mark = getattr(error, "context_mark", None)
    message = f"YAML cannot read this line: {problem}"
    if context and context_mark is not None:
        message += f" ({context} that started at line {context_mark.line + 1})"
    elif context:
        message += f" ({context})"
    hint = next((h for key, h in _SYNTAX_HINTS if key in problem), _DEFAULT_SYNTAX_HINT)
    if after_bad_chars:
        hint += "; this may be caused by the characters reported above, so fix those first"
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    report.add(line, column, "S75-YAML", message, hint)


# --- tabs -----------------------------------------------------------------


def _tab_error_offset(error: yaml.YAMLError | None, text: str) -> int | None:
    """Offset of the tab PyYAML stopped at, if that is why it stopped."""
    mark = getattr(error, "problem_mark", None)
    if mark is None or mark.index >= len(text) or text[mark.index] != "\t":
        return None
    return mark.index


def _leading_tabs_after(text: str, offset: int) -> list[int]:
    """Offsets of tabs in the indentation of lines after ``offset``."""
    found = []
    for match in _LEADING_TABS.finditer(text, offset):
        start = match.start()
        found.extend(start + i for i, ch in enumerate(match.group()) if ch == "\t")
    return [i for i in found if i > offset]


def _inside(spans: list[tuple[int, int]], offset: int) -> bool:
    """Whether ``offset`` is inside one of ``spans`` (in document order, not overlapping)."""
    index = bisect.bisect_right(spans, (offset, float("inf"))) - 1
    return index >= 0 and spans[index][0] < offset < spans[index][1]


def _parse_with_tabs(text: str, lines: _Lines, report: _Report) -> _Builder:
    """Parse, and on a tab error report it, blank it and parse again (a few times).

    PyYAML stops at the first tab it cannot take; re-parsing with the tabs
    found so far turned into spaces lets one run report every tab and the
    other problems too. Tabs inside quoted or block text are left alone.
    """
    if _FAST_LOADER is not None and not _LIBYAML_DIFFERS.search(text):
        # libyaml emits the same events several times faster. A file it reads
        # without any finding is taken from it; anything else is read again
        # by the pure-Python parser below, whose messages and marks the
        # diagnostics are written for. libyaml accepts some things PyYAML
        # refuses (tabs, '?' in flow text, '>#') and places or counts some
        # things differently (empty values, line breaks, BOMs, '!' tags), so
        # text with any of those always goes the pure-Python way.
        # (tests/test_loader_libyaml.py checks that both ways agree.)
        fast = _Builder(_Report(report.display))
        if fast.run(text, _FAST_LOADER) is None and not (fast.failed or fast.report.items or fast.saw_empty):
            return fast
    certain: set[int] = set()  # tabs PyYAML itself stopped at
    guessed: set[int] = set()  # other indentation tabs blanked ahead of time
    passes = MAX_TAB_PASSES if len(text) <= 256 * 1024 else 2  # bound the work on big files
    for attempt in range(passes):
        sub = _Report(report.display)
        builder = _Builder(sub)
        error = builder.run(text)
        offset = _tab_error_offset(error, text)
        if offset is None or attempt == passes - 1:
            break
        certain.add(offset)
        more = _leading_tabs_after(text, offset)
        guessed.update(more)
        chars = list(text)
        for i in [offset, *more]:
            chars[i] = " "
        text = "".join(chars)
    if offset is not None:
        certain.add(offset)
    for i in sorted(certain | {g for g in guessed if not _inside(builder.spans, g)}):
        _tab_problem(text, lines, i, report)
    for item in sub.items:
        report.add(item.location.line, item.location.column, item.code, item.message, item.hint)
    if error is not None and offset is None:
        _syntax_problem(error, report, bool(certain) or report.counts.get("S75-CONTROL", 0) > 0)
    return builder


def _tab_problem(text: str, lines: _Lines, offset: int, report: _Report) -> None:
    line, column = lines.position(offset)
    line_start = lines.starts[line - 1]
    indenting = text[line_start:offset].strip(" \t") == ""
    where = "for indentation" if indenting else "where YAML needs a space"
    report.add(
        line,
        column,
        "S75-TAB",
        f"a tab is used {where}; YAML does not allow tabs here",
        "indent with spaces (set your editor to insert spaces when Tab is pressed)",
    )


# --- loading one file -----------------------------------------------------


MAX_RECENT_FILES = 256  # loaded files kept for the next build (their data is in memory during a build anyway)
_RECENT = Recent(MAX_RECENT_FILES)


def load_yaml_bytes(raw: bytes, display: str) -> tuple[YamlFile | None, list[Diagnostic]]:
    """Load one agreement file's bytes; never raises for bad content.

    Returns the file only when there is no error: data from a file with
    duplicate keys or damaged text cannot be trusted, so later stages never
    see it. The diagnostics name every problem found, in file order.
    The same bytes under the same name are loaded once (see ``Recent``).
    """
    digest = hashlib.sha256(raw).digest()
    loaded, diagnostics = _RECENT.get((digest, display), lambda: _load(raw, display, digest))
    return loaded, list(diagnostics)


def _load(raw: bytes, display: str, digest: bytes) -> tuple[YamlFile | None, tuple[Diagnostic, ...]]:
    loaded, diagnostics = _load_uncached(raw, display)
    return (replace(loaded, digest=digest) if loaded is not None else None), tuple(diagnostics)


def _load_uncached(raw: bytes, display: str) -> tuple[YamlFile | None, list[Diagnostic]]:
    report = _Report(display)
    if len(raw) > MAX_BYTES:
        _size_problem(report, len(raw))
        return None, report.result()
    text = _decode(raw, report)
    if text is None:
        return None, report.result()
    lines = _Lines(text)
    text = _control_chars(text, lines, report)
    builder = _parse_with_tabs(text, lines, report)
    if not builder.failed and builder.root in (_NOTHING, None):
        what = "is empty" if not text.strip() else "has no data, only comments or an empty document"
        report.add(1, 1, "S75-EMPTY", f"the file {what}", "write the agreement's data, starting at line 1")
    diagnostics = report.result()
    if diagnostics:
        return None, diagnostics
    source = SourceMap(display, builder.values, builder.keys, builder.scalars, builder.odd_numbers)
    diagnostics = _escaped_control_chars(builder.root, source)
    if diagnostics:
        return None, diagnostics
    return YamlFile(Path(display), display, builder.root, source), []


def _escaped_control_chars(root, source: SourceMap) -> list[Diagnostic]:
    """Characters a Word document cannot hold that came in through an escape (``"\\v"``, ``"\\x07"``).

    The raw text was checked already; a double-quoted value can still spell
    such a character as an escape, and it must not vanish silently.
    """
    found = []
    stack = [((), root)]
    while stack:
        path, node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, value in items:
            where = path + (key,)
            if isinstance(key, str) and (match := _NOT_PRINTABLE.search(key)):
                message, hint = _describe_char(match.group())
                found.append(Diagnostic(source.key_location(where), ERROR, "S75-CONTROL",
                                        f"this key holds a {message}", hint))
            if isinstance(value, str) and (match := _NOT_PRINTABLE.search(value)):
                message, hint = _describe_char(match.group())
                found.append(Diagnostic(source.locate(where), ERROR, "S75-CONTROL",
                                        f"this value holds, written as an escape, a {message}", hint))
            elif isinstance(value, (dict, list)):
                stack.append((where, value))
    return sorted(found, key=lambda d: (d.location.line, d.location.column))


def size_diagnostics(display: str, size: int) -> list[Diagnostic]:
    """The S75-SIZE finding for a file of ``size`` bytes, worded as the loader words it."""
    report = _Report(display)
    _size_problem(report, size)
    return report.result()
