"""Numbering checked against an independent count of every paragraph's full number, at every level.

The count here does not share code with engine/number.py: a paragraph's
number at level k is how many level-k paragraphs there have been since the
last paragraph of a higher level (a level below k). A level with no count
(skipped) is left out of the full number, as Word leaves it out.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from assembler.build.pipeline import assemble_source
from assembler.engine import tree
from assembler.engine.number import letter, number_section, roman
from assembler.source.folder import DirectorySource
from tests.conftest import BASE, EXAMPLES

ROMAN = ["i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x", "xi", "xii", "xiii", "xiv", "xv", "xvi", "xvii",
         "xviii", "xix", "xx", "xxi", "xxii", "xxiii", "xxiv", "xxv", "xxvi", "xxvii", "xxviii", "xxix", "xxx"]


def _letter(n: int) -> str:
    """Word's lowerLetter: a..z, then aa..zz."""
    return "abcdefghijklmnopqrstuvwxyz"[(n - 1) % 26] * ((n + 25) // 26)


def _count(levels: list[int], index: int, level: int) -> int:
    """How many paragraphs of ``level`` from the last one above it up to ``index``."""
    count = 0
    for earlier in levels[:index + 1]:
        if 0 < earlier < level:
            count = 0
        elif earlier == level:
            count += 1
    return count


def expected(levels: list[int]) -> list[tuple[str, str]]:
    """(number shown, full number) for each paragraph of a body or schedule section."""
    out = []
    for i, level in enumerate(levels):
        if level == 0:
            out.append(("", ""))
            continue
        counts = {k: _count(levels, i, k) for k in range(1, level + 1)}
        dotted = ".".join(str(counts[k]) for k in (1, 2, 3) if k <= level and counts[k])
        tail = "".join(f"({_letter(counts[4])})" if k == 4 else f"({ROMAN[counts[5] - 1]})"
                       for k in (4, 5) if k <= level and counts[k])
        shown = {1: f"{dotted}.", 2: dotted, 3: dotted, 4: f"({_letter(counts[4])})" if level == 4 else "",
                 5: f"({ROMAN[counts[5] - 1]})" if level == 5 else ""}[level]
        out.append((shown, dotted + tail))
    return out


def _numbered(levels: list[int], kind: str = "body") -> list[tuple[str, str]]:
    section = tree.Section(kind, "S", [tree.Para([], level=level) for level in levels])
    number_section(section)
    return [(p.number, p.full_number) for p in section.blocks]


def test_the_independent_count_on_a_known_outline():
    levels = [1, 2, 3, 3, 4, 4, 5, 5, 2, 3, 4, 1, 0, 2, 4, 5, 3]
    assert [full for _, full in expected(levels)] == [
        "1", "1.1", "1.1.1", "1.1.2", "1.1.2(a)", "1.1.2(b)", "1.1.2(b)(i)", "1.1.2(b)(ii)", "1.2", "1.2.1",
        "1.2.1(a)", "2", "", "2.1", "2.1(a)", "2.1(a)(i)", "2.1.1"]
    assert _numbered(levels) == expected(levels)


# Runs of paragraphs such as clause files make: any level after any other, long enough to reach (aa).
levels_strategy = st.lists(st.integers(min_value=0, max_value=5), min_size=1, max_size=60).map(
    lambda levels: [1] + levels)


@settings(max_examples=300, deadline=None)
@given(levels_strategy)
def test_every_paragraphs_full_number_matches_the_independent_count(levels):
    if any(_count(levels, i, 5) > len(ROMAN) for i in range(len(levels))):
        return
    assert _numbered(levels) == expected(levels)


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=1, max_value=60))
def test_recitals_are_lettered_in_order(count):
    numbers = _numbered([1] * count, kind="recitals")
    assert [full for _, full in numbers] == [f"({_letter(n).upper()})" for n in range(1, count + 1)]


def test_every_example_is_numbered_as_the_independent_count_says():
    for folder in [BASE, *EXAMPLES]:
        document = assemble_source(DirectorySource(str(folder))).document
        for section in document.sections:
            if section.kind == "recitals":
                continue
            paras = [b for b in section.blocks if isinstance(b, tree.Para)]
            got = [(p.number, p.full_number) for p in paras]
            assert got == expected([p.level for p in paras]), f"{folder.name}: {section.title}"


# Roman numerals written out by hand, as Word's lowerRoman shows them.
KNOWN_ROMAN = {1: "i", 3: "iii", 4: "iv", 5: "v", 6: "vi", 8: "viii", 9: "ix", 10: "x", 11: "xi", 14: "xiv",
               19: "xix", 39: "xxxix", 40: "xl", 41: "xli", 49: "xlix", 50: "l", 51: "li", 89: "lxxxix",
               90: "xc", 91: "xci", 99: "xcix", 100: "c", 101: "ci", 399: "cccxcix", 400: "cd", 401: "cdi",
               499: "cdxcix", 500: "d", 501: "di", 899: "dcccxcix", 900: "cm", 901: "cmi", 999: "cmxcix",
               1000: "m", 1001: "mi", 1994: "mcmxciv", 2024: "mmxxiv", 3999: "mmmcmxcix"}


def test_roman_numerals_at_every_boundary():
    assert {n: roman(n) for n in KNOWN_ROMAN} == KNOWN_ROMAN
    assert [letter(n) for n in (1, 2, 26, 27, 28, 52, 53)] == ["a", "b", "z", "aa", "bb", "zz", "aaa"]
