"""The assembled agreement as plain data: the tree every later stage reads.

``render`` produces it, ``number`` fills in numbers, ``xref`` resolves
references, and ``write_docx`` / ``text`` turn it into a document. Nothing
here knows about YAML, Jinja or python-docx.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from assembler.diagnostics import Location


# --- inline parts ---------------------------------------------------------


@dataclass(frozen=True)
class Text:
    """Literal text; never interpreted as markup or template source."""

    text: str
    bold: bool = False
    italic: bool = False


@dataclass(frozen=True)
class TermUse:
    """A use of a defined term, e.g. ``Pooled Fund``; written as plain text.

    ``text`` is how it reads in this sentence ("Partners" for "Partner").
    """

    term: str
    text: str = ""

    @property
    def shown(self) -> str:
        return self.text or self.term


@dataclass(frozen=True)
class Ref:
    """A cross-reference to a numbered paragraph by its stable key.

    ``number`` is filled by the xref stage ("clause 7.2", "paragraph 3 of
    Schedule 2" style wording is decided by the writer from ``label``).
    """

    key: str
    number: str = ""
    label: str = ""  # e.g. "clause 7.2" or "paragraph 2.1 of Schedule 3"


@dataclass(frozen=True)
class Blank:
    """Something to be completed by hand; signing blanks are allowed in a final build."""

    label: str
    signing: bool = False


Inline = Union[Text, TermUse, Ref, Blank]


# --- blocks ---------------------------------------------------------------


@dataclass
class Para:
    """A numbered (or unnumbered) paragraph.

    ``level`` 1 is a clause heading ("1."), 2 is "1.1", 3 is "1.1.1",
    4 is "(a)" and 5 is "(i)". Level 0 is an unnumbered body paragraph.
    ``key`` is a stable id used for bookmarks and cross-references.
    """

    parts: list[Inline]
    level: int = 0
    key: str = ""
    heading: str = ""  # for level 1: the clause heading text
    number: str = ""  # filled by the number stage: "7", "7.2", "(a)"
    full_number: str = ""  # "7.2(a)" for references
    style: str = ""  # optional override: "Definition", "Recital", "Quote", "Note"
    # The clause-file line it was drafted at, for findings about it (not part of the document).
    source: Location | None = field(default=None, compare=False, repr=False)


@dataclass
class Table:
    """A table of text cells; money is formatted by the renderer, not here."""

    columns: list[str]
    rows: list[list[str]]
    total_rows: set[int] = field(default_factory=set)  # indexes of rows drawn bold as totals
    numeric_columns: set[int] = field(default_factory=set)  # right-aligned
    caption: str = ""
    key: str = ""
    # Columns as wide as their longest cell (money, short labels); the other columns share what is left.
    # Empty: every column gets an equal share.
    fit_columns: frozenset[int] = frozenset()
    optional_columns: set[int] = field(default_factory=set)  # an empty cell here means "none", not "missing"


@dataclass
class SignatureBlock:
    """An execution block for one party or one schedule sign-off."""

    party_name: str
    method: str  # "common_seal" | "signatories" | "sign_off"
    lines: list[tuple[str, str]]  # (role, name or "") for each signature line
    intro: str = ""  # e.g. "The Common Seal of X was affixed in the presence of:"; the clause library
    # usually words it in a paragraph of its own instead


# The lines under each signatory, and the columns of a sign-off table: labels, not wording.
# The words of execution (deed or under hand, seal or signature) come from the clause library;
# the Word writer and the plain-text rendering both print these, so they cannot differ.
SIGN_OFF_COLUMNS = ("Role", "Name", "Signature", "Date")


def signature_lines(role: str, name: str) -> list[tuple[str, str]]:
    """(label, value) rows for one signatory; an empty value is a line to sign or fill in."""
    return [("Signature", ""), ("Name", name), ("Position", role), ("Date", "")]


Block = Union[Para, Table, SignatureBlock]


# --- sections -------------------------------------------------------------


@dataclass
class Section:
    """A part of the document: the body, one schedule, the execution page.

    ``kind`` is one of "recitals", "body", "schedule", "execution", "annex".
    Schedules are numbered separately: ``number`` is "1", "2"...; paragraph
    numbering restarts in each schedule.
    """

    kind: str
    title: str
    blocks: list[Block] = field(default_factory=list)
    key: str = ""
    number: str = ""
    subtitle: str = ""


@dataclass(frozen=True)
class PartyLine:
    """A party on the front sheet: (1) NAME of address ("the Council")."""

    name: str
    address: str
    short_name: str


@dataclass
class Document:
    """The whole agreement, ready to number and write."""

    title: str
    subtitle: str
    version: str
    status: str  # "draft" | "final"
    date: str  # the agreement's own date as text, e.g. "1 April 2017"; "" if blank
    parties: list[PartyLine]
    sections: list[Section]
    subject: str = ""
    keywords: str = ""
    iso_date: str = ""  # YYYY-MM-DD used for document properties; never the clock

    @property
    def is_draft(self) -> bool:
        return self.status != "final"
