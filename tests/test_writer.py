"""The Word writer, tested by value: build a synthetic agreement, reopen it, inspect it."""

from __future__ import annotations

import io
import os
import pathlib
import re
import shutil
import subprocess
import zipfile

import docx
import pytest
from docx.oxml.ns import qn
from lxml import etree

from assembler.word import ooxml

from assembler.word import pdf

from assembler.engine import tree

from assembler.word import writer
from assembler.diagnostics import BuildError
from assembler.word.templates import make_reference
from assembler.build.pipeline import assemble_source
from assembler.source.folder import DirectorySource
from conftest import EXAMPLES

T, R, B, P = tree.Text, tree.Ref, tree.Blank, tree.Para
LONG_WORD = "x" * 300
HOSTILE = ["{{ 7*7 }}", "{% if x %}", "<w:p>", "]]>", "&", "\u200fمرحبا\u200f", "\U0001F600", LONG_WORD]


# --- a synthetic agreement --------------------------------------------------


def clause(n: int, heading: str, key: str = "") -> P:
    return P([], level=1, key=key, heading=heading, number=str(n), full_number=str(n))


def sub(number: str, text: str, level: int, key: str = "", parts=None) -> P:
    local = number.rsplit(".", 1)[-1] if level <= 3 else re.findall(r"\([a-z]+\)$", number)[0]
    shown = number if level <= 3 else local
    return P(parts or [T(text)], level=level, key=key, number=shown, full_number=number)


