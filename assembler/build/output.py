"""``s75 build``: validate, assemble and write one agreement, refusing what is unsafe.

A draft build needs no errors. A final build also needs no warnings, no
``tbc`` and no blank other than those completed at signing, and never
replaces an earlier final document without ``force``.
"""

from __future__ import annotations

import gc
import os
import re
import zipfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from assembler.build.pipeline import assemble_source
from assembler.build.provenance import manifest_bytes, manifest_path
from assembler.check.validate import Validation
from assembler.diagnostics import ERROR, Diagnostic, Location, S75Error, UsageError
from assembler.engine import tree
from assembler.source.folder import DirectorySource
from assembler.word import files, writer
from assembler.word.pdf import convert_to_pdf
from assembler.word.read import open_package, read_docx_file


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


def check_output_name(output: Path) -> None:
    """Refuse an output that is not a file name ending in .docx (an empty name, a folder, another type)."""
    if not output.name or output.is_dir():
        raise _usage(output, "S75-OUTPUT", f"'{output}' is a folder, not a file name",
                     "give a file name ending in .docx, e.g. -o agreement.docx")
    if output.suffix.lower() != ".docx":
        raise _usage(output, "S75-OUTPUT", "the output file must end in .docx", f"try -o {output.with_suffix('.docx')}")


def is_final_document(path: Path) -> bool:
    """True if the file at ``path`` is a document this tool built as final."""
    try:
        with open_package(read_docx_file(path)) as archive:
            core = archive.read("docProps/core.xml").decode("utf-8", "replace")
    except (S75Error, OSError, KeyError, zipfile.BadZipFile, ValueError, EOFError, zlib.error):
        return False  # not a document, or one too large to be ours: not a final document of s75's
    return re.search(r"<cp:contentStatus>\s*final\s*</cp:contentStatus>", core, re.IGNORECASE) is not None


@contextmanager
def full_collections_deferred():
    """Hold off Python's full (oldest-generation) garbage collections for one build.

    A build allocates hundreds of thousands of small objects that live until
    it ends; each full collection walks all of them, so their number grew
    with the heap and made build time grow faster than the schedule count.
    Young objects are still collected as usual, so any cyclic garbage the
    build makes is still freed.
    """
    thresholds = gc.get_threshold()
    gc.set_threshold(thresholds[0], thresholds[1], FULL_COLLECTION_DEFERRAL)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


FULL_COLLECTION_DEFERRAL = 1000  # young collections between full ones during a build (Python's default: 10)


def _check_manifest_name(output: Path, manifest: Path) -> None:
    """Refuse, before any work, a document name too long for its manifest's name to exist beside it."""
    limit = files.name_max(output.parent if output.parent.is_dir() else Path("."))
    excess = len(os.fsencode(manifest.name)) - limit
    if excess > 0:
        raise _usage(output, "S75-OUTPUT", f"the name {output.name!r} is too long for a final build: its manifest's "
                     f"name would be {limit + excess} bytes, and this folder allows {limit}",
                     f"choose a name at least {excess} bytes shorter")


def build(path: str, output: Path | None = None, final: bool = False, force: bool = False,
          schedule: str = "", pdf: bool = False, compliance_annex: bool = False) -> BuildResult:
    """Build the agreement at ``path`` into ``output``, and for a final build its manifest, as one commit.

    The document (and manifest) are made in memory first; then, holding the
    output's lock, both are written and renamed into place together, or on
    any failure neither is and the previous pair stays exactly as it was.
    A manifest left beside ``output`` by an earlier final build goes with the
    document it described, since it would no longer describe the new one.
    """

    output = output or default_output(path, schedule)
    check_output_name(output)
    manifest = manifest_path(output)
    if final:
        _check_manifest_name(output, manifest)
    with full_collections_deferred():
        assembled = assemble_source(DirectorySource(path), final, schedule, compliance_annex)
        data = writer.render_docx_bytes(assembled.document)
    record = None
    if final:
        record = manifest_bytes(path, output, data, final=final, schedule=schedule, compliance_annex=compliance_annex,
                                layers=assembled.library.layers if assembled.library else ())

    def refuse_overwrite() -> None:
        if not force and is_final_document(output):
            raise _usage(output, "S75-OVERWRITE", "a final document already exists here and is never overwritten "
                         "silently", "use --force to replace it, or choose another file with -o")

    files.replace_files([(output, data), (manifest, record)], check=refuse_overwrite)
    if final:  # a final document never sits beside a PDF of an earlier (draft) text
        output.with_suffix(".pdf").unlink(missing_ok=True)
    pdf_path = None
    if pdf:
        pdf_path = convert_to_pdf([output], output.parent, fill_docx=not final)[0]
    return BuildResult(output, assembled.document, assembled.validation, assembled.warnings, pdf_path)


def build_all(paths: list[str], output: Path | None = None, outdir: Path | None = None, final: bool = False,
              force: bool = False, schedule: str = "", pdf: bool = False,
              compliance_annex: bool = False) -> tuple[list[BuildResult], list[S75Error]]:
    """Build several agreements in one process: (the builds that worked, the errors of the others).

    ``output`` names the file for a single PATH; otherwise each document is
    ``<outdir or .>/<agreement>.docx``. One agreement's errors do not stop
    the others. With ``pdf`` every document built goes through one
    LibreOffice run, not one each.
    """
    if output is not None and (len(paths) != 1 or outdir is not None):
        raise _usage(output, "S75-OUTPUT", "-o names one output file, so it takes exactly one PATH",
                     "give one PATH with -o, or use --outdir DIR for several")
    outputs = [output or (outdir or Path()) / default_output(path, schedule) for path in paths]
    seen: dict[Path, str] = {}
    clashes = []
    for path, out in zip(paths, outputs):
        key = Path(os.path.abspath(out))
        if key in seen:
            clashes.append(_usage(out, "S75-OUTPUT", f"{seen[key]} and {path} would both be written to {out}",
                                  "build them into different folders, or rename one agreement directory"))
        seen.setdefault(key, path)
    if clashes:
        raise UsageError([d for c in clashes for d in c.diagnostics])
    if outdir is not None:
        try:
            outdir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _usage(outdir, "S75-OUTPUT", f"cannot create {outdir}: {exc.strerror or exc}",
                         "choose an output folder you can write to") from exc
    results: list[BuildResult] = []
    failures: list[S75Error] = []
    for path, out in zip(paths, outputs):
        try:
            results.append(build(path, out, final=final, force=force, schedule=schedule,
                                 compliance_annex=compliance_annex))
        except S75Error as exc:
            failures.append(exc)
    if pdf and results:
        try:
            # A draft's .docx gets the contents' page numbers too; a final one stays
            # as s75 wrote it, the bytes its manifest records and verify rebuilds.
            pdfs = convert_to_pdf([r.output for r in results], results[0].output.parent, fill_docx=not final)
        except S75Error as exc:
            failures.append(exc)
        else:
            results = [replace(r, pdf=p) for r, p in zip(results, pdfs)]
    return results, failures
