"""Commands for reviewers: textconv, diff, redline, variation, validate-changed.

Registered on the ``s75`` group by :func:`register_review_commands`. Like
the rest of the CLI, they print every failure as one diagnostic line and
exit 1 (findings) or 2 (usage); heavy modules are imported inside the
commands so ``s75 --help`` stays fast. OLD and NEW are agreement
directories or git versions written ``REV:PATH`` (``HEAD~1:agreements/x``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from assembler.build.output import check_output_name, is_final_document
from assembler.cli.common import report_validation
from assembler.review.diff import diff_documents, format_json, format_text
from assembler.review.redline import revision_author, revision_date, write_redline
from assembler.review.variation import build_deed, deed_date, deed_warnings, plan_deed
from assembler.review.versions import load_library_option, load_version
from assembler.word.pdf import convert_to_pdf
from assembler.word.read import read_docx_file, textconv as convert
from assembler.word.writer import write_docx

from assembler.diagnostics import ERROR, Diagnostic, Location, UsageError

_CLAUSES_HELP = "Use the clause library in DIR instead of the installed one (for drafting clauses)."


def _docx_output(output: Path) -> Path:
    """``output`` if a redline or deed may be written there: a .docx, and not a final agreement."""
    check_output_name(output)
    if output.exists() and is_final_document(output):
        raise UsageError(Diagnostic(Location(str(output)), ERROR, "S75-OVERWRITE",
                                    "a final agreement is here; a redline or deed never replaces it",
                                    f"write to another file, e.g. -o {output.with_name(output.stem + '-changes.docx')}"))
    return output


def _versions(old: str, new: str, clauses: str | None):
    library = load_library_option(clauses)
    return load_version(old, library), load_version(new, library)


def agreement_for(path: str) -> str | None:
    """The agreement directory a changed file belongs to, or None if it is in none.

    ``agreements/x/agreement.yaml`` and ``agreements/x/schedules/bcf.yaml``
    both give ``agreements/x``.
    """
    candidate = Path(path)
    folder = candidate if candidate.is_dir() else candidate.parent
    for _ in range(3):
        if (folder / "agreement.yaml").is_file() or (folder / "agreement.yml").is_file():
            return str(folder)
        if folder.parent == folder:
            break
        folder = folder.parent
    return None


@click.command()
@click.argument("file", type=click.Path(path_type=Path))
def textconv(file: Path) -> None:
    """Print the text of a .docx, numbered as Word shows it (for git diff).

    Set up once per clone: put '*.docx diff=s75' in .gitattributes and
    run 'git config diff.s75.textconv "s75 textconv"'.
    """
    click.echo(convert(read_docx_file(file), str(file)), nl=False)

@click.command(name="diff")
@click.argument("old")
@click.argument("new")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", help="Output format.")
@click.option("--exit-code", is_flag=True, help="Exit 1 if the versions differ (as git diff --exit-code).")
@click.option("--clauses", metavar="DIR", default=None, hidden=True, help=_CLAUSES_HELP)
def diff_command(old: str, new: str, fmt: str, exit_code: bool, clauses: str | None) -> None:
    """Show what changed between two versions, by clause and schedule.

    OLD and NEW are agreement directories or git versions (REV:PATH, e.g.
    HEAD~1:agreements/x). Clauses are matched by key, so a clause that
    only moved is reported as renumbered; money is compared per scheme
    line and partner.
    """
    before, after = _versions(old, new, clauses)
    result = diff_documents(before.document, after.document, before.agreement, after.agreement, old, new)
    click.echo(format_json(result) if fmt == "json" else format_text(result), nl=False)
    sys.exit(1 if exit_code and not result.empty else 0)

@click.command()
@click.argument("old")
@click.argument("new")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="Where to write the .docx.")
@click.option("--author", default="s75 assembler", show_default=True, help="The author of the tracked changes.")
@click.option("--date", "date", default=None, metavar="YYYY-MM-DD",
              help="Date of the tracked changes (default: the NEW agreement's date, else its commencement).")
@click.option("--pdf", is_flag=True, help="Also convert to PDF with LibreOffice.")
@click.option("--clauses", metavar="DIR", default=None, hidden=True, help=_CLAUSES_HELP)
def redline(old: str, new: str, output: Path, author: str, date: str | None, pdf: bool, clauses: str | None) -> None:
    """Write NEW as a Word document with tracked changes against OLD."""
    _docx_output(output)
    revision_author(author)
    if date:
        revision_date(date)  # a bad date fails before any work is done
    before, after = _versions(old, new, clauses)
    write_redline(before.document, after.document, output, author, date)
    message = f"wrote {output}"
    if pdf:
        message += f" and {convert_to_pdf([output], output.parent)[0]}"
    click.echo(message, err=True)

@click.command()
@click.argument("old")
@click.argument("new")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="Where to write the .docx.")
@click.option("--date", "date", default=None, metavar="YYYY-MM-DD",
              help="The date of the deed (default: left blank, to be completed at signing).")
@click.option("--effective", default=None, metavar="YYYY-MM-DD",
              help="When the variation takes effect (default: the date of the deed).")
@click.option("--pdf", is_flag=True, help="Also convert to PDF with LibreOffice.")
@click.option("--clauses", metavar="DIR", default=None, hidden=True, help=_CLAUSES_HELP)
def variation(old: str, new: str, output: Path, date: str | None, effective: str | None, pdf: bool,
              clauses: str | None) -> None:
    """Write a deed of variation taking the agreement from OLD to NEW."""
    _docx_output(output)
    deed_date(date, "--date")
    _, effective_iso = deed_date(effective or date, "--effective")
    before, after = _versions(old, new, clauses)
    plan = plan_deed(before.document, after.document, before.agreement, after.agreement)
    deed = build_deed(before.document, after.document, before.agreement, after.agreement, date, effective, plan, new)
    for warning in deed_warnings(before.document, before.agreement, after.agreement, effective_iso, old, new):
        click.echo(warning.format(), err=True)
    write_docx(deed, output)
    message = f"wrote {output}"
    if pdf:
        message += f" and {convert_to_pdf([output], output.parent)[0]}"
    click.echo(message, err=True)

@click.command(name="validate-changed")
@click.argument("files", nargs=-1)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", help="Output format.")
def validate_changed(files: tuple[str, ...], fmt: str) -> None:
    """Validate the agreements that FILES belong to (for pre-commit).

    Each file inside an agreement directory (agreement.yaml or
    schedules/*.yaml) stands for its agreement; each agreement is
    checked once. Files in no agreement are ignored; a deleted
    agreement.yaml is reported.
    """
    folders: list[str] = []
    everything: list[Diagnostic] = []
    for name in files:
        folder = agreement_for(name)
        if folder is None:
            parent = Path(name).parent
            if Path(name).name in ("agreement.yaml", "agreement.yml") or parent.name == "schedules":
                owner = parent if Path(name).name.startswith("agreement.") else parent.parent
                if owner.is_dir() and not (owner / "agreement.yaml").exists():
                    everything.append(Diagnostic(Location(os.fspath(owner / "agreement.yaml")), ERROR,
                                                 "S75-NOTFOUND", f"'{owner}' has no agreement.yaml",
                                                 "restore it, or remove the rest of the agreement directory"))
            continue
        if folder not in folders:
            folders.append(folder)
    report_validation(folders, fmt, everything)