def synthetic(status: str = "draft", hostile: bool = True) -> tree.Document:
    """An agreement using every block, level and signature kind the writer supports."""
    title_extra = " {{ 7*7 }} & <w:p>" if hostile else ""
    recitals = tree.Section("recitals", "Background", [
        P([T("The Council and the ICB wish to work together under section 75 of the Act.")], level=1, number="(A)"),
        P([T("The Partners have agreed to establish a "), tree.TermUse("Pooled Fund"), T(".")], level=1, number="(B)"),
    ])
    body_blocks = [
        clause(1, "Definitions and interpretation", key="defs"),
        sub("1.1", "In this Agreement:", 2, key="defs.intro"),
        P([T("Act", bold=True), T(" means the National Health Service Act 2006;")], style="Definition"),
        P([T("Pooled Fund", bold=True), T(" means the fund described in "),
           R("sched.contrib.1", "1.1", "paragraph 1.1 of Schedule 2"), T(".")], style="Definition"),
        sub("1.2", "Headings do not affect interpretation.", 2),
        clause(2, "Commencement and duration", key="term"),
        sub("2.1", "This Agreement starts on the Commencement Date and continues until:", 2, key="term.start"),
        sub("2.1.1", "the earliest of:", 3, key="term.start.end"),
        sub("2.1.1(a)", "the date the Partners agree in writing;", 4, key="term.a"),
        sub("2.1.1(a)(i)", "the first event;", 5, key="term.a.i"),
        sub("2.1.1(a)(ii)", "the second event; and", 5),
        sub("2.1.1(b)", "the date of termination.", 4),
        sub("2.1.2", "any later date agreed.", 3),
        sub("2.2", "", 2, key="term.refs", parts=[
            T("Subject to "), R("pay.timing", "7.2", "clause 7.2"), T(" and "),
            R("term.a", "2.1.1(a)", "clause 2.1.1(a)"), T(" (see also "), R("term.a.i", "2.1.1(a)(i)", ""),
            T(" and "), R("pay", "7", "clause 7"), T("), the Council shall act as host. "),
            T("Emphasis", italic=True), T(" is allowed. Complete by "), B("date of first review"), T("."),
        ]),
    ]
    for n in range(3, 7):
        body_blocks += [clause(n, f"Obligations part {n}"), sub(f"{n}.1", f"Text of clause {n}.1.", 2)]
    body_blocks += [
        clause(7, "Payments", key="pay"),
        sub("7.1", "The Partners shall pay their contributions monthly.", 2),
        sub("7.2", "Each payment is due within 30 days of invoice.", 2, key="pay.timing"),
        P([T("Drafting note: check the payment terms with finance.")], style="Note"),
        P([T("“Quoted statutory text.”")], style="Quote"),
    ]
    if hostile:
        body_blocks.append(sub("7.3", "", 2, key="hostile", parts=[T(" ".join(HOSTILE))]))
    body_blocks += [
        P([T("The Partners shall act in good faith, as "), R("missing.key")], level=1, number="8", key="faith"),
        P([T("Notices are given in writing.")], level=2, heading="Notices.", number="1", full_number="8.1"),
    ]
    body = tree.Section("body", "Agreed terms", body_blocks)
    schedule1 = tree.Section("schedule", "Aims and outcomes", [
        clause(1, "Aims", key="sched.aims"),
        sub("1.1", "The aims are to improve outcomes.", 2),
        sub("1.2", "The Partners shall:", 2),
        sub("1.2(a)", "share data;", 4, key="sched.aims.a"),
        sub("1.2(b)", "report quarterly.", 4),
        tree.Table(["Outcome", "Target"], [["Delayed discharges", "Reduce by 10%"], ["Admissions", "Reduce by 5%"]],
                   caption="Table 1: outcomes"),
    ], key="sched1", number="1", subtitle="(Clause 4)")
    schedule2 = tree.Section("schedule", "Financial contributions", [
        clause(1, "Contributions", key="sched.contrib"),
        sub("1.1", "The contributions for the first year are set out below.", 2, key="sched.contrib.1"),
        tree.Table(["Partner", "Revenue (£)", "Capital (£)"],
                   [["Council", "1,200,000", "50,000"], ["ICB", "3,400,000", "0"], ["Total", "4,600,000", "50,000"]],
                   total_rows={2}, numeric_columns={1, 2}, caption="Table 2: contributions"),
        sub("1.2", "Contributions are paid in twelve instalments.", 2),
    ], key="sched2", number="2")
    execution = tree.Section("execution", "Execution", [
        P([T("This Agreement has been executed as a deed and delivered on the date stated at the beginning of it.")]),
        tree.SignatureBlock("London Borough of Example", "common_seal", [("Authorised Signatory", "")]),
        tree.SignatureBlock("NHS Example Integrated Care Board", "signatories",
                            [("Chief Executive", "Jane Smith"), ("Chief Finance Officer", "")]),
        tree.SignatureBlock("Better Care Fund Board", "sign_off",
                            [("Director of Adult Social Services", ""), ("ICB Place Director", "A. Person")],
                            intro="Schedule 2 signed off by:"),
    ])
    return tree.Document(
        title="Better Care Fund Partnership Agreement" + title_extra,
        subtitle="relating to the Better Care Fund",
        version="0.3",
        status=status,
        date="1 April 2024",
        parties=[
            tree.PartyLine("London Borough of Example" + (" {% if x %}" if hostile else ""),
                           "Town Hall, High Street, Example EX1 1AA", "Council"),
            tree.PartyLine("NHS Example Integrated Care Board", "1 Health Way, Example EX2 2BB", "ICB"),
        ],
        sections=[recitals, body, schedule1, schedule2, execution],
        subject="Section 75 agreement",
        keywords="s75, BCF",
    )


# --- helpers ------------------------------------------------------------------


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> pathlib.Path:
    path = tmp_path_factory.mktemp("docx") / "agreement.docx"
    writer.write_docx(synthetic(), path)
    return path


def body_of(path: pathlib.Path):
    return docx.Document(str(path))


def xml_part(path: pathlib.Path, name: str) -> etree._Element:
    with zipfile.ZipFile(path) as z:
        return etree.fromstring(z.read(name))


def w(tag: str) -> str:
    return qn(f"w:{tag}")


