"""Generate ``reference.docx``: the Word template every agreement is built on.

Run ``python -m assembler.templates.make_reference`` after changing a style.
The output is byte-for-byte the same on every run, so the committed file
only changes when a decision below changes. The template holds:

* the styles the writer uses, clause and schedule levels linked to
  Word-native multi-level lists (so Word's numbers are live, not typed);
* the front sheet, header and footer as docxtpl (Jinja) placeholders that
  reference only context variables passed by the writer;
* a contents page (a TOC field whose cached entries the writer fills in);
* settings asking Word to update fields when the file is opened.
"""

from __future__ import annotations

import datetime as dt
import io
import pathlib
import sys

if __package__ in (None, ""):  # run as a plain script: make "assembler" importable
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))

from docx import Document
from docx.enum.section import WD_SECTION_START
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor, Twips

from assembler.word import ooxml

OUTPUT = pathlib.Path(__file__).with_name("reference.docx")

# --- house style ----------------------------------------------------------

FONT = "Arial"
SIZE_PT = 11
LANG = "en-GB"
MARGIN = Cm(2.5)
TEXT_WIDTH = 9072  # twips: A4 width 11906 less two 2.5 cm margins
NUMBER_GAP = 720  # twips between a clause number and its text (1.27 cm)

# Abstract list ids; the writer finds them by the w:name given here.
CLAUSE_LIST, SCHEDULE_LIST, RECITAL_LIST = 1, 2, 3
# Where each level's text starts and how far its number hangs. Each number
# sits under the text of the level above, as in most English precedents.
INDENTS = [(720, 720), (720, 720), (1584, 864), (2160, 576), (2880, 720)]
LEVEL_FORMATS = [
    ("decimal", "%1."),
    ("decimal", "%1.%2"),
    ("decimal", "%1.%2.%3"),
    ("lowerLetter", "(%4)"),
    ("lowerRoman", "(%5)"),
]
CLAUSE_STYLES = [f"Level {n}" for n in range(1, 6)]
SCHEDULE_STYLES = [f"Schedule Level {n}" for n in range(1, 6)]

# Styles python-docx's default template has that we keep (re-defined below).
KEEP = {
    "Normal", "Default Paragraph Font", "Normal Table", "No List", "Header", "Footer",
    "Title", "Subtitle", "Body Text", "Quote", "TOC Heading", "Table Grid", "Caption",
}
TEMPLATE_DATE = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)


def build() -> bytes:
    """The reference document as bytes (deterministic)."""
    doc = Document()
    _drop_default_clutter(doc)
    _page_setup(doc)
    styles = doc.styles
    ooxml.set_doc_defaults(styles.element, FONT, SIZE_PT * 2, LANG)
    _define_styles(doc)
    _define_lists(doc)
    _front_sheet(doc)
    _header_footer(doc)
    ooxml.set_app_properties(doc.part.package, "s75 assembler")
    settings = doc.settings.element
    ooxml.set_update_fields(settings)
    ooxml.set_compatibility_mode(settings, 15)
    ooxml.set_theme_font_lang(settings, LANG)
    props = doc.core_properties
    props.title = "s75 agreement template"
    props.author = props.last_modified_by = "s75 assembler"
    props.subject = props.keywords = props.comments = props.category = ""
    props.revision = 1
    props.created = props.modified = props.last_printed = TEMPLATE_DATE
    buf = io.BytesIO()
    doc.save(buf)
    return ooxml.normalise_package(buf.getvalue())


def _drop_default_clutter(doc) -> None:
    """Remove python-docx's preview image, Word 2010 style copy and unused styles."""
    package_rels = doc.part.package.rels
    for rid, rel in list(package_rels.items()):
        if rel.reltype.endswith("/thumbnail"):
            del package_rels[rid]
    for rid, rel in list(doc.part.rels.items()):
        if rel.reltype.endswith("/stylesWithEffects"):
            del doc.part.rels[rid]
    for style in list(doc.styles):
        if style.name not in KEEP:
            doc.styles.element.remove(style.element)
    body = doc.element.body
    for p in body.findall(qn("w:p")):
        body.remove(p)
    numbering = doc.part.numbering_part.element
    for node in list(numbering):
        numbering.remove(node)


def _page_setup(doc) -> None:
    section = doc.sections[0]
    section.start_type = WD_SECTION_START.NEW_PAGE
    section.page_width, section.page_height = Cm(21.0), Cm(29.7)
    section.left_margin = section.right_margin = MARGIN
    section.top_margin = section.bottom_margin = MARGIN
    section.header_distance = section.footer_distance = Cm(1.25)
    section.gutter = 0
    section.different_first_page_header_footer = True


# --- styles ---------------------------------------------------------------


def _style(doc, name: str, kind=WD_STYLE_TYPE.PARAGRAPH, base: str | None = "Normal", **fmt):
    """Create or reset style ``name`` and apply ``fmt`` (see ``_format``)."""
    try:
        style = doc.styles[name]
        keep = {qn("w:name"), qn("w:qFormat")}
        for node in list(style.element):
            if node.tag not in keep:
                style.element.remove(node)
    except KeyError:
        style = doc.styles.add_style(name, kind, builtin=name.lower().startswith("toc "))
    if kind != WD_STYLE_TYPE.TABLE and base and name != base:
        style.base_style = doc.styles[base]
    style.quick_style = True
    _format(style, **fmt)
    return style


