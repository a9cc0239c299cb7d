"""The ``s75`` command: the only module that prints or exits.

Exit codes: 0 clean (warnings allowed in a draft), 1 findings that fail,
2 usage errors. Every failure a user can cause is printed as
``file:line:col: level [CODE] message (hint: ...)``; never a traceback.
Heavy modules (docx, jinja) are imported inside the commands that need them
so ``s75 --help`` and ``s75 validate`` start quickly.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from assembler import __version__
from assembler.diagnostics import ERROR, Diagnostic, S75Error, UsageError, to_json


def _emit(diagnostics, fmt: str) -> None:
    if fmt == "json":
        click.echo(to_json(diagnostics))
        return
    for diagnostic in diagnostics:
        click.echo(diagnostic.format())


def _summary(diagnostics, paths: int) -> str:
    errors = sum(1 for d in diagnostics if d.level == ERROR)
    warnings = len(diagnostics) - errors
    noun = "agreement" if paths == 1 else "agreements"
    return f"{paths} {noun} checked: {errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"


def _fail(error: S75Error, fmt: str = "text") -> None:
    _emit(error.diagnostics, fmt)
    sys.exit(2 if isinstance(error, UsageError) else 1)


def main() -> None:
    """Entry point: run the command group; turn any failure into clean lines, never a traceback."""
    try:
        cli.main(prog_name="s75", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("s75: aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2 if isinstance(exc, click.UsageError) else exc.exit_code)
    except S75Error as exc:
        _fail(exc)
    except RecursionError:
        click.echo("<input>:1:1: error [S75-INTERNAL] the input is nested too deeply to process "
                   "(hint: flatten the YAML structure)")
        sys.exit(1)
    except Exception as exc:  # a bug: say so plainly, in one line, without a traceback
        click.echo(f"<s75>:1:1: error [S75-INTERNAL] unexpected {type(exc).__name__}: {' '.join(str(exc).split())} "
                   "(hint: this is a bug in s75; please report it with the input that caused it)")
        sys.exit(1)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="s75")
def cli() -> None:
    """Assemble section 75 partnership agreements from YAML into Word.

    Write an agreement as agreement.yaml plus schedules/*.yaml, check it with
    `s75 validate`, and build the document with `s75 build`.
    """


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", help="Output format.")
def validate(paths: tuple[str, ...], fmt: str) -> None:
    """Check agreements against the schemas and the statute.

    PATHS are agreement directories (or their agreement.yaml). Every finding of
    every file is reported in one run.
    """
    report_validation(list(paths), fmt)


def report_validation(paths: list, fmt: str, earlier: list[Diagnostic] | None = None) -> None:
    """Validate each agreement, print every finding and a summary, and exit 0 or 1."""
    from assembler.loader import DirectorySource
    from assembler.validate import validate_source

    everything: list[Diagnostic] = list(earlier or [])
    for path in paths:
        everything.extend(validate_source(DirectorySource(path)).diagnostics)
    _emit(everything, fmt)
    if fmt == "text":
        click.echo(_summary(everything, len(paths)), err=True)
    sys.exit(1 if any(d.level == ERROR for d in everything) else 0)


@cli.command()
@click.argument("which", type=click.Choice(["framework", "schedule"]), default="framework")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON Schema itself.")
def schema(which: str, as_json: bool) -> None:
    """Print the help text of every field of agreement.yaml or a schedule."""
    from assembler.schema import load_schema, _resolve

    document = load_schema(which)
    if as_json:
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
        return
    click.echo(f"{document['title']}\n{document['description']}\n")
    for line in _describe_schema(document, _resolve, ""):
        click.echo(line)


def _describe_schema(node, resolve, prefix: str, depth: int = 0):
    """Depth-first field list: name, title, description (kept short for a terminal)."""
    node = resolve(node)
    required = set(node.get("required", []))
    for key, sub in node.get("properties", {}).items():
        sub = resolve(sub)
        name = f"{prefix}{key}"
        flag = " (required)" if key in required else ""
        title = sub.get("title", "")
        yield f"{'  ' * depth}{name}{flag}: {title}"
        if sub.get("description"):
            yield f"{'  ' * depth}    {sub['description']}"
        if "enum" in sub:
            yield f"{'  ' * depth}    one of: {', '.join(map(str, sub['enum']))}"
        child = sub
        if sub.get("type") == "array":
            child = resolve(sub.get("items", {}))
            name += "[]"
        if child.get("properties") and depth < 4:
            yield from _describe_schema(child, resolve, name + ".", depth + 1)


@cli.command()
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Where to write the .docx, for one PATH (default: ./<agreement>.docx).")
@click.option("--outdir", type=click.Path(file_okay=False, path_type=Path), metavar="DIR", help="Write each agreement's .docx (and .pdf) to DIR/<agreement>.docx (default: the current folder).")
@click.option("--final", is_flag=True, help="Build the signing version: refuses warnings, tbc and blanks; no DRAFT marking.")
@click.option("--force", is_flag=True, help="Allow replacing an existing final document.")
@click.option("--schedule", "schedule", default="", metavar="KEY", help="Build only this schedule, for separate sign-off (one PATH).")
@click.option("--pdf", is_flag=True, help="Also convert to PDF with LibreOffice (one LibreOffice run for all PATHs).")
@click.option("--compliance-annex", is_flag=True, help="Draft only: add the statutory compliance table as an annex.")
def build(paths: tuple[str, ...], output: Path | None, outdir: Path | None, final: bool, force: bool, schedule: str,
          pdf: bool, compliance_annex: bool) -> None:
    """Assemble the agreements at PATH... into Word documents.

    Several PATHs are built in one process (one agreement's errors do not
    stop the others), and with --pdf converted in one LibreOffice run.
    """
    from assembler.build import build_all
    from assembler.diagnostics import UsageError

    if schedule and len(paths) > 1:
        raise click.UsageError("--schedule builds one schedule of one agreement: give exactly one PATH")
    results, failures = build_all(list(paths), output, outdir, final=final, force=force, schedule=schedule,
                                  pdf=pdf, compliance_annex=compliance_annex)
    if len(paths) == 1 and failures and not results:
        raise failures[0]  # one agreement: exactly as before, exit 2 for usage errors, 1 otherwise
    for result in results:
        _emit(list(result.validation.warnings) + list(result.warnings), "text")
        click.echo(f"wrote {result.output}" + (f" and {result.pdf}" if result.pdf else ""), err=True)
    for failure in failures:
        _emit(failure.diagnostics, "text")
    if len(paths) > 1:
        click.echo(f"built {len(results)} of {len(paths)} agreements", err=True)
    if failures:
        sys.exit(2 if all(isinstance(f, UsageError) for f in failures) else 1)


@cli.command()
@click.argument("path")
@click.option("--schedule", "schedule", default="", metavar="KEY", help="Only this schedule.")
def text(path: str, schedule: str) -> None:
    """Print the assembled agreement as plain text, numbered as in Word.

    PATH is an agreement directory, or REV:PATH for the agreement as
    committed at a git revision (HEAD~1:agreements/x).
    """
    from assembler.build import assemble_source
    from assembler.gitsource import source_for
    from assembler.text import render_text

    _, document, _ = assemble_source(source_for(path), schedule=schedule)
    click.echo(render_text(document), nl=False)


@cli.command()
@click.argument("path")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", help="Output format.")
def compliance(path: str, fmt: str) -> None:
    """List each statutory requirement, the YAML that meets it and the clause that states it.

    Exits 1 if any requirement is MISSING.
    """
    from assembler.assemble import assemble
    from assembler.compliance import compliance_rows, format_json, format_text
    from assembler.loader import DirectorySource
    from assembler.validate import validate_source

    validation = validate_source(DirectorySource(path))
    document = None
    if validation.agreement is not None:
        document, _ = assemble(validation.agreement)
    elif validation.files is None or validation.files.framework is None:
        _emit(validation.diagnostics, "text")
        sys.exit(1)
    rows = compliance_rows(validation, document)
    click.echo(format_json(rows) if fmt == "json" else format_text(rows))
    if document is None:
        click.echo(f"the agreement has {len(validation.errors)} validation error(s), so it could not be assembled "
                   "and no clause numbers are given; run s75 validate", err=True)
    sys.exit(1 if document is None or any(r.missing for r in rows) else 0)

from assembler.provenance_cli import register_provenance_commands; register_provenance_commands(cli)  # noqa: E402,E702
from assembler.review_cli import register_review_commands; register_review_commands(cli)  # noqa: E402,E702