def style_num(document, style_name: str) -> tuple[int, int]:
    numpr = document.styles[style_name].element.find(f"{w('pPr')}/{w('numPr')}")
    return int(numpr.find(w("numId")).get(w("val"))), int(numpr.find(w("ilvl")).get(w("val")))


def fields(root: etree._Element) -> list[tuple[str, str]]:
    """(instruction, cached result) of every complex field, outermost first."""
    out, stack = [], []
    for node in root.iter(w("fldChar"), w("instrText"), w("t")):
        if node.tag == w("fldChar"):
            kind = node.get(w("fldCharType"))
            if kind == "begin":
                stack.append({"instr": "", "result": "", "sep": False})
            elif kind == "separate":
                stack[-1]["sep"] = True
            elif kind == "end":
                f = stack.pop()
                out.append((f["instr"].strip(), f["result"]))
        elif node.tag == w("instrText") and stack:
            stack[-1]["instr"] += node.text or ""
        elif node.tag == w("t") and stack and stack[-1]["sep"]:
            for f in stack:
                if f["sep"]:
                    f["result"] += node.text or ""
    return out


def all_text(root: etree._Element) -> str:
    return "".join(t.text or "" for t in root.iter(w("t")))


# --- structure -----------------------------------------------------------------


def test_clause_levels_use_one_word_list(built):
    document = body_of(built)
    numbering = xml_part(built, "word/numbering.xml")
    ids = {style_num(document, f"Level {n}") for n in range(1, 6)}
    assert {ilvl for _, ilvl in ids} == {0, 1, 2, 3, 4}
    (num_id,) = {num for num, _ in ids}
    abstract = numbering.xpath(f'w:num[@w:numId="{num_id}"]/w:abstractNumId/@w:val', namespaces=NS)[0]
    texts = numbering.xpath(f'w:abstractNum[@w:abstractNumId="{abstract}"]/w:lvl/w:lvlText/@w:val', namespaces=NS)
    formats = numbering.xpath(f'w:abstractNum[@w:abstractNumId="{abstract}"]/w:lvl/w:numFmt/@w:val', namespaces=NS)
    assert texts == ["%1.", "%1.%2", "%1.%2.%3", "(%4)", "(%5)"]
    assert formats == ["decimal", "decimal", "decimal", "lowerLetter", "lowerRoman"]
    used = [p.style.name for p in document.paragraphs if p.style.name.startswith("Level ")]
    assert {f"Level {n}" for n in range(1, 6)} <= set(used)
    # numbered body paragraphs take their number from the style, not typed text
    for p in document.paragraphs:
        if p.style.name.startswith("Level "):
            assert p._p.find(f"{w('pPr')}/{w('numPr')}") is None
            assert not re.match(r"\s*\d+\.", p.text)


NS = {"w": ooxml.W_NS}


def test_each_schedule_restarts_its_own_list(built):
    document = body_of(built)
    numbering = xml_part(built, "word/numbering.xml")
    per_schedule: list[set[str]] = []
    for p in document.paragraphs:
        if p.style.name == "Schedule Heading":
            per_schedule.append(set())
        elif p.style.name.startswith("Schedule Level"):
            per_schedule[-1].add(p._p.xpath("./w:pPr/w:numPr/w:numId/@w:val")[0])
    assert len(per_schedule) == 2
    assert all(len(ids) == 1 for ids in per_schedule)
    first, second = (next(iter(ids)) for ids in per_schedule)
    assert first != second
    clause_num = style_num(document, "Level 1")[0]
    for num_id in (first, second):
        assert int(num_id) != clause_num
        starts = numbering.xpath(
            f'w:num[@w:numId="{num_id}"]/w:lvlOverride[@w:ilvl="0"]/w:startOverride/@w:val', namespaces=NS)
        assert starts == ["1"]
    abstracts = {numbering.xpath(f'w:num[@w:numId="{n}"]/w:abstractNumId/@w:val', namespaces=NS)[0]
                 for n in (first, second)}
    assert len(abstracts) == 1  # one shape, restarted per schedule


