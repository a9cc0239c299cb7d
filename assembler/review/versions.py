"""One version of an agreement, named as a directory or as REV:PATH, assembled.

The review commands (diff, redline, variation) compare two of these. A
version must validate (as for a draft build); its document is assembled
through the one pipeline, with the clause library given or the installed one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from assembler.build.pipeline import assemble_source
from assembler.engine import tree
from assembler.engine.library import load_library
from assembler.source.git import source_for


@dataclass(frozen=True)
class Version:
    name: str  # as the user typed it
    agreement: object  # model.Record
    document: tree.Document


def load_library_option(folder: str | os.PathLike | None):
    """The clause library in ``folder``, or None for the installed one."""
    return load_library(Path(folder)) if folder else None


def load_version(spec: str, library=None, cwd: str | os.PathLike | None = None) -> Version:
    """Validate and assemble the agreement ``spec`` names; ValidationFailed/BuildError otherwise."""
    assembled = assemble_source(source_for(spec, cwd=cwd), library=library)
    return Version(spec, assembled.validation.agreement, assembled.document)
