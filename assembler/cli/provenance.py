"""`s75 verify`: rebuild a final document from its manifest and compare."""

from __future__ import annotations

import sys

import click

from assembler.build.provenance import verify as run_verify


@click.command()
@click.argument("document", type=click.Path(dir_okay=False))
def verify(document: str) -> None:
    """Rebuild a final document from the inputs in its manifest and compare the bytes.

    DOCUMENT is a .docx written by `s75 build --final`; its manifest
    (DOCUMENT.manifest.json) records the agreement directory and the
    SHA-256 of every input. Each changed input file is named; if none
    changed, the document is rebuilt in memory and must match byte for
    byte. Exit 0 when it matches, 1 when anything differs.
    """
    result = run_verify(document)
    for finding in result.findings:
        click.echo(finding.format())
    if result.ok:
        how = f" ({result.note})" if result.note else ""
        click.echo(f"verified: {document} is exactly what its recorded inputs build{how}", err=True)
        sys.exit(0)
    click.echo(f"not verified: {document} differs ({len(result.findings)} finding(s))", err=True)
    sys.exit(1)