def test_keyed_paragraphs_carry_unique_bookmarks(built):
    root = xml_part(built, "word/document.xml")
    names = root.xpath("//w:bookmarkStart/@w:name", namespaces=NS)
    ids = root.xpath("//w:bookmarkStart/@w:id", namespaces=NS)
    assert len(names) == len({n.lower() for n in names}) and len(ids) == len(set(ids))
    assert all(len(n) <= 40 and re.fullmatch(r"_[A-Za-z0-9_]+", n) for n in names)
    ref_names = [n for n in names if n.startswith("_Ref_")]
    for key in ("defs", "defs.intro", "term.a", "term.a.i", "pay.timing", "sched.contrib.1", "sched.aims.a"):
        assert "_Ref_" + key.replace(".", "_") in ref_names
    # every bookmark sits inside the paragraph it names
    for start in root.iter(w("bookmarkStart")):
        p = start.getparent()
        assert p.tag == w("p")
        assert p.xpath(f'./w:bookmarkEnd[@w:id="{start.get(w("id"))}"]', namespaces=NS)


def test_ref_fields_target_bookmarks_and_show_engine_numbers(built):
    root = xml_part(built, "word/document.xml")
    names = set(root.xpath("//w:bookmarkStart/@w:name", namespaces=NS))
    refs = {instr.split()[1]: result for instr, result in fields(root) if instr.startswith("REF ")}
    assert refs == {"_Ref_pay_timing": "7.2", "_Ref_term_a": "2.1.1(a)", "_Ref_sched_contrib_1": "1.1",
                    "_Ref_term_a_i": "2.1.1(a)(i)", "_Ref_pay": "7"}
    assert set(refs) <= names
    for instr, _ in fields(root):
        if instr.startswith("REF "):
            assert instr.endswith("\\w \\h")
    text = all_text(root)
    assert "Subject to clause 7.2 and clause 2.1.1(a) (see also 2.1.1(a)(i) and clause 7), the Council" in text
    assert "paragraph 1.1 of Schedule 2." in text


def test_toc_settings_and_fields(built):
    root = xml_part(built, "word/document.xml")
    settings = xml_part(built, "word/settings.xml")
    assert settings.xpath("w:updateFields/@w:val", namespaces=NS) == ["true"]
    toc = [f for f in fields(root) if f[0].startswith("TOC ")]
    assert len(toc) == 1 and "\\o" in toc[0][0] and "\\h" in toc[0][0]
    result = toc[0][1]
    assert "1.Definitions and interpretation" in result and "7.Payments" in result
    assert "SCHEDULE 1Aims and outcomes" in result and "SCHEDULE 2Financial contributions" in result
    assert "good faith" not in result
    faith = next(p for p in root.iter(w("p")) if "good faith" in all_text(p))
    assert faith.xpath("./w:pPr/w:outlineLvl/@w:val", namespaces=NS) == ["9"]
    anchors = root.xpath("//w:hyperlink/@w:anchor", namespaces=NS)
    assert len(anchors) == 9
    assert set(anchors) <= set(root.xpath("//w:bookmarkStart/@w:name", namespaces=NS))
    assert not [f for f in fields(root) if f[0].startswith("PAGEREF")]  # pages unknown until layout


def test_header_shows_title_and_draft_only_while_draft(tmp_path):
    for status, draft in (("draft", True), ("final", False)):
        path = tmp_path / f"{status}.docx"
        writer.write_docx(synthetic(status), path)
        section = docx.Document(str(path)).sections[0]
        header = section.header.paragraphs[0].text
        assert header.startswith("Better Care Fund Partnership Agreement {{ 7*7 }} & <w:p>")
        assert "Version 0.3" in header
        assert ("DRAFT" in header) is draft
        assert ("DRAFT" in section.first_page_header.paragraphs[0].text) is draft
        footer = section.footer._element
        instrs = [f[0] for f in fields(footer)]
        assert instrs == ["PAGE", "NUMPAGES"]
        assert section.footer.paragraphs[0].text.startswith("Page ")