def _format(style, *, size=None, bold=None, italic=None, caps=None, color=None, align=None,
            before=None, after=None, left=None, right=None, hanging=None, keep_next=None,
            keep_lines=None, page_break=None, line=None, widow=True):
    font = style.font
    if size is not None:
        font.size = Pt(size)
    if bold is not None:
        font.bold = bold
    if italic is not None:
        font.italic = italic
    if caps is not None:
        font.all_caps = caps
    if color is not None:
        font.color.rgb = RGBColor.from_string(color)
    if style.type != WD_STYLE_TYPE.PARAGRAPH:
        return
    pf = style.paragraph_format
    if align is not None:
        pf.alignment = align
    if before is not None:
        pf.space_before = Pt(before)
    if after is not None:
        pf.space_after = Pt(after)
    if line is not None:
        pf.line_spacing = line
    if left is not None:
        pf.left_indent = Twips(left)
    if right is not None:
        pf.right_indent = Twips(right)
    if hanging is not None:
        pf.first_line_indent = Twips(-hanging)
    if keep_next is not None:
        pf.keep_with_next = keep_next
    if keep_lines is not None:
        pf.keep_together = keep_lines
    if page_break is not None:
        pf.page_break_before = page_break
    pf.widow_control = widow


def _define_styles(doc) -> None:
    """Every paragraph, character and table style the writer names."""
    s = _style
    s(doc, "Normal", base=None, after=8, line=1.1)
    s(doc, "Body Text", after=8)
    s(doc, "Body Text Indent", left=NUMBER_GAP, after=8)
    s(doc, "Title", size=16, bold=True, caps=True, align=WD_ALIGN_PARAGRAPH.CENTER,
      before=24, after=12, keep_next=True)
    s(doc, "Subtitle", size=12, align=WD_ALIGN_PARAGRAPH.CENTER, after=6, keep_next=True)
    s(doc, "Front Dated", before=0, after=96)
    s(doc, "Front Party", left=NUMBER_GAP, hanging=NUMBER_GAP, after=12)
    s(doc, "Front Statute", size=12, align=WD_ALIGN_PARAGRAPH.CENTER, after=6)
    s(doc, "Front Version", size=10, align=WD_ALIGN_PARAGRAPH.CENTER, before=72, after=0)
    title = doc.styles["Title"].element
    ooxml.set_paragraph_border(title, "top", size=12, space=24)
    ooxml.set_paragraph_border(doc.styles["Front Statute"].element, "bottom", size=12, space=24)

    s(doc, "TOC Heading", size=12, bold=True, caps=True, page_break=True, after=18, keep_next=True)
    toc1 = s(doc, "toc 1", left=NUMBER_GAP, hanging=NUMBER_GAP, after=6)
    ooxml.set_tabs(toc1.element, [("left", NUMBER_GAP, ""), ("right", TEXT_WIDTH, "dot")])

    s(doc, "Part Heading", bold=True, caps=True, before=12, after=12, keep_next=True)
    s(doc, "Schedule Heading", size=12, bold=True, caps=True, align=WD_ALIGN_PARAGRAPH.CENTER,
      page_break=True, after=6, keep_next=True)
    ooxml.set_outline_level(doc.styles["Schedule Heading"].element, 0)
    s(doc, "Schedule Subtitle", italic=True, align=WD_ALIGN_PARAGRAPH.CENTER, after=12, keep_next=True)
    s(doc, "Execution Heading", size=12, bold=True, caps=True, align=WD_ALIGN_PARAGRAPH.CENTER,
      page_break=True, after=18, keep_next=True)

    for names in (CLAUSE_STYLES, SCHEDULE_STYLES):
        for n, (name, (left, hanging)) in enumerate(zip(names, INDENTS), start=1):
            if n == 1:
                s(doc, name, left=left, hanging=hanging, before=12, after=8, keep_next=True)
            else:
                s(doc, name, left=left, hanging=hanging, after=8)
    ooxml.set_outline_level(doc.styles[CLAUSE_STYLES[0]].element, 0)

    s(doc, "Recital", left=NUMBER_GAP, hanging=NUMBER_GAP, after=8)
    s(doc, "Definition", left=NUMBER_GAP, after=8)
    s(doc, "Quote", left=2 * NUMBER_GAP, right=NUMBER_GAP, after=8)
    s(doc, "Note", italic=True, color="595959", size=10, left=NUMBER_GAP, after=8)

    s(doc, "Table Caption", bold=True, before=6, after=6, keep_next=True)
    s(doc, "Table Text", size=10, before=0, after=0, line=1.0)
    s(doc, "Execution Text", after=6, keep_next=True, keep_lines=True)
    s(doc, "Signature Text", before=6, after=2, keep_next=True)

    s(doc, "Header", size=8, color="404040", after=0)
    ooxml.set_tabs(doc.styles["Header"].element, [("right", TEXT_WIDTH, "")])
    ooxml.set_paragraph_border(doc.styles["Header"].element, "bottom", size=4, space=4)
    s(doc, "Footer", size=8, color="404040", align=WD_ALIGN_PARAGRAPH.CENTER, after=0)

    table = _style(doc, "Agreement Table", WD_STYLE_TYPE.TABLE, base=None)
    ooxml.table_style_properties(table.element, border_size=4, color="808080", cell_margin=85)


