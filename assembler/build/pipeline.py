"""The one pipeline: load, validate, assemble, check.

Every command that needs an assembled agreement (build, text, compliance,
verify and the review commands) calls :func:`assemble_source`; none of them
re-implements "validate, then assemble, then check". The final-build policy
is read from :mod:`assembler.build.gate` here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass

from assembler.build import gate
from assembler.build.compliance import compliance_rows, compliance_section
from assembler.check.validate import Validation, validate_source
from assembler.diagnostics import ERROR, BuildError, Diagnostic, Location, UsageError, ValidationFailed
from assembler.engine import tree
from assembler.engine.assemble import assemble
from assembler.engine.library import Library, default_library
from assembler.source.folder import DirectorySource


@dataclass(frozen=True)
class Assembled:
    validation: Validation
    document: tree.Document
    warnings: tuple[Diagnostic, ...]


def defined_terms(library: Library | None = None) -> frozenset[str]:
    """The terms the clause library defines, for the prose checks of validation."""
    library = library or default_library()
    return frozenset(term for clause in library.clauses.values() for term, _ in clause.defines)


def check_source(source, final: bool = False, library: Library | None = None) -> Validation:
    """Validate ``source``; for a final build (asked for, or status: final) through the gate's first rows."""
    validation = validate_source(source, defined_terms(library))
    return gate.gate_validation(validation) if gate.is_final(validation, final) else validation


def check_path(path: str) -> list[Diagnostic]:
    """Every finding for the agreement directory at ``path``, as ``s75 validate`` reports them."""
    return list(check_source(DirectorySource(path)).diagnostics)


def assemble_source(source, final: bool = False, schedule: str = "", compliance_annex: bool = False,
                    library: Library | None = None) -> Assembled:
    """Validate and assemble; raise ValidationFailed/BuildError/UsageError with every finding."""
    validation = check_source(source, final, library)
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
    return Assembled(validation, document, tuple(warnings))


def assemble_for_report(source) -> tuple[Validation, tree.Document | None]:
    """Validation and, when it is clean enough to draft, the document: for reports that list what is missing."""
    validation = validate_source(source)
    if validation.agreement is None:
        return validation, None
    document, _ = assemble(validation.agreement)
    return validation, document