def test_front_sheet_and_hostile_text_are_literal(built):
    document = body_of(built)
    root = document.element.body
    text = all_text(root)
    for item in HOSTILE:
        assert item in text
    assert "49" not in text
    assert "Better Care Fund Partnership Agreement {{ 7*7 }} & <w:p>" in text
    assert "London Borough of Example {% if x %}" in text
    paras = [p.text for p in document.paragraphs]
    assert paras[0] == "Dated\t1 April 2024"
    assert paras[1].startswith("(1)\tLondon Borough of Example {% if x %} of Town Hall")
    assert paras[1].endswith("(\u201cCouncil\u201d);")
    assert paras[2] == "(2)\tNHS Example Integrated Care Board of 1 Health Way, Example EX2 2BB (\u201cICB\u201d)"
    assert "made under section 75 of the National Health Service Act 2006" in paras
    assert "Version 0.3 \u2013 DRAFT" in paras
    assert "[\u25cf: date of first review]" in text
    assert "as [\u25cf: reference to missing.key]" in text
    assert "Notices. Notices are given in writing." in text


def test_tables_and_execution_blocks(built):
    document = body_of(built)
    contributions = next(t for t in document.tables if t.rows[0].cells[0].text == "Partner")
    header = contributions.rows[0]
    assert header._tr.xpath("./w:trPr/w:tblHeader")
    assert all(r.bold for c in header.cells for r in c.paragraphs[0].runs)
    total = contributions.rows[3]
    assert total.cells[0].text == "Total" and all(r.bold for r in total.cells[1].paragraphs[0].runs)
    assert contributions.rows[1].cells[1].paragraphs[0].alignment == 2  # right
    assert contributions.rows[1].cells[0].paragraphs[0].alignment is None
    text = "\n".join(p.text for p in document.paragraphs)
    # The words of execution are clause paragraphs; a signature block prints only its labelled lines.
    assert "Signed by" not in text and "common seal" not in text
    lines = [[c.text for c in row.cells] for t in document.tables for row in t.rows if len(row.cells) == 2]
    assert ["Name", "Jane Smith"] in lines and ["Position", "Chief Finance Officer"] in lines
    start = [label for label, _ in lines].index("Signature")
    assert [label for label, _ in lines[start:start + 4]] == ["Signature", "Name", "Position", "Date"]
    sign_off = next(t for t in document.tables if t.rows[0].cells[0].text == "Role")
    assert [c.text for c in sign_off.rows[0].cells] == ["Role", "Name", "Signature", "Date"]
    assert sign_off.rows[2].cells[1].text == "A. Person"


def test_core_properties_come_from_the_agreement(built):
    props = body_of(built).core_properties
    assert props.author == "s75 assembler"
    assert props.version == "0.3"
    assert props.title.startswith("Better Care Fund")
    assert props.created.year == 2024 and props.created.month == 4
    assert props.modified == props.created


def test_no_rsids_and_fixed_zip_metadata(built):
    with zipfile.ZipFile(built) as z:
        assert z.namelist()[0] == "[Content_Types].xml"
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        for name in z.namelist():
            if name.endswith(".xml"):
                assert b"w:rsid" not in z.read(name)


def test_text_that_looks_like_an_rsid_is_kept_as_written():
    """Only the template's parts are cleared of rsids: the agreement's own text is never edited."""
    document = synthetic()
    words = 'Quote w:rsidR="00A1B2C3" as it is.'
    document.sections[1].blocks.append(P([T(words)], level=0))
    assert words in _document_text(writer.render_docx_bytes(document))


# --- reproducible and atomic --------------------------------------------------


def test_two_builds_are_byte_identical(tmp_path):
    a, b = tmp_path / "a.docx", tmp_path / "b.docx"
    writer.write_docx(synthetic(), a)
    writer.write_docx(synthetic(), b)
    assert a.read_bytes() == b.read_bytes()
    assert writer.render_docx_bytes(synthetic("final")) == writer.render_docx_bytes(synthetic("final"))


