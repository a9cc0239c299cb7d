"""The redline's front sheet, headers and footers: filled in from the Word template,
not the clause tree, yet "Reject all" must still give the old version there too."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest
from lxml import etree

from assembler.word import read as docxtext
from assembler.word.read import document_lines, paragraph_text
from assembler.review.redline import render_redline_bytes
from assembler.review.versions import load_version
from assembler.word.writer import render_docx_bytes
from conftest import edit
from test_review import OLD, NEW, _second_version, s75, two_commit_repo

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
TEMPLATE_PARTS = re.compile(r"word/(header|footer)\d*\.xml")


def _dated_second_version(folder: Path) -> None:
    """The usual second version, plus a new version number and the agreement's date."""
    _second_version(folder)
    edit(folder / "agreement.yaml", "version: '1.0'", "version: '1.1'")
    edit(folder / "agreement.yaml", "commencement:", "agreement_date: 2017-03-20\ncommencement:")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """agreements/x in two commits; the second also has a new version number and a date."""
    return two_commit_repo(tmp_path, _dated_second_version)


# --- reading every part Word shows ---------------------------------------------------


def _parts(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _settle(data: bytes, keep: str) -> bytes:
    """Accept ("ins") or reject ("del") every tracked change, in headers and footers as well."""
    data = docxtext.accept_changes(data) if keep == "ins" else docxtext.reject_changes(data)
    parts = _parts(data)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, blob in parts.items():
            if TEMPLATE_PARTS.fullmatch(name):
                root = etree.fromstring(blob)
                docxtext._resolve(root, keep)
                blob = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
            archive.writestr(name, blob)
    return out.getvalue()


def _headers(data: bytes, marks: bool = False) -> dict[str, list[str]]:
    """The text of each paragraph of each header and footer part (changes as [-old-]{+new+} with ``marks``)."""
    return {name: [paragraph_text(p, marks) for p in etree.fromstring(blob).iter(f"{{{W}}}p")]
            for name, blob in sorted(_parts(data).items()) if TEMPLATE_PARTS.fullmatch(name)}


def _all_text(data: bytes) -> tuple[list[str], dict[str, list[str]]]:
    """Every paragraph, front sheet included (contents left out: Word rebuilds it), and every header part."""
    return document_lines(data, marks=False, skip_toc=True), _headers(data)


def _changes(data: bytes, name: str) -> list[etree._Element]:
    root = etree.fromstring(_parts(data)[name])
    return list(root.iter(f"{{{W}}}ins", f"{{{W}}}del"))


def _assert_both_ways(data: bytes, old, new) -> None:
    assert _all_text(_settle(data, "ins")) == _all_text(render_docx_bytes(new))
    assert _all_text(_settle(data, "del")) == _all_text(render_docx_bytes(old))


# --- tests -----------------------------------------------------------------------------------


def test_front_sheet_and_header_changes_are_tracked(repo, tmp_path):
    out = tmp_path / "redline.docx"
    result = s75(repo, "redline", OLD, NEW, "-o", str(out), "--author", "A. Reviewer")
    assert result.returncode == 0, result.stdout + result.stderr
    data = out.read_bytes()
    old, new = load_version(OLD, cwd=repo).document, load_version(NEW, cwd=repo).document
    assert (old.version, old.date, new.version, new.date) == ("1.0", "", "1.1", "20 March 2017")
    _assert_both_ways(data, old, new)

    lines = document_lines(data)
    assert "Dated\t[-" + "." * 44 + "-]{+20 March 2017+}" in lines
    assert "Version [-1.0-]{+1.1+} – DRAFT" in lines
    headers = _headers(data, marks=True)
    assert headers["word/header1.xml"] == [f"{new.title}\tVersion [-1.0-]{{+1.1+}} – DRAFT"]
    assert headers["word/header2.xml"] == ["DRAFT – Version [-1.0-]{+1.1+}"]
    when = {(c.get(f"{{{W}}}author"), c.get(f"{{{W}}}date")) for c in _changes(data, "word/header1.xml")}
    assert when == {("A. Reviewer", "2017-03-20T00:00:00Z")}  # as the body's revisions
    ids = [c.get(f"{{{W}}}id") for name in ("word/document.xml", "word/header1.xml", "word/header2.xml")
           for c in _changes(data, name)]
    assert len(ids) == len(set(ids))


def test_redline_with_front_changes_is_reproducible(repo, tmp_path):
    runs = []
    for name in ("one.docx", "two.docx"):
        assert s75(repo, "redline", OLD, NEW, "-o", str(tmp_path / name)).returncode == 0
        runs.append((tmp_path / name).read_bytes())
    assert runs[0] == runs[1]
    old, new = load_version(OLD, cwd=repo).document, load_version(NEW, cwd=repo).document
    assert render_redline_bytes(old, new, "R", "2019-04-01") == render_redline_bytes(old, new, "R", "2019-04-01")


def test_title_status_and_parties_on_the_front_sheet(repo):
    old = load_version(OLD, cwd=repo).document
    new = load_version(NEW, cwd=repo).document
    new = replace(new, title="Northbridge Integrated Care Agreement", status="final",
                  parties=[new.parties[0], replace(new.parties[1], name="NHS Northbridge ICB"), *new.parties[3:]])
    data = render_redline_bytes(old, new)
    _assert_both_ways(data, old, new)
    backwards = render_redline_bytes(new, old)
    _assert_both_ways(backwards, new, old)
    assert _headers(data, marks=True)["word/header2.xml"] == ["[-DRAFT – Version 1.0-]"]  # final: no marking
    lines = document_lines(data)
    assert "Northbridge [-Health and-]{+Integrated+} Care [-Partnership -]Agreement" in lines
    assert "Version [-1.0-]{+1.1+} – [-DRAFT-]{+FINAL+}" in lines
    assert any(line.startswith("[-(3)\tNorthbridge Community Health NHS Trust") for line in lines)
    assert any("NHS Northbridge [-Clinical Commissioning Group-]{+ICB+}" in line for line in lines)


def test_an_unchanged_front_sheet_has_no_changes(repo):
    new = load_version(NEW, cwd=repo).document
    data = render_redline_bytes(new, new)
    assert not any(_changes(data, name) for name in _parts(data) if name.endswith(".xml"))


@pytest.mark.skipif(shutil.which("soffice") is None and shutil.which("libreoffice") is None,
                    reason="LibreOffice is not installed")
def test_libreoffice_opens_a_redline_with_front_changes(repo, tmp_path):
    from assembler.word.pdf import convert_to_pdf

    assert s75(repo, "redline", OLD, NEW, "-o", str(tmp_path / "redline.docx")).returncode == 0
    (pdf,) = convert_to_pdf([tmp_path / "redline.docx"], tmp_path)
    done = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True)
    text = " ".join(done.stdout.split())
    assert "20 March 2017" in text and "1.1" in text and "Dementia Advisers" in text


# --- the contents page ------------------------------------------------------------------


def test_accept_all_and_reject_all_hold_for_the_contents_page(tmp_path):
    """A schedule removed and another added: their contents entries are tracked whole."""
    from conftest import BASE

    old, new = tmp_path / "old", tmp_path / "new"
    shutil.copytree(BASE, old)
    shutil.copytree(BASE, new)
    (new / "schedules" / "lead.yaml").unlink()
    added = (old / "schedules" / "lead.yaml").read_text(encoding="utf-8")
    added = added.replace("key: lead", "key: dementia").replace("Carers' Support Services", "Dementia Advisers")
    (new / "schedules" / "dementia.yaml").write_text(added, encoding="utf-8")
    before, after = load_version(str(old)), load_version(str(new))
    data = render_redline_bytes(before.document, after.document)
    accepted = document_lines(docxtext.accept_changes(data), marks=False)
    rejected = document_lines(docxtext.reject_changes(data), marks=False)
    assert accepted == document_lines(render_docx_bytes(after.document), marks=False)
    assert rejected == document_lines(render_docx_bytes(before.document), marks=False)
    contents = accepted[accepted.index("Contents"):]
    assert not any(line.strip() == "SCHEDULE 1" for line in contents)  # no empty entry left behind
