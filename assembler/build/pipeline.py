"""The one pipeline: load, validate, assemble, check.

Every command that needs an assembled agreement (build, text, compliance,
verify and the review commands) calls :func:`assemble_source`; none of them
re-implements "validate, then assemble, then check". The final-build policy
is read from :mod:`assembler.build.gate` here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from assembler.build import gate
from assembler.build.compliance import compliance_rows, compliance_section
from assembler.build.layers import apply_layers
from assembler.check.validate import Validation, validate_files
from assembler.diagnostics import (
    ERROR, BuildError, Diagnostic, LoadError, Location, UsageError, ValidationFailed, sorted_diagnostics,
)
from assembler.engine import tree
from assembler.engine.assemble import assemble
from assembler.engine.library import Library, default_library
from assembler.source.folder import AgreementFiles, DirectorySource, load_agreement


@dataclass(frozen=True)
class Assembled:
    validation: Validation
    document: tree.Document
    warnings: tuple[Diagnostic, ...]
    library: Library | None = None  # the clause library it was assembled from, with any layers


def library_paths(files: AgreementFiles | None) -> list[tuple[str, Location]]:
    """The clause library layers agreement.yaml names, each with where it is written."""
    framework = files.framework if files else None
    data = framework.data if framework is not None else None
    written = data.get("clause_library") if isinstance(data, dict) else None
    if isinstance(written, str):
        found = [(written, framework.source.locate(("clause_library",)))]
    elif isinstance(written, list) and all(isinstance(p, str) for p in written):
        found = [(p, framework.source.locate(("clause_library", i))) for i, p in enumerate(written)]
    else:
        return []  # absent, or a shape the schema reports
    # An empty path, or one starting with '/' or holding '\\', is the schema's to report.
    # A path listed twice is the schema's to report too (and is read once).
    seen: set[str] = set()
    return [(p, where) for p, where in found
            if p and not p.startswith("/") and "\\" not in p and not (p in seen or seen.add(p))]


def layered_library(source, files: AgreementFiles | None, base: Library | None = None) -> tuple[Library, list[Diagnostic]]:
    """The clause library the agreement builds from: ``base`` (the installed one) with its layers over it.

    Layers are read through the same kind of source as the agreement (a
    folder on disk, or the same git revision). A layer that cannot be found
    is reported where agreement.yaml names it; problems inside a layer, in
    the layer's own file.
    """
    base = base or default_library()
    folders, problems = [], []
    for written, where in library_paths(files):
        try:
            folder = source.folder(written)
            folder.names()
        except LoadError as error:
            problems += [replace(d, location=where) for d in error.diagnostics]
            continue
        folders.append((written, folder))
    if not folders:
        return base, problems
    try:
        library = apply_layers(base, folders)
    except BuildError as error:
        return base, problems + list(error.diagnostics)
    return (base, problems) if problems else (library, [])


def library_for(source, base: Library | None = None) -> Library:
    """The clause library the agreement at ``source`` builds from; ValidationFailed if its layers have problems.

    Only agreement.yaml needs to load: the library can be listed while the
    agreement's data is still being fixed.
    """
    files, findings = load_agreement(source)
    if files is None or files.framework is None:
        raise ValidationFailed([d for d in findings if d.level == ERROR] or list(findings))
    library, problems = layered_library(source, files, base)
    if problems:
        raise ValidationFailed(problems)
    return library


def _with_library(source, library: Library | None) -> tuple[Validation, Library]:
    """Load ``source`` once, merge the clause library layers it names, and validate it against that library
    (its free text against the terms the merged library defines); the layers' problems are the validation's too."""
    files, findings = load_agreement(source)
    library, problems = layered_library(source, files, library)
    validation = validate_files(files, findings, defined_terms(library))
    if problems:
        validation = replace(validation, diagnostics=tuple(sorted_diagnostics(list(validation.diagnostics) + problems)),
                             agreement=None)
    return validation, library


def _gated(validation: Validation, final: bool) -> Validation:
    return gate.gate_validation(validation) if gate.is_final(validation, final) else validation


def defined_terms(library: Library | None = None) -> frozenset[str]:
    """The terms the clause library defines, for the prose checks of validation."""
    library = library or default_library()
    return frozenset(term for clause in library.clauses.values() for term, _ in clause.defines)


def check_source(source, final: bool = False, library: Library | None = None) -> Validation:
    """Validate ``source`` and its clause library layers; for a final build (asked for, or status: final)
    through the gate's first rows."""
    return _gated(_with_library(source, library)[0], final)


def check_path(path: str) -> list[Diagnostic]:
    """Every finding for the agreement directory at ``path``, as ``s75 validate`` reports them."""
    return list(check_source(DirectorySource(path)).diagnostics)


def assemble_source(source, final: bool = False, schedule: str = "", compliance_annex: bool = False,
                    library: Library | None = None) -> Assembled:
    """Validate and assemble; raise ValidationFailed/BuildError/UsageError with every finding.

    ``library`` is the base library (the installed one by default); layers
    the agreement names go over it.
    """
    validation, library = _with_library(source, library)
    validation = _gated(validation, final)
    if validation.errors or validation.agreement is None:
        raise ValidationFailed(validation.errors or list(validation.diagnostics))
    agreement = validation.agreement
    if schedule and schedule not in {s.key for s in agreement.schedules}:
        raise UsageError(Diagnostic(Location(schedule), ERROR, "S75-SCHEDULE", f"there is no schedule with key '{schedule}'",
                                    "keys: " + ", ".join(s.key for s in agreement.schedules)))
    final = gate.is_final(validation, final)
    document, warnings = assemble(agreement, library=library, only_schedule=schedule)
    if compliance_annex and not final:
        # The annex comes last and holds no numbers, terms or references: it is added to the assembled document.
        document.sections.append(compliance_section(compliance_rows(validation, document)))
    if final:
        problems = gate.gate_document(validation, document)
        if problems:
            raise BuildError(problems)
    return Assembled(validation, document, tuple(warnings), library)


def assemble_for_report(source) -> tuple[Validation, tree.Document | None]:
    """Validation and, when it is clean enough to draft, the document: for reports that list what is missing."""
    validation, library = _with_library(source, None)
    if validation.agreement is None:
        return validation, None
    document, _ = assemble(validation.agreement, library=library)
    return validation, document
