"""The assembled agreement as plain text: the canonical form for diffs and reading.

One paragraph per block of lines, each starting with its computed number,
wrapped at a fixed width so the same tree always gives the same text.
"""

from __future__ import annotations

import textwrap

from assembler.engine import tree
from assembler.model import format_date

WIDTH = 78
SIGNING = "...................."  # a line to sign or complete by hand
BLANK_MARK = "\u25cf"  # the black circle that starts every blank: "[●: what goes here]"


def inline_text(parts) -> str:
    out = []
    for part in parts:
        if isinstance(part, tree.Text):
            out.append(part.text)
        elif isinstance(part, tree.TermUse):
            out.append(part.shown)
        elif isinstance(part, tree.Ref):
            out.append(part.number or part.key)
        elif isinstance(part, tree.Blank):
            # the same "[●: what goes here]" the Word document prints, so one blank style reads everywhere
            out.append(SIGNING if part.signing else f"[{BLANK_MARK}: {part.label}]")
    return "".join(out)


def _wrap(text: str, first: str, rest: str) -> str:
    wrapper = textwrap.TextWrapper(width=WIDTH, initial_indent=first, subsequent_indent=rest,
                                   break_long_words=False, break_on_hyphens=False)
    return wrapper.fill(text) if text else first.rstrip()


def _para(block: tree.Para) -> str:
    indent = "    " * max(block.level - 2, 0)
    label = f"{block.number} " if block.number else ""
    text = inline_text(block.parts)
    if block.level == 1:
        return f"{label}{block.heading.upper()}"
    if block.level == 1 or not label:
        return _wrap(text, indent, indent)
    return _wrap(text, indent + label, indent + " " * len(label))


def _table(block: tree.Table) -> str:
    rows = [block.columns] + block.rows
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(block.columns))]
    lines = [block.caption] if block.caption else []
    for n, row in enumerate(rows):
        cells = [str(c).rjust(w) if i in block.numeric_columns else str(c).ljust(w)
                 for i, (c, w) in enumerate(zip(row, widths))]
        lines.append(" | ".join(cells).rstrip())
        if n == 0:
            lines.append("-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def _signature(block: tree.SignatureBlock) -> str:
    """The lines the Word writer prints, as text: a sign-off table, or each signatory's lines."""
    if block.method == "sign_off":
        table = tree.Table(list(tree.SIGN_OFF_COLUMNS), [[role, name, SIGNING, SIGNING] for role, name in block.lines])
        return "\n".join(([block.intro] if block.intro else []) + [_table(table)])
    lines = [block.intro] if block.intro else []
    for role, name in block.lines:
        rows = [f"{label}: {value or SIGNING}" for label, value in tree.signature_lines(role, name)]
        lines.append("\n".join(rows))
    return "\n\n".join(lines)


def render_text(document: tree.Document) -> str:
    """The whole document as text, ending with a newline."""
    blocks = [document.title.upper(), document.subtitle, f"Version {document.version} ({document.status.upper()})",
              f"Dated {document.date or '....................'}", "PARTIES"]
    for n, party in enumerate(document.parties, start=1):
        blocks.append(f"({n}) {party.name} of {party.address} (\u201c{party.short_name}\u201d)")
    for section in document.sections:
        heading = section.title.upper()
        if section.kind == "schedule":
            heading = f"SCHEDULE {section.number}: {heading}"
            if section.subtitle:
                heading += f"\n{section.subtitle}"
        blocks.append("=" * WIDTH + "\n" + heading)
        for block in section.blocks:
            if isinstance(block, tree.Para):
                blocks.append(_para(block))
            elif isinstance(block, tree.Table):
                blocks.append(_table(block))
            elif isinstance(block, tree.SignatureBlock):
                blocks.append(_signature(block))
    return "\n\n".join(blocks) + "\n"


__all__ = ["render_text", "inline_text", "format_date"]
