"""A deleted list paragraph leaves the numbers after it alone, in Word and in LibreOffice.

Word tracks a deleted paragraph by its own paragraph mark, so the deletion
ends at the start of the next paragraph. LibreOffice counts that next
paragraph as deleted too: it showed "[4.3]" before an unchanged clause and
numbered the clause's own list on from the deleted one ("(e)[(a)]").
When the paragraph before a deleted run of paragraphs is laid out exactly
as the run's last one, the redline deletes that earlier mark instead:
"Accept all" and "Reject all" give the same documents, and the next
paragraph is untouched.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from lxml import etree

from assembler.review.redline import render_redline_bytes
from assembler.review.versions import load_version
from assembler.word import read as docxtext
from assembler.word.read import document_lines
from assembler.word.writer import render_docx_bytes
from conftest import BASE, edit

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
KEPT = "Help people stay independent in their own homes."
GONE = "Help carers to keep caring."


def _pair(tmp_path: Path, side: str, text: str, replacement: str):
    """OLD and NEW copies of the base agreement, one ``side`` of them edited once."""
    versions = {name: tmp_path / name for name in ("old", "new")}
    for folder in versions.values():
        shutil.copytree(BASE, folder)
    edit(versions[side] / "agreement.yaml", text, replacement)
    return load_version(str(versions["old"])), load_version(str(versions["new"]))


def _versions(tmp_path: Path):
    """OLD has two aims, NEW only the first: the last item of a list is deleted whole."""
    return _pair(tmp_path, "old", f"  - {KEPT}\n", f"  - {KEPT}\n  - {GONE}\n")


def _paragraphs(data: bytes) -> list[etree._Element]:
    root = etree.fromstring(zipfile.ZipFile(__import__("io").BytesIO(data)).read("word/document.xml"))
    return list(root.iter(f"{{{W}}}p"))


def _text(p: etree._Element) -> str:
    return "".join(t.text or "" for t in p.iter(f"{{{W}}}t", f"{{{W}}}delText"))


def _mark(p: etree._Element) -> str:
    flags = p.xpath("w:pPr/w:rPr/w:ins | w:pPr/w:rPr/w:del", namespaces={"w": W})
    return etree.QName(flags[0]).localname if flags else ""


def test_the_mark_before_a_deleted_item_is_deleted_and_the_next_paragraph_is_untouched(tmp_path):
    before, after = _versions(tmp_path)
    data = render_redline_bytes(before.document, after.document)
    paragraphs = _paragraphs(data)
    at = next(i for i, p in enumerate(paragraphs) if _text(p).startswith(GONE))
    kept, gone, following = paragraphs[at - 1], paragraphs[at], paragraphs[at + 1]
    assert _text(kept).startswith(KEPT)
    assert (_mark(kept), _mark(gone), _mark(following)) == ("del", "", "")
    assert following.find(f"{{{W}}}del") is None and following.find(f"{{{W}}}ins") is None
    # Word's "Accept all" and "Reject all" still give NEW and OLD exactly
    assert document_lines(docxtext.accept_changes(data), marks=False) == \
        document_lines(render_docx_bytes(after.document), marks=False)
    assert document_lines(docxtext.reject_changes(data), marks=False) == \
        document_lines(render_docx_bytes(before.document), marks=False)


@pytest.mark.skipif(shutil.which("soffice") is None and shutil.which("libreoffice") is None
                    or shutil.which("pdftotext") is None, reason="LibreOffice or pdftotext is not installed")
def test_libreoffice_numbers_the_paragraphs_after_a_deleted_item_as_before(tmp_path):
    from assembler.word.pdf import convert_to_pdf

    before, after = _versions(tmp_path)
    (tmp_path / "redline.docx").write_bytes(render_redline_bytes(before.document, after.document))
    (pdf,) = convert_to_pdf([tmp_path / "redline.docx"], tmp_path)
    lines = [" ".join(line.split()) for line in
             subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                            check=True).stdout.splitlines()]
    body = lines[next(i for i, line in enumerate(lines) if GONE.split()[0] in line and "carers" in line):]
    numbered = [line for line in body if re.match(r"^\[?(\d+(\.\d+)*|\([a-z]+\))", line)]
    # the deleted item shows its old number only; nothing after it shows a "new[old]" pair
    assert numbered[0].startswith("[(b)]"), numbered[:3]
    assert not [line for line in numbered[1:] if re.match(r"^\S*\[", line)], numbered[:12]


CHANGED_OLD = "Help people stay independent in their own homes."
CHANGED_NEW = "Help people stay independent at home."


def _changed_words(tmp_path: Path):
    """OLD and NEW differ by words inside one numbered list item: nothing is added or removed whole."""
    return _pair(tmp_path, "new", f"  - {CHANGED_OLD}\n", f"  - {CHANGED_NEW}\n")


def test_changed_words_leave_the_paragraph_its_mark_and_its_number(tmp_path):
    """Word counts a paragraph with tracked words in it as before: only the words are tracked."""
    before, after = _changed_words(tmp_path)
    data = render_redline_bytes(before.document, after.document)
    paragraphs = _paragraphs(data)
    plain = {etree.tostring(p.find(f"{{{W}}}pPr")) for p in _paragraphs(render_docx_bytes(after.document))
             if _text(p).startswith("Help people stay independent")}
    (changed,) = [p for p in paragraphs if _text(p).startswith("Help people stay independent")]
    assert _mark(changed) == ""                                  # its paragraph mark is not tracked
    assert {etree.tostring(changed.find(f"{{{W}}}pPr"))} == plain  # nor its layout or numbering
    deleted = "".join(t.text for t in changed.iter(f"{{{W}}}delText"))
    inserted = "".join(t.text for ins in changed.iter(f"{{{W}}}ins") for t in ins.iter(f"{{{W}}}t"))
    assert (deleted.strip(), inserted.strip()) == ("in their own homes", "at home")
    assert [p for p in paragraphs if _mark(p)] == []             # no paragraph anywhere is tracked whole


@pytest.mark.skipif(shutil.which("soffice") is None and shutil.which("libreoffice") is None
                    or shutil.which("pdftotext") is None, reason="LibreOffice or pdftotext is not installed")
@pytest.mark.xfail(strict=True, reason=(
    "LibreOffice (7.4 in Debian 12, and 25.2 from its backports, both tried) drops any numbered paragraph "
    "holding a tracked deletion from its 'changes hidden' numbering, so it shows '[(a)]' and then "
    "'(a)[(b)]'; Word numbers it as before. When this passes, LibreOffice is fixed: drop the note in the "
    "README's reviewing section."))
def test_libreoffice_numbers_a_paragraph_with_changed_words_as_word_does(tmp_path):
    from assembler.word.pdf import convert_to_pdf

    before, after = _changed_words(tmp_path)
    (tmp_path / "redline.docx").write_bytes(render_redline_bytes(before.document, after.document))
    (pdf,) = convert_to_pdf([tmp_path / "redline.docx"], tmp_path)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert not re.search(r"^\s*\S*\[\(?[0-9a-z.]+\)?\]", text, re.M), \
        [line for line in text.splitlines() if "[" in line][:6]