def _define_lists(doc) -> None:
    """The three Word-native lists: clauses, schedule paragraphs, recitals.

    Each schedule gets its own ``w:num`` over SCHEDULE_LIST from the writer,
    restarted at 1; the styles point at a default instance created here.
    """
    numbering = doc.part.numbering_part.element
    styles = doc.styles
    for abstract_id, name, style_names in (
        (CLAUSE_LIST, "s75-clauses", CLAUSE_STYLES),
        (SCHEDULE_LIST, "s75-schedule", SCHEDULE_STYLES),
    ):
        levels = [
            ooxml.Level(fmt, text, left, hanging, styles[style].style_id, bold=(i == 0))
            for i, ((fmt, text), (left, hanging), style) in enumerate(
                zip(LEVEL_FORMATS, INDENTS, style_names)
            )
        ]
        ooxml.add_abstract_num(numbering, ooxml.abstract_num(abstract_id, name, levels))
    recital = ooxml.Level("upperLetter", "(%1)", NUMBER_GAP, NUMBER_GAP, styles["Recital"].style_id)
    ooxml.add_abstract_num(numbering, ooxml.abstract_num(RECITAL_LIST, "s75-recitals", [recital]))
    for abstract_id, style_names in (
        (CLAUSE_LIST, CLAUSE_STYLES),
        (SCHEDULE_LIST, SCHEDULE_STYLES),
        (RECITAL_LIST, ["Recital"]),
    ):
        num_id = ooxml.add_num(numbering, abstract_id)
        for ilvl, style in enumerate(style_names):
            ooxml.set_numbering(styles[style].element, num_id, ilvl)


# --- front sheet, contents, header and footer -----------------------------


def _front_sheet(doc) -> None:
    """Jinja placeholders only; every value is a context variable from the writer."""
    p = doc.add_paragraph(style="Front Dated")
    p.add_run("Dated")
    p.add_run("\t")
    p.add_run("{% if date %}{{ date }}{% else %}............................................{% endif %}")

    doc.add_paragraph("{%p for party in parties %}", style="Front Party")
    p = doc.add_paragraph(style="Front Party")
    p.add_run("({{ loop.index }})\t")
    p.add_run("{{ party.name }}").bold = True
    p.add_run("{% if party.address %}")
    p.add_run(" of ")
    p.add_run("{{ party.address }}")
    p.add_run("{% endif %}")
    p.add_run(" (\u201c{{ party.short_name }}\u201d)")
    p.add_run("{% if loop.last %}{% else %};{% endif %}")
    doc.add_paragraph("{%p endfor %}", style="Front Party")

    doc.add_paragraph("{{ title }}", style="Title")
    doc.add_paragraph("{%p if subtitle %}", style="Subtitle")
    doc.add_paragraph("{{ subtitle }}", style="Subtitle")
    doc.add_paragraph("{%p endif %}", style="Subtitle")
    doc.add_paragraph("{{ statute }}", style="Front Statute")
    p = doc.add_paragraph(style="Front Version")
    p.add_run("Version {{ version }}")
    p.add_run(" \u2013 ")
    p.add_run("{{ status_label }}").bold = True

    doc.add_paragraph("Contents", style="TOC Heading")
    p = doc.add_paragraph(style="toc 1")
    ooxml.append_field(p._p, ooxml.TOC_INSTR, "Update fields to build the table of contents.")


def _header_footer(doc) -> None:
    section = doc.sections[0]
    p = section.header.paragraphs[0]
    p.style = doc.styles["Header"]
    p.add_run("{{ title }}")
    p.add_run("\tVersion {{ version }}")
    p.add_run("{% if draft %}")
    p.add_run(" \u2013 ")
    p.add_run("DRAFT").bold = True
    p.add_run("{% endif %}")

    p = section.first_page_header.paragraphs[0]
    p.style = doc.styles["Footer"]
    p.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    p.add_run("{% if draft %}")
    p.add_run("DRAFT").bold = True
    p.add_run(" \u2013 Version {{ version }}")
    p.add_run("{% endif %}")
    section.first_page_footer.paragraphs[0].style = doc.styles["Footer"]

    p = section.footer.paragraphs[0]
    p.style = doc.styles["Footer"]
    p.add_run("Page ")
    ooxml.append_field(p._p, "PAGE", "1")
    p.add_run(" of ")
    ooxml.append_field(p._p, "NUMPAGES", "1")


def main() -> None:
    OUTPUT.write_bytes(build())
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
