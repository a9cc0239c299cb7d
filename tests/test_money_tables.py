"""Money tables a reader can scan: a dash for nil, totals per partner and year, a wide scheme-line column.

The tables are built from the small base agreement (tests/cases/base) with a
second financial year added, so every figure below is known; the Word test
reads the column widths Word will use from the document XML.
"""

from __future__ import annotations

import shutil
import zipfile

import pytest
from lxml import etree

from assembler.build.gate import placeholders
from assembler.build.output import build
from assembler.build.pipeline import assemble_source
from assembler.engine import tree
from assembler.source.folder import DirectorySource
from conftest import BASE, edit

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
LONG_NAME = "Community equipment, minor adaptations and telecare for people leaving hospital"  # 79 characters


@pytest.fixture(scope="module")
def agreement(tmp_path_factory):
    """The base agreement: two years, a long line name, a line only the Council pays and a nil written as 0."""
    root = tmp_path_factory.mktemp("money") / "agreement"
    shutil.copytree(BASE, root)
    pool = root / "schedules" / "pool.yaml"
    edit(pool, "  - name: Community equipment\n", f"  - name: {LONG_NAME}\n")
    edit(pool, "        ccg: 900000\n        council: 400000\n",
         "        ccg: 900000\n        council: 400000\n      2018-19:\n        ccg: 950000\n        council: 0\n")
    edit(pool, "      2017-18:\n        council: 200000\n",
         "      2017-18:\n        council: 200000\n      2018-19:\n        council: 210000\n")
    return root


def _tables(agreement) -> list[tree.Table]:
    document = assemble_source(DirectorySource(str(agreement))).document
    section = next(s for s in document.sections if s.key == "pool")
    return [b for b in section.blocks if isinstance(b, tree.Table) and "Scheme line" in b.columns
            or isinstance(b, tree.Table) and b.columns and b.columns[0] == "Financial year"]


def _by_caption(tables, caption):
    return next(t for t in tables if t.caption == caption)


def test_a_nil_cell_is_an_en_dash_not_zero_or_blank(agreement):
    tables = _tables(agreement)
    first = _by_caption(tables, "Contributions for the financial year 2017-18")
    assert first.columns == ["Scheme line", "Type", "Council", "CCG", "Total"]
    rows = {r[0]: r[1:] for r in first.rows}
    assert rows["Minor adaptations"] == ["Capital", "£200,000", "\u2013", "£200,000"]  # the CCG pays nothing
    second = _by_caption(tables, "Contributions for the financial year 2018-19")
    rows = {r[0]: r[1:] for r in second.rows}
    assert rows[LONG_NAME] == ["Revenue", "\u2013", "£950,000", "£950,000"]  # council: 0 written out
    assert not any(cell in ("£0", "", "0") for t in tables for row in t.rows for cell in row[2:])


def test_totals_per_partner_for_each_year_and_the_whole_term(agreement):
    totals = next(t for t in _tables(agreement) if t.columns[0] == "Financial year")
    assert totals.columns == ["Financial year", "Council", "CCG", "Total"]
    assert totals.rows == [
        ["2017-18", "£600,000", "£900,000", "£1,500,000"],
        ["2018-19", "£210,000", "£950,000", "£1,160,000"],
        ["2017-18 to 2018-19", "£810,000", "£1,850,000", "£2,660,000"],
    ]
    assert totals.total_rows == {2}
    year = _by_caption(_tables(agreement), "Contributions for the financial year 2018-19")
    assert year.rows[-1] == ["Total", "", "£210,000", "£950,000", "£1,160,000"]


def test_one_year_has_no_whole_term_row(tmp_path):
    root = tmp_path / "agreement"
    shutil.copytree(BASE, root)
    totals = next(t for t in _tables(root) if t.columns[0] == "Financial year")
    assert [r[0] for r in totals.rows] == ["2017-18"]


def _grid_after(body, caption: str) -> tuple[list[int], etree._Element]:
    paragraphs = [p for p in body.iter(f"{W}p") if "".join(p.itertext()) == caption]
    assert paragraphs, caption
    table = paragraphs[0].getnext()
    assert table.tag == f"{W}tbl"
    widths = [int(c.get(f"{W}w")) for c in table.find(f"{W}tblGrid")]
    return widths, table


