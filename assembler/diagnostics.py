"""Findings as plain values, and the project's own error hierarchy.

Every stage returns a list of :class:`Diagnostic` rather than printing or
raising, so that a user sees every problem of every file in one run.
Only the CLI turns them into text and exit codes.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Iterable


ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True, order=True)
class Location:
    """Where in which file a finding points (1-based line and column)."""

    file: str
    line: int = 1
    column: int = 1

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


# Everything str.splitlines() splits at, written as an escape instead.
_LINE_BREAKS = {ord(c): repr(c)[1:-1] for c in "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"}


@dataclass(frozen=True)
class Diagnostic:
    """One finding: where, how bad, a stable code, what is wrong, how to fix it."""

    location: Location
    level: str
    code: str
    message: str
    hint: str = ""

    def format(self) -> str:
        """One line, always: line breaks inside a quoted value (a YAML key may hold one) are escaped."""
        text = f"{self.location}: {self.level} [{self.code}] {self.message}"
        if self.hint:
            text += f" (hint: {self.hint})"
        return text.translate(_LINE_BREAKS)

    def as_json(self) -> dict:
        data = asdict(self)
        data["location"] = asdict(self.location)
        return data


def sort_key(d: Diagnostic):
    return (d.location.file, d.location.line, d.location.column, d.code, d.message)


def sorted_diagnostics(diags: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Stable order, duplicates removed, so output is reproducible."""
    seen = set()
    out = []
    for d in sorted(diags, key=sort_key):
        if d not in seen:
            seen.add(d)
            out.append(d)
    return out


def to_json(diags: Iterable[Diagnostic]) -> str:
    return json.dumps([d.as_json() for d in diags], indent=2, ensure_ascii=False)


class S75Error(Exception):
    """Base of every error the project raises on purpose.

    It carries diagnostics so the CLI can print them as one clean line each.
    """

    def __init__(self, diagnostics: list[Diagnostic] | Diagnostic | str):
        if isinstance(diagnostics, str):
            diagnostics = [Diagnostic(Location("<s75>"), ERROR, "S75-INTERNAL", diagnostics)]
        elif isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        self.diagnostics = list(diagnostics)
        super().__init__("; ".join(d.format() for d in self.diagnostics))


class LoadError(S75Error, ValueError):
    """An agreement's files could not be read as safe YAML."""


class ValidationFailed(S75Error, ValueError):
    """The agreement has errors (or, for a final build, warnings)."""


class BuildError(S75Error, RuntimeError):
    """The document could not be assembled or written."""


class UsageError(S75Error, ValueError):
    """The command was called wrongly (exit code 2)."""
