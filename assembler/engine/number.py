"""Numbering: the engine's own numbers, matching Word's multi-level list.

Body clauses run 1, 1.1, 1.1.1, (a), (i); each schedule restarts at 1;
recitals are lettered (A), (B). A lower level restarts whenever a higher
level appears, as Word's list does. ``full_number`` is the form used in
cross-references ("7.2(a)"), leaving out levels that were skipped.
"""

from __future__ import annotations

from assembler.engine import tree

LETTERS = "abcdefghijklmnopqrstuvwxyz"


def letter(n: int) -> str:
    """1 -> a, 26 -> z, 27 -> aa (Word's lowerLetter)."""
    return LETTERS[(n - 1) % 26] * ((n - 1) // 26 + 1)


def roman(n: int) -> str:
    numerals = [(1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"),
                (50, "l"), (40, "xl"), (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i")]
    out = ""
    for value, symbol in numerals:
        while n >= value:
            out, n = out + symbol, n - value
    return out


def _shown(level: int, count: int) -> str:
    """What a level-4 or level-5 paragraph shows: (a) or (i); levels 1-3 show dotted numbers."""
    return f"({letter(count)})" if level == 4 else f"({roman(count)})"


def number_section(section: tree.Section) -> None:
    """Number one section's paragraphs in place."""
    counters = [0] * 6  # index by level 1..5
    recitals = section.kind == "recitals"
    for block in section.blocks:
        if not isinstance(block, tree.Para) or block.level == 0:
            continue
        if recitals:
            counters[1] += 1
            block.number = block.full_number = f"({letter(counters[1]).upper()})"
            continue
        level = block.level
        counters[level] += 1
        counters[level + 1:] = [0] * (5 - level)  # a lower level restarts
        if level <= 3:
            block.full_number = ".".join([str(c) for c in counters[1:level + 1] if c])
            block.number = block.full_number + "." if level == 1 else block.full_number
        else:
            block.number = _shown(level, counters[level])
            stem = ".".join([str(c) for c in counters[1:4] if c])
            block.full_number = stem + "".join([_shown(i, counters[i]) for i in range(4, level + 1) if counters[i]])


def number_document(document: tree.Document) -> None:
    for section in document.sections:
        number_section(section)
