"""`--pdf`: the contents page is filled in, in the PDF and in the draft .docx of the same run.

A plain build leaves the contents to Word (it asks to update fields on
opening); with --pdf LibreOffice pages the document and fills in the
entries and page numbers, and a draft's .docx gets the same page numbers
written into s75's own contents entries. A final document keeps the bytes
s75 wrote (its manifest records them) and never sits beside a PDF of an
earlier text.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from conftest import BASE, EXAMPLES, s75
from assembler.word.pdf import find_soffice, find_uno_python

SOUTHAMPTON = next(p for p in EXAMPLES if p.name == "southampton-bcf-2017")


@pytest.fixture(autouse=True)
def _libreoffice():
    if find_soffice() and find_uno_python() and shutil.which("pdftotext"):
        return
    if os.environ.get("CI"):
        pytest.fail("CI must have LibreOffice, python3-uno and pdftotext; .ci/run installs them")
    pytest.skip("LibreOffice, python3-uno or pdftotext not installed")


def _part(docx: Path, name: str) -> str:
    with zipfile.ZipFile(docx) as package:
        return package.read(name).decode("utf-8")


def _contents_entries(document_xml: str) -> list[tuple[str, str]]:
    """(title, page) of each filled-in contents entry: a paragraph of a 'toc' style ending in digits."""
    entries = []
    for paragraph in re.findall(r"<w:p[ >].*?</w:p>", document_xml, re.S):
        if not re.search(r'<w:pStyle w:val="[^"]*(?:toc|TOC|Contents)[^"]*1"', paragraph):
            continue
        text = "".join(re.findall(r"<w:t(?: [^>]*)?>([^<]*)</w:t>", paragraph))
        found = re.match(r"(.*?\D)(\d+)$", text.strip())
        if found:
            entries.append(("".join(found.group(1).split()), found.group(2)))
    return entries


def _pdf_text(pdf: Path) -> str:
    return subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout


def test_draft_pdf_and_docx_carry_the_same_filled_in_contents(tmp_path, capsys, monkeypatch):
    plain = tmp_path / "plain.docx"
    assert s75(capsys, monkeypatch, "build", str(SOUTHAMPTON), "-o", str(plain))[0] == 0
    settings = _part(plain, "word/settings.xml")
    assert "<w:updateFields" in settings  # a plain build leaves the contents to Word
    assert re.search(r'w:name="compatibilityMode"[^>]*w:val="15"', settings)
    assert _contents_entries(_part(plain, "word/document.xml")) == []

    docx = tmp_path / "southampton.docx"
    code, out, err = s75(capsys, monkeypatch, "build", str(SOUTHAMPTON), "-o", str(docx), "--pdf")
    assert code == 0, out + err
    pdf_lines = [" ".join(line.split()) for line in _pdf_text(docx.with_suffix(".pdf")).splitlines()]
    in_pdf = {"".join(m.group(1).split()): m.group(2) for line in pdf_lines
              if (m := re.match(r"^(\d+\. .*?)\s*\.{3,}\s*(\d+)$", line))}
    assert len(in_pdf) > 20, pdf_lines[:80]
    in_docx = dict(_contents_entries(_part(docx, "word/document.xml")))
    assert "<w:updateFields" not in _part(docx, "word/settings.xml")  # Word opens it without asking
    assert len(in_docx) >= len(in_pdf)
    for title, page in in_pdf.items():
        assert in_docx.get(title) == page, (title, page, in_docx.get(title))
    # the rest of the .docx is s75's own: only the contents entries gained their page numbers
    strip = lambda xml: re.sub(r"<w:p[ >](?:(?!</w:p>).)*?PAGEREF.*?</w:p>", "", xml, flags=re.S)  # noqa: E731
    body = _part(docx, "word/document.xml")
    assert body.count("PAGEREF") == len(in_docx)
    assert len(strip(body)) < len(body) and "</w:body>" in strip(body)
    again = tmp_path / "again.docx"
    assert s75(capsys, monkeypatch, "build", str(SOUTHAMPTON), "-o", str(again), "--pdf")[0] == 0
    assert again.read_bytes() == docx.read_bytes()  # reproducible, LibreOffice's page numbers and all


def _final_agreement(tmp_path: Path) -> Path:
    root = tmp_path / "final-agreement"
    shutil.copytree(BASE, root)
    agreement = root / "agreement.yaml"
    agreement.write_text(agreement.read_text(encoding="utf-8").replace("status: draft", "status: final"),
                         encoding="utf-8")
    return root


def test_final_pdf_replaces_a_draft_pdf_and_keeps_the_docx_verifiable(tmp_path, capsys, monkeypatch):
    root = _final_agreement(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    draft_pdf = out / "agreement.pdf"
    draft_pdf.write_bytes(b"%PDF-1.4 an old draft\n")
    docx = out / "agreement.docx"
    code, stdout, stderr = s75(capsys, monkeypatch, "build", str(root), "-o", str(docx), "--final", "--pdf")
    assert code == 0, stdout + stderr
    text = _pdf_text(draft_pdf)
    assert "CONTENTS" in text and "DRAFT" not in text
    assert re.search(r"Definitions and interpretation\s*\.{3,}\s*\d+", text)
    assert "<w:updateFields" in _part(docx, "word/settings.xml")  # s75's own bytes, as the manifest records
    assert s75(capsys, monkeypatch, "verify", str(docx))[0] == 0


def test_a_final_docx_never_sits_beside_a_draft_pdf(tmp_path, capsys, monkeypatch):
    root = _final_agreement(tmp_path)
    docx = tmp_path / "agreement.docx"
    stale = tmp_path / "agreement.pdf"
    stale.write_bytes(b"%PDF-1.4 an old draft\n")
    assert s75(capsys, monkeypatch, "build", str(root), "-o", str(docx), "--final")[0] == 0
    assert docx.is_file() and not stale.exists()


def test_a_redline_pdf_has_no_contents_line_without_a_title(tmp_path, capsys, monkeypatch):
    """A schedule removed whole: LibreOffice would list its deleted heading as a bare page number."""
    old, new = tmp_path / "old", tmp_path / "new"
    shutil.copytree(BASE, old)
    shutil.copytree(BASE, new)
    (new / "schedules" / "lead.yaml").unlink()
    docx = tmp_path / "redline.docx"
    code, out, err = s75(capsys, monkeypatch, "redline", str(old), str(new), "-o", str(docx), "--pdf")
    assert code == 0, out + err
    lines = [" ".join(line.split()) for line in _pdf_text(docx.with_suffix(".pdf")).splitlines()]
    contents = lines[lines.index("CONTENTS"):]
    contents = contents[:contents.index("BACKGROUND")]
    entries = [line for line in contents if re.search(r"\d$", line) and not line.startswith("Page ")]
    assert any(line.startswith("SCHEDULE 1 ") for line in entries), contents  # the remaining schedule, renumbered
    assert any(line.startswith("8. Procurement") for line in entries), contents
    assert not [line for line in entries if re.fullmatch(r"[\d .]+", line)], contents  # no "6. 10", no "30"
