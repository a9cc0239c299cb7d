"""`s75 library show` and `s75 library diff`: the clauses an agreement is built from, and its house wording."""

from __future__ import annotations

import click

from assembler.build.library_report import format_diff, format_show, show_entries
from assembler.build.pipeline import library_for
from assembler.engine.library import default_library
from assembler.review.versions import revision_library
from assembler.source.git import source_for


def _libraries(path: str):
    """(the agreement's merged library, the built-in library it is laid over)."""
    source = source_for(path)
    base = revision_library(source) or default_library()
    return library_for(source, base), base


@click.group(name="library")
def library() -> None:
    """The clause library an agreement is built from, with its house layers.

    An agreement names its own clause folders in agreement.yaml as
    clause_library: (see 'Layers' in clauses/README.md).
    """


@library.command(name="show")
@click.argument("path")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", help="Output format.")
def show(path: str, fmt: str) -> None:
    """List every clause the agreement at PATH is built from, in order, and the layer it comes from.

    PATH is an agreement directory, or REV:PATH for a git revision.
    """
    merged, base = _libraries(path)
    click.echo(format_show(show_entries(merged, base), merged, fmt), nl=False)


@library.command(name="diff")
@click.argument("path")
def diff(path: str) -> None:
    """Show how the house layers of the agreement at PATH differ from the built-in clauses.

    Clause by clause: changed headings, definitions and paragraphs (by
    their {#anchor}) with the changed words as [-old-]{+new+}, added
    clauses in full, then the clauses the layers insert, remove or move.
    """
    merged, base = _libraries(path)
    click.echo(format_diff(merged, base), nl=False)
