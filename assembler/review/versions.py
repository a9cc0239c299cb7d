"""One version of an agreement, named as a directory or as REV:PATH, assembled.

The review commands (diff, redline, variation) compare two of these. A
version must validate (as for a draft build); its document is assembled
through the one pipeline, with the clause library given or the installed one.

A version read from a git revision is assembled from the clause library as
it was at that revision: the house layers its agreement.yaml names (the
pipeline reads them from the same revision) and, when the repository holds
the built-in library itself (clauses/ with its outline.yaml at the top),
that clauses/ too. So a change of wording between two revisions is a
change the review commands report, track and provide for.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from assembler.build.pipeline import assemble_source
from assembler.diagnostics import LoadError
from assembler.engine import tree
from assembler.engine.library import Library, load_library
from assembler.source.git import GitSource, source_for

BUILT_IN_FOLDER = "clauses"  # where the repository of this tool keeps its clause library


@dataclass(frozen=True)
class Version:
    name: str  # as the user typed it
    agreement: object  # model.Record
    document: tree.Document


def load_library_option(folder: str | os.PathLike | None):
    """The clause library in ``folder``, or None for the installed one."""
    return load_library(Path(folder)) if folder else None


def revision_library(source) -> Library | None:
    """The built-in clause library as committed at ``source``'s revision, if its repository holds one."""
    if not isinstance(source, GitSource):
        return None
    folder = source.repository_folder(BUILT_IN_FOLDER)
    try:
        names = folder.names()
    except LoadError:
        return None  # the repository holds agreements only: the installed library is the built-in one
    return load_library(folder) if "outline.yaml" in names else None


def load_version(spec: str, library=None, cwd: str | os.PathLike | None = None) -> Version:
    """Validate and assemble the agreement ``spec`` names; ValidationFailed/BuildError otherwise.

    ``library`` (the hidden --clauses option) replaces the built-in library
    for both sides; without it a git revision uses its own clauses/ if it has one.
    """
    source = source_for(spec, cwd=cwd)
    assembled = assemble_source(source, library=library or revision_library(source))
    return Version(spec, assembled.validation.agreement, assembled.document)