def test_word_gives_the_scheme_line_the_width_the_figures_leave(agreement, tmp_path):
    out = tmp_path / "money.docx"
    build(str(agreement), out)
    with zipfile.ZipFile(out) as z:
        body = etree.fromstring(z.read("word/document.xml"))
    widths, table = _grid_after(body, "Contributions for the financial year 2018-19")
    name, kind, *money = widths
    block = sum(widths)
    assert len(money) == 3
    # Each money column holds "£99,999,999" in bold 10 pt (at least 0.6 em a figure) on one line.
    assert all(w >= 11 * 120 for w in money), widths
    # The scheme line gets what is left: at least a third of the width, more than any other column,
    # so the long line name above wraps over at most four lines: 10 pt text averages under 110 twips a
    # character (DejaVu Sans, LibreOffice's stand-in for Arial), less the cell's two 85-twip margins.
    # (Built to PDF and looked at: the name takes four lines; with equal columns it took six.)
    assert name >= block / 3 and name > max(kind, *money), widths
    assert len(LONG_NAME) / 4 <= (name - 170) / 110, widths
    assert table.find(f"{W}tblPr/{W}tblLayout").get(f"{W}type") == "fixed"  # Word keeps these widths
    cells = [int(tc.find(f"{W}tcPr/{W}tcW").get(f"{W}w")) for tc in table.find(f"{W}tr").findall(f"{W}tc")]
    assert cells == widths
    # A table without fitted columns (the notices table) still shares the width equally.
    notices = [t for t in body.iter(f"{W}tbl") if "For the attention of" in "".join(t.itertext())]
    assert notices
    grid = [int(c.get(f"{W}w")) for c in notices[0].find(f"{W}tblGrid")]
    assert len(set(grid)) == 1


def test_an_amount_to_complete_is_the_documents_blank_and_so_is_every_total_it_feeds(tmp_path):
    """Reviews r4/r5: tables said "TBC" where the text says "[●: ...]". A total that depends on a blank is a blank,
    never a sum of the figures that happen to be known; totals that do not depend on it stay figures."""
    root = tmp_path / "agreement"
    shutil.copytree(BASE, root)
    edit(root / "schedules" / "pool.yaml", "        ccg: 900000\n", "        ccg: tbc\n")
    year = _by_caption(_tables(root), "Contributions for the financial year 2017-18")
    rows = {r[0]: r[1:] for r in year.rows}
    assert rows["Community equipment"] == ["Revenue", "£400,000", "[\u25cf]", "[\u25cf]"]
    assert rows["Minor adaptations"] == ["Capital", "£200,000", "\u2013", "£200,000"]
    assert rows["Total revenue"] == ["", "£400,000", "[\u25cf]", "[\u25cf]"]
    assert rows["Total capital"] == ["", "£200,000", "\u2013", "£200,000"]
    assert rows["Total"] == ["", "£600,000", "[\u25cf]", "[\u25cf]"]
    totals = next(t for t in _tables(root) if t.columns[0] == "Financial year")
    assert totals.rows == [["2017-18", "£600,000", "[\u25cf]", "[\u25cf]"]]
    assert "TBC" not in str([t.rows for t in _tables(root)])
    # so a final build's placeholder check finds the table's blank as it finds the text's
    assert "'[\u25cf]'" in placeholders(assemble_source(DirectorySource(str(root))).document)
    out = tmp_path / "money.docx"
    build(str(root), out)
    with zipfile.ZipFile(out) as z:
        body = etree.fromstring(z.read("word/document.xml"))
    table = next(t for t in body.iter(f"{W}tbl") if "Community equipment" in "".join(t.itertext()))
    blanks = [r for r in table.iter(f"{W}r") if "".join(r.itertext()) == "[\u25cf]"]
    assert len(blanks) == 6 and all(r.find(f"{W}rPr/{W}highlight") is not None for r in blanks)  # marked like text blanks
    figures = [r for r in table.iter(f"{W}r") if "".join(r.itertext()) == "£400,000"]
    assert figures and all(r.find(f"{W}rPr/{W}highlight") is None for r in figures)