def _replace_in_part(docx_bytes: bytes, name: str, old: bytes, new: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(docx_bytes)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            dst.writestr(info, data.replace(old, new) if info.filename == name else data)
    return out.getvalue()


def _document_text(docx_bytes: bytes, name: str = "word/document.xml") -> str:
    with zipfile.ZipFile(io.BytesIO(docx_bytes)) as z:
        return all_text(etree.fromstring(z.read(name)))


def test_another_reference_is_read_afresh(monkeypatch):
    """What is kept of the reference between builds is kept by its bytes: another reference (a new
    contents heading, a new header) is read afresh, and the first is still used as it was."""
    reference = writer._reference_bytes()
    first = writer.render_docx_bytes(synthetic())
    changed = _replace_in_part(reference, "word/document.xml", b">Contents<", b">Table of contents<")
    changed = _replace_in_part(changed, "word/header1.xml", b"{{ title }}", b"Headed {{ title }}")
    assert changed != reference
    monkeypatch.setattr(writer, "_reference_bytes", lambda: changed)
    second = writer.render_docx_bytes(synthetic())
    assert "Table of contents" in _document_text(second) and "Table of contents" not in _document_text(first)
    assert "Headed Better Care Fund" in _document_text(second, "word/header1.xml")
    monkeypatch.setattr(writer, "_reference_bytes", lambda: reference)
    assert writer.render_docx_bytes(synthetic()) == first


def _odd_text_document() -> tree.Document:
    """The synthetic agreement plus text lxml escapes or writes in its own way: breaks, a carriage
    return, markup characters, empty runs, empty cells, and contents entries holding them (a heading
    with markup, a schedule title of two lines)."""
    document = synthetic()
    document.sections[1].blocks.append(P([T("Text.")], level=1, heading=" Odd & <heading> \r\x01 ", number="10"))
    document.sections.insert(-1, tree.Section("schedule", "Odd & <title>\nsecond line", [], key="odd", number="3"))
    document.sections[1].blocks.append(P([T("tab\there, line\nbreak, return\rhere, & < > \" ' ]]> &amp;"),
                                          T("", bold=True), T("")], level=0))
    document.sections[1].blocks.append(P([T("")], level=1, heading="", number="9"))
    for alone in ("Smith & Sons", "a < b", "b > a", "bell\x07", "\x01", " spaced ", "\rreturn"):  # one at a time
        document.sections[1].blocks.append(P([T(alone)], level=0))
    document.sections[2].blocks.append(tree.Table(["", "Empty"], [["", ""], ["\t", "\r\n"]]))
    return document


@pytest.mark.parametrize("name", ["odd text", *(p.name for p in EXAMPLES)])
def test_document_xml_is_well_formed_and_exactly_what_lxml_writes(name):
    """The body goes into document.xml as the text the writer made, never parsed and written out again:
    so that text must parse, and parsing and writing it must give back the same bytes."""
    if name == "odd text":
        document = _odd_text_document()
    else:
        document = assemble_source(DirectorySource(str(next(p for p in EXAMPLES if p.name == name)))).document
    with zipfile.ZipFile(io.BytesIO(writer.render_docx_bytes(document))) as z:
        xml = z.read("word/document.xml")
    assert etree.tostring(etree.fromstring(xml), encoding="UTF-8", standalone=True) == xml


def test_zipping_parts_directly_matches_python_docx_save(monkeypatch):
    """The fast path (parts zipped once) and the fallback (save, then re-zip) give the same bytes."""
    fast = writer.render_docx_bytes(synthetic())
    monkeypatch.setattr(ooxml, "PackageWriter", object())  # as if python-docx lacked the internals
    assert writer.render_docx_bytes(synthetic()) == fast


def test_reference_template_is_up_to_date_and_deterministic():
    built_now = make_reference.build()
    assert built_now == make_reference.build()
    assert built_now == writer.reference_template().read_bytes(), (
        "reference.docx is stale: run python -m assembler.templates.make_reference")


def test_failed_build_leaves_previous_file_untouched(tmp_path):
    path = tmp_path / "agreement.docx"
    writer.write_docx(synthetic(), path)
    before = path.read_bytes()
    broken = synthetic()
    broken.sections.append(tree.Section("appendix-of-doom", "Bad", []))
    with pytest.raises(BuildError) as info:
        writer.write_docx(broken, path)
    assert info.value.diagnostics[0].code == "S75-DOCX"
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["agreement.docx"]


def test_failed_rename_removes_temporary_file(tmp_path):
    target = tmp_path / "agreement.docx"
    target.mkdir()
    (target / "keep.txt").write_text("x")
    with pytest.raises(BuildError) as info:
        writer.write_docx(synthetic(), target)
    d = info.value.diagnostics[0]
    assert d.code == "S75-WRITE" and d.location.file == str(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["agreement.docx"]


@pytest.mark.parametrize("make_parent", ["missing", "file"])
def test_unwritable_directory_is_a_build_error(tmp_path, make_parent):
    parent = tmp_path / "out"
    if make_parent == "file":
        parent.write_text("not a folder")
    path = parent / "agreement.docx"
    with pytest.raises(BuildError) as info:
        writer.write_docx(synthetic(), path)
    d = info.value.diagnostics[0]
    assert d.location.file == str(path)
    assert d.code == "S75-WRITE" and d.hint
    assert "Traceback" not in d.format()


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root can write anywhere")
def test_read_only_directory_is_a_build_error(tmp_path):
    path = tmp_path / "agreement.docx"
    writer.write_docx(synthetic(), path)
    before = path.read_bytes()
    tmp_path.chmod(0o555)
    try:
        with pytest.raises(BuildError) as info:
            writer.write_docx(synthetic("final"), path)
    finally:
        tmp_path.chmod(0o755)
    assert "cannot write in" in info.value.diagnostics[0].hint
    assert path.read_bytes() == before


def test_bad_tree_values_are_build_errors():
    for bad in (
        tree.Document("T", "", "1", "draft", "", [], [tree.Section("body", "", [P([T("x")], level=6)])]),
        tree.Document("T", "", "1", "draft", "", [], [tree.Section("body", "", [P([T("x")], style="Fancy")])]),
        tree.Document("T", "", "1", "draft", "", [], [tree.Section("execution", "", [
            tree.SignatureBlock("X", "thumbprint", [])])]),
        tree.Document("T", "", "1", "draft", "", [], [tree.Section("schedule", "", [
            tree.Table(["a", "b"], [["1"]])], number="1")]),
    ):
        with pytest.raises(BuildError):
            writer.render_docx_bytes(bad)


def test_bookmark_names_are_short_unique_and_stable():
    marks = ooxml.Bookmarks()
    long_a = "schedule.pooled_fund." + "a" * 60
    long_b = "schedule.pooled_fund." + "a" * 59 + "b"
    names = [marks.name_for(k) for k in ("a.b", "a_b", "A-B", long_a, long_b, "été")]
    assert len({n.lower() for n in names}) == len(names)
    assert all(len(n) <= 40 and re.fullmatch(r"_Ref_[A-Za-z0-9_]+", n) for n in names)
    assert marks.name_for(long_a) == names[3]
    again = ooxml.Bookmarks()
    assert [again.name_for(k) for k in ("a.b", "a_b", "A-B", long_a, long_b, "été")] == names


def test_minimal_document_builds():
    document = tree.Document("Short", "", "1.0", "final", "", [], [])
    data = writer.render_docx_bytes(document)
    parsed = docx.Document(io.BytesIO(data))
    assert parsed.core_properties.created.year == 2000
    assert "DRAFT" not in parsed.sections[0].header.paragraphs[0].text


# --- LibreOffice -------------------------------------------------------------


def pdf_tools_or_skip() -> None:
    missing = [tool for tool in ("pdftotext",) if shutil.which(tool) is None]
    if pdf.find_soffice() is None:
        missing.append("soffice")
    if pdf.find_uno_python() is None:
        missing.append("python3-uno")
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI must have {', '.join(missing)} installed")
        pytest.skip(f"{', '.join(missing)} not installed")


def test_libreoffice_renders_word_numbers_like_the_engine(tmp_path):
    pdf_tools_or_skip()
    path, final = tmp_path / "agreement.docx", tmp_path / "final.docx"
    writer.write_docx(synthetic(hostile=False), path)
    writer.write_docx(synthetic("final", hostile=False), final)
    out, out_final = pdf.convert_to_pdf([path, final], tmp_path / "pdf")  # one LibreOffice run
    assert out_final == tmp_path / "pdf" / "final.pdf" and out_final.stat().st_size > 0
    text = subprocess.run(["pdftotext", "-layout", str(out), "-"], capture_output=True, text=True,
                          check=True).stdout
    lines = [re.sub(r"\s+", " ", line).strip() for line in text.splitlines()]
    for expected in ("1. Definitions and interpretation", "1.1 In this Agreement:", "2.1.1 the earliest of:",
                     "(a) the date the Partners agree in writing;", "(i) the first event;",
                     "(ii) the second event; and", "7.2 Each payment is due within 30 days of invoice.",
                     "(A) The Council and the ICB", "(B) The Partners have agreed",
                     "8. The Partners shall act in good faith", "8.1 Notices. Notices are given"):
        assert any(line.startswith(expected) for line in lines), expected
    joined = " ".join(line for line in lines if line)
    # LibreOffice computes REF fields from Word's list numbers: they must equal the engine's
    assert "Subject to clause 7.2 and clause 2.1.1(a) (see also 2.1.1(a)(i) and clause 7), the Council" in joined
    assert "paragraph 1.1 of Schedule 2" in joined
    # each schedule restarts at 1
    schedule2 = joined[joined.index("SCHEDULE 2 FINANCIAL CONTRIBUTIONS 1. Contributions"):]
    assert "1.1 The contributions for the first year" in schedule2
    assert "1.2 Contributions are paid" in schedule2
    schedule1 = joined[joined.index("SCHEDULE 1 AIMS AND OUTCOMES (Clause 4) 1. Aims"):]
    assert "1. Aims" in schedule1 and "(a) share data;" in schedule1
    for bad in ("{{", "{%", "Error!", "Reference source not found"):
        assert bad not in text


def test_missing_libreoffice_says_how_to_install_it(tmp_path, monkeypatch):
    docx_path = tmp_path / "a.docx"
    docx_path.write_bytes(writer.render_docx_bytes(synthetic()))
    monkeypatch.setenv("PATH", str(tmp_path))  # an environment without soffice, not a mock
    if pdf.find_soffice() is not None:
        pytest.skip("LibreOffice found outside PATH")
    with pytest.raises(BuildError) as info:
        pdf.convert_to_pdf([docx_path], tmp_path / "pdf")
    assert "apt-get install libreoffice-writer-nogui" in info.value.diagnostics[0].hint
    assert "brew install --cask libreoffice" in info.value.diagnostics[0].hint


def test_pdf_inputs_are_checked_before_libreoffice_starts(tmp_path):
    (tmp_path / "x").mkdir()
    a, b = tmp_path / "a.docx", tmp_path / "x" / "a.docx"
    a.write_bytes(b"")
    b.write_bytes(b"")
    with pytest.raises(BuildError) as info:
        pdf.convert_to_pdf([a, b, tmp_path / "missing.docx"], tmp_path / "pdf")
    messages = " ".join(d.message for d in info.value.diagnostics)
    assert "missing.docx does not exist" in messages and "would both become a.pdf" in messages
