"""Execution and sign-off: worded by the clause library, printed the same by Word and by `s75 text`.

The agreement says whether it is executed as a deed or under hand, and each party attests in the way its
kind allows (a council's common seal or its authorised officers, an NHS body's authorised signatory).
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

from assembler.build.output import build
from assembler.build.pipeline import assemble_source
from assembler.engine.text import render_text
from assembler.source.folder import DirectorySource
from assembler.word.read import textconv
from conftest import ROOT, edit

PORTSMOUTH = ROOT / "agreements" / "portsmouth-framework-2022"


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def _execution_text(folder: Path) -> str:
    text = render_text(assemble_source(DirectorySource(str(folder))).document)
    return _flat(text.split("\nEXECUTION\n", 1)[1])


def test_word_and_text_print_the_same_execution_page(tmp_path):
    out = tmp_path / "p.docx"
    build(str(PORTSMOUTH), out)
    word = _flat(textconv(out.read_bytes()))
    text = _execution_text(PORTSMOUTH)
    sentences = [s.strip() for s in re.split(r"(?<=[.:])\s", text) if len(s.strip()) > 30 and "...." not in s]
    assert sentences, text
    for sentence in sentences:
        assert sentence in word, sentence
    for label in ("Signature", "Name", "Position", "Date"):
        assert word.count(f"{label} ") >= 3 or word.count(label) >= 3
    assert "Signed by" not in word and "Signed by" not in text


def test_deed_attestation_by_kind_of_party(base_copy):
    text = _execution_text(base_copy)
    assert "This Agreement has been executed as a deed by each Partner and is delivered" in text
    assert "The common seal of Northbridge City Council was affixed to this deed in the presence of its authorised officer:" in text
    assert "Executed as a deed by NHS Northbridge Clinical Commissioning Group acting by its authorised signatory:" in text
    assert "Executed as a deed by Northbridge Community Health NHS Trust acting by its authorised signatory:" in text


def test_under_hand_attestation(base_copy):
    edit(base_copy / "agreement.yaml", "approvals:", "executed_as: under_hand\napprovals:")
    edit(base_copy / "agreement.yaml", "      method: common_seal", "      method: signatories")
    text = _execution_text(base_copy)
    assert "has been signed on behalf of each Partner by its authorised signatories" in text
    assert "Signed for and on behalf of Northbridge City Council by its authorised officer:" in text
    assert "Signed for and on behalf of Northbridge Community Health NHS Trust by its authorised signatory:" in text
    assert "deed" not in text


def test_under_hand_with_a_council_seal_says_so_in_the_lead_in(base_copy):
    """Review r6 Westshire 4: "signed by its authorised signatories" misdescribes a council that seals."""
    edit(base_copy / "agreement.yaml", "approvals:", "executed_as: under_hand\napprovals:")
    text = _execution_text(base_copy)
    assert "executed on behalf of each Partner on the date written at the beginning of it, under its common seal or " \
           "by its authorised signatories" in text
    assert "has been signed on behalf of each Partner by its authorised signatories" not in text
    assert "was affixed to this Agreement in the presence of" in text


def test_council_deed_without_its_seal_is_signed_by_authorised_officers(base_copy):
    edit(base_copy / "agreement.yaml", "      method: common_seal", "      method: signatories")
    text = _execution_text(base_copy)
    assert ("Executed as a deed by Northbridge City Council acting by the officer authorised to do so under its "
            "constitution:") in text


def test_schedule_sign_off_names_every_partners_signatory():
    text = _flat(render_text(assemble_source(DirectorySource(str(PORTSMOUTH))).document))
    s256 = text.split("Payments under section 256 of the NHS Act 2006", 1)[1].split("SCHEDULE", 1)[0]
    assert "This Schedule is signed off on behalf of each Partner to it by the officers below" in text
    assert "Chief Finance Officer of the CCG, NHS Portsmouth Clinical Commissioning Group" in s256
    assert "Director of Finance and Resources (section 151 officer), Portsmouth City Council" in s256


def test_a_partys_signatories_are_kept_on_one_page(tmp_path):
    """Review r6 B3-9: the ICB's second signatory fell alone on a page; every row of a party's signatories but the
    last keeps with the next, so a page can break only between parties."""
    out = tmp_path / "p.docx"
    build(str(PORTSMOUTH), out)
    xml = zipfile.ZipFile(io.BytesIO(out.read_bytes())).read("word/document.xml").decode("utf-8")
    body = xml.split("Executed as a deed by NHS Hampshire and Isle of Wight", 1)[1]
    tables = re.findall(r"<w:tbl>.*?</w:tbl>", body, flags=re.S)[:2]  # the ICB's two signatories
    assert len(tables) == 2
    first_last_row = re.findall(r"<w:tr>.*?</w:tr>", tables[0], flags=re.S)[-1]
    second_last_row = re.findall(r"<w:tr>.*?</w:tr>", tables[1], flags=re.S)[-1]
    assert "<w:keepNext/>" in first_last_row
    assert "<w:keepNext/>" not in second_last_row


def test_a_partys_words_of_execution_stay_with_its_signature_lines(tmp_path):
    """Final read: the ICB's "Executed as a deed ... acting by its authorised signatories:" ended page 106 of
    Portsmouth 2022 and its signature lines began page 107. The paragraph before each signature block keeps
    with it; the paragraph before that (the successor note) does not, so the chain stays one party long."""
    out = tmp_path / "p.docx"
    build(str(PORTSMOUTH), out)
    xml = zipfile.ZipFile(io.BytesIO(out.read_bytes())).read("word/document.xml").decode("utf-8")
    paragraphs = re.findall(r"<w:p>(?:(?!<w:p>).)*?Executed as a deed by NHS Hampshire and Isle of Wight.*?</w:p>",
                            xml, flags=re.S)
    assert len(paragraphs) == 1 and "<w:keepNext/>" in paragraphs[0].split("</w:pPr>")[0]
    before = xml[:xml.index(paragraphs[0])].rsplit("<w:p>", 1)[1]
    assert "signs it in its place" in before and "<w:keepNext/>" not in before
