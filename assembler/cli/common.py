"""What every command shares: printing findings, the summary line, failing cleanly."""

from __future__ import annotations

import sys

import click

from assembler.build.pipeline import check_source
from assembler.diagnostics import ERROR, Diagnostic, S75Error, UsageError, to_json
from assembler.source.folder import DirectorySource


def emit(diagnostics, fmt: str) -> None:
    if fmt == "json":
        click.echo(to_json(diagnostics))
        return
    for diagnostic in diagnostics:
        click.echo(diagnostic.format())


def summary(diagnostics, paths: int) -> str:
    errors = sum(1 for d in diagnostics if d.level == ERROR)
    warnings = len(diagnostics) - errors
    noun = "agreement" if paths == 1 else "agreements"
    return f"{paths} {noun} checked: {errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"


def fail(error: S75Error, fmt: str = "text") -> None:
    emit(error.diagnostics, fmt)
    sys.exit(2 if isinstance(error, UsageError) else 1)


def report_validation(paths: list, fmt: str, earlier: list[Diagnostic] | None = None, strict: bool = False) -> None:
    """Validate each agreement, print every finding and a summary, and exit 1 on an error (on any finding if
    ``strict``): warnings are allowed in a draft, so alone they exit 0 unless asked."""

    everything: list[Diagnostic] = list(earlier or [])
    for path in paths:
        everything.extend(check_source(DirectorySource(path)).diagnostics)
    emit(everything, fmt)
    if fmt == "text":
        click.echo(summary(everything, len(paths)), err=True)
    sys.exit(1 if any(strict or d.level == ERROR for d in everything) else 0)
