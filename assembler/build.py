"""``s75 build``: validate, assemble and write one agreement, refusing what is unsafe.

A draft build needs no errors. A final build also needs no warnings, no
``tbc`` and no blank other than those completed at signing, and never
replaces an earlier final document without ``force``.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

from assembler import tree
from assembler.diagnostics import ERROR, BuildError, Diagnostic, Location, UsageError, ValidationFailed
from assembler.loader import DirectorySource
from assembler.validate import Validation, validate_source


@dataclass(frozen=True)
class BuildResult:
    output: Path
    document: tree.Document
    validation: Validation
    warnings: tuple[Diagnostic, ...]
    pdf: Path | None = None


def default_output(path: str, schedule: str = "") -> Path:
    """<agreement directory name>.docx in the current directory."""
    folder = Path(path)
    if folder.name in ("agreement.yaml", "agreement.yml"):
        folder = folder.parent
    name = folder.resolve().name
    return Path(f"{name}-schedule-{schedule}.docx" if schedule else f"{name}.docx")


def _usage(output: Path | str, code: str, message: str, hint: str = "") -> UsageError:
    return UsageError(Diagnostic(Location(str(output)), ERROR, code, message, hint))


def is_final_document(path: Path) -> bool:
    """True if the file at ``path`` is a document this tool built as final."""
    try:
        with zipfile.ZipFile(path) as archive:
            core = archive.read("docProps/core.xml").decode("utf-8", "replace")
    except (OSError, KeyError, zipfile.BadZipFile):
        return False
    return "<cp:contentStatus>Final</cp:contentStatus>" in core


def open_blanks(document: tree.Document) -> list[str]:
    """Labels of blanks that must be completed before signing (not signing blanks)."""
    labels = []
    for section in document.sections:
        for block in section.blocks:
            if isinstance(block, tree.Para):
                labels += [p.label for p in block.parts if isinstance(p, tree.Blank) and not p.signing]
    return labels


def assemble_source(source, final: bool = False, schedule: str = "", compliance_annex: bool = False):
    """Validate and assemble; raise ValidationFailed/BuildError with every finding."""
    from assembler.assemble import assemble

    validation = validate_source(source)
    status = validation.files.framework.data.get("status") if validation.files and validation.files.framework else None
    problems = list(validation.errors)
    if final and isinstance(validation.files.framework.data if validation.files and validation.files.framework else None, dict):
        if status == "draft":
            problems.append(Diagnostic(validation.files.framework.source.locate(("status",)), ERROR, "S75-FINAL",
                                       "a final build needs status: final", "set status: final once the text is agreed"))
        problems += [Diagnostic(d.location, ERROR, d.code, d.message + " (a final build allows no warnings)", d.hint)
                     for d in validation.warnings]
    if problems or validation.agreement is None:
        raise ValidationFailed(problems or list(validation.diagnostics))
    agreement = validation.agreement
    if schedule and schedule not in {s.key for s in agreement.schedules}:
        raise _usage(schedule, "S75-SCHEDULE", f"there is no schedule with key '{schedule}'",
                     "keys: " + ", ".join(s.key for s in agreement.schedules))
    annex = None
    if compliance_annex and not (final or agreement.status == "final"):
        from assembler.compliance import compliance_blocks
        annex = compliance_blocks(validation)
    document, warnings = assemble(agreement, only_schedule=schedule, compliance_annex=annex)
    if final or agreement.status == "final":
        blanks = open_blanks(document)
        if blanks:
            raise BuildError([Diagnostic(Location(str(validation.files.framework.display)), ERROR, "S75-BLANK",
                                         f"a final document cannot contain the blank '{label}'",
                                         "complete it in the YAML (or the clause) before the final build")
                              for label in sorted(set(blanks))])
        if warnings:
            raise BuildError([Diagnostic(w.location, ERROR, w.code, w.message, w.hint) for w in warnings])
    return validation, document, warnings


def build(path: str, output: Path | None = None, final: bool = False, force: bool = False,
          schedule: str = "", pdf: bool = False, compliance_annex: bool = False) -> BuildResult:
    """Build the agreement at ``path`` into ``output`` (atomically)."""
    from assembler.writer import write_docx

    output = output or default_output(path, schedule)
    if output.suffix.lower() != ".docx":
        raise _usage(output, "S75-OUTPUT", "the output file must end in .docx", f"try -o {output.with_suffix('.docx')}")
    validation, document, warnings = assemble_source(DirectorySource(path), final, schedule, compliance_annex)
    if output.exists() and is_final_document(output) and not force:
        raise _usage(output, "S75-OVERWRITE", "a final document already exists here and is never overwritten silently",
                     "use --force to replace it, or choose another file with -o")
    write_docx(document, output)
    pdf_path = None
    if pdf:
        from assembler.pdf import convert_to_pdf
        pdf_path = convert_to_pdf([output], output.parent)[0]
    return BuildResult(output, document, validation, tuple(warnings), pdf_path)
