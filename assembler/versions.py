"""One version of an agreement, named as a directory or as REV:PATH, assembled.

The review commands (diff, redline, variation) compare two of these. A
version must validate (as for a draft build); its document is assembled
from the clause library, by default the installed one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from assembler import tree
from assembler.diagnostics import ValidationFailed
from assembler.gitsource import source_for


@dataclass(frozen=True)
class Version:
    name: str  # as the user typed it
    agreement: object  # model.Record
    document: tree.Document


def load_library_option(folder: str | os.PathLike | None):
    """The clause library in ``folder``, or None for the installed one."""
    if not folder:
        return None
    from assembler.clauselib import load_library

    return load_library(Path(folder))


def load_version(spec: str, library=None, cwd: str | os.PathLike | None = None) -> Version:
    """Validate and assemble the agreement ``spec`` names; ValidationFailed/BuildError otherwise."""
    from assembler.assemble import assemble
    from assembler.validate import validate_source

    source = source_for(spec, cwd=cwd)
    validation = validate_source(source)
    if validation.errors or validation.agreement is None:
        raise ValidationFailed(validation.errors or list(validation.diagnostics))
    document, _ = assemble(validation.agreement, library=library)
    return Version(spec, validation.agreement, document)
