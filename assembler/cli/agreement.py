"""Commands on one agreement: validate, schema, build, text, compliance."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from assembler.build.compliance import compliance_rows, format_json, format_text
from assembler.build.output import build_all
from assembler.build.pipeline import assemble_for_report, assemble_source
from assembler.check.schema import _resolve, load_schema
from assembler.cli.common import emit, report_validation
from assembler.diagnostics import UsageError
from assembler.engine.text import render_text
from assembler.source.folder import DirectorySource
from assembler.source.git import source_for

@click.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", help="Output format.")
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too (a final build refuses them).")
def validate(paths: tuple[str, ...], fmt: str, strict: bool) -> None:
    """Check agreements against the schemas and the statute.

    PATHS are agreement directories (or their agreement.yaml). Every finding of
    every file is reported in one run. Exit 1 if any is an error (with
    --strict, any finding at all), 0 otherwise, 2 on a usage error.
    """
    report_validation(list(paths), fmt, strict=strict)


@click.command()
@click.argument("which", type=click.Choice(["framework", "schedule", "common"]), default="framework")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON Schema itself.")
def schema(which: str, as_json: bool) -> None:
    """Print the help text of every field of agreement.yaml or a schedule.

    common is the schema of the types both share (money, dates, officers);
    with --json, the three files are what an editor needs to check an
    agreement kept outside this repository.
    """

    document = load_schema(which)
    if as_json:
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
        return
    if which == "common":
        for name, definition in document["$defs"].items():
            click.echo(f"{name}: {definition.get('description', definition.get('title', ''))}")
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


@click.command()
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Where to write the .docx, for one PATH (default: ./<agreement>.docx).")
@click.option("--outdir", type=click.Path(path_type=Path), metavar="DIR", help="Write each agreement's .docx (and .pdf) to DIR/<agreement>.docx (default: the current folder).")
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

    if schedule and len(paths) > 1:
        raise click.UsageError("--schedule builds one schedule of one agreement: give exactly one PATH")
    results, failures = build_all(list(paths), output, outdir, final=final, force=force, schedule=schedule,
                                  pdf=pdf, compliance_annex=compliance_annex)
    if len(paths) == 1 and failures and not results:
        raise failures[0]  # one agreement: exactly as before, exit 2 for usage errors, 1 otherwise
    for result in results:
        emit(list(result.validation.warnings) + list(result.warnings), "text")
        click.echo(f"wrote {result.output}" + (f" and {result.pdf}" if result.pdf else ""), err=True)
    for failure in failures:
        emit(failure.diagnostics, "text")
    if len(paths) > 1:
        click.echo(f"built {len(results)} of {len(paths)} agreements", err=True)
    if failures:
        sys.exit(2 if all(isinstance(f, UsageError) for f in failures) else 1)


@click.command()
@click.argument("path")
@click.option("--schedule", "schedule", default="", metavar="KEY", help="Only this schedule.")
def text(path: str, schedule: str) -> None:
    """Print the assembled agreement as plain text, numbered as in Word.

    PATH is an agreement directory, or REV:PATH for the agreement as
    committed at a git revision (HEAD~1:agreements/x).
    """
    assembled = assemble_source(source_for(path), schedule=schedule)
    click.echo(render_text(assembled.document), nl=False)


@click.command()
@click.argument("path")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", help="Output format.")
def compliance(path: str, fmt: str) -> None:
    """List each statutory requirement, the YAML that meets it and the clause that states it.

    Exits 1 if any requirement is MISSING, or INCOMPLETE (present but still
    tbc, blank or a placeholder).
    """
    validation, document = assemble_for_report(DirectorySource(path))
    if document is None and (validation.files is None or validation.files.framework is None):
        emit(validation.diagnostics, "text")
        sys.exit(1)
    rows = compliance_rows(validation, document)
    click.echo(format_json(rows) if fmt == "json" else format_text(rows))
    if document is None:
        click.echo(f"the agreement has {len(validation.errors)} validation error(s), so it could not be assembled "
                   "and no clause numbers are given; run s75 validate", err=True)
    sys.exit(1 if document is None or any(r.failed for r in rows) else 0)
