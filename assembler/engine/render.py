"""Plan and render: which clauses apply, and their text as a tree of paragraphs.

Templates run in the sandbox of ``clauselib``; every value they print comes
back as literal Text. Markup written in the clause files ([[Term]], <<ref>>,
[__blank__]) becomes TermUse, Ref and Blank parts. Numbers are not known
here: ``number`` and ``xref`` fill them in afterwards.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable

from jinja2 import TemplateError, UndefinedError
from jinja2.exceptions import SecurityError

from assembler.diagnostics import ERROR, Diagnostic, Location
from assembler.engine import language, tree
from assembler.engine.language import BLOCK_NAMES, BODY, SCHEDULE, ClauseValueError, conditions_held
from assembler.engine.library import (
    BLANK, BLOCK_LINE, MARKER_LINE, MARKERS, REF, SENTINEL, TERM, Clause, Library, ValueSlots,
)
from assembler.model import Record


def body_conditions(agreement: Record) -> set[str]:
    """The body-scope conditions that hold for this agreement."""
    return conditions_held(BODY, agreement)


def schedule_conditions(schedule: Record) -> set[str]:
    """The schedule-scope conditions that hold for one schedule."""
    return conditions_held(SCHEDULE, schedule)


def applies(clause: Clause, held: set[str]) -> bool:
    return language.applies(clause.applies, held)


# --- rendering --------------------------------------------------------------------


@dataclass
class Renderer:
    """Renders clauses of one agreement; collects problems instead of stopping."""

    library: Library
    agreement: Record
    problems: list[Diagnostic] = field(default_factory=list)
    defined: dict = field(default_factory=dict)  # term -> (clause, definition source)
    failed: set = field(default_factory=set)  # keys of clauses that could not be rendered (their anchors are missing)
    # The defined terms the clause paragraphs rendered so far use, gathered as their parts are made,
    # so that the assembled document need not be walked again to find them.
    terms_used: set = field(default_factory=set)

    def __post_init__(self):
        self.parties = dict(self.agreement.party_index)
        # One TermUse for each way a term is written, (term, wording) as the text has them: a build
        # uses some 60 terms some 3,000 times. The parts are frozen, so paragraphs can share them.
        self._term_uses: dict[tuple[str, str | None], tree.TermUse] = {}

    def _render_source(self, clause: Clause, source: str, context: dict,
                       locate: Callable[[int], Location] | None = None) -> tuple[str, ValueSlots] | None:
        """Render one template of ``clause``; a fault of the clause (or its data) becomes a finding at its line.

        An exception raised in the engine's own code is not the clause
        author's fault: it propagates, and the CLI reports it as a bug.
        """
        slots = ValueSlots()
        locate = locate or clause.location
        try:
            return self.library.templates.render(source, context, slots, self.parties), slots
        except (TemplateError, ClauseValueError, RecursionError, TypeError, ValueError, KeyError, AttributeError,
                ArithmeticError) as exc:
            line, in_template = template_line(exc)
            if not (in_template or isinstance(exc, (TemplateError, ClauseValueError, RecursionError))):
                raise
            error, where = exc, locate(line or 1)
        exc = error
        if isinstance(exc, UndefinedError):
            self.problems.append(Diagnostic(where, ERROR, "S75-CLAUSE-DATA",
                                            f"clause '{clause.key}' reads a value the agreement does not have: {exc.message}",
                                            "add the value to the YAML, or guard the clause text with 'is defined'"))
        elif isinstance(exc, SecurityError):
            self.problems.append(Diagnostic(where, ERROR, "S75-CLAUSE-SANDBOX",
                                            f"clause '{clause.key}' tried something the sandbox forbids: {exc}"))
        else:
            self.problems.append(Diagnostic(where, ERROR, "S75-CLAUSE",
                                            f"clause '{clause.key}' could not be rendered: {exc}"))
        return None

    def inline(self, text: str, slots: ValueSlots, terms: set[str] | None = None) -> list[tree.Inline]:
        """Markup in our own clause text -> parts; parked values -> literal Text.

        ``terms``, if given, collects the defined terms the text uses.
        """
        parts: list[tree.Inline] = []
        # split() gives the text before the first markup, then for each markup its seven groups and the text after it.
        pieces = iter(_INLINE.split(text))
        values = slots.values
        plain = next(pieces)  # neighbouring plain text, joined into one Text so the tree stays small
        for term, shown, schedule_ref, ref_key, sign, blank, slot, after in zip(*[pieces] * (_GROUPS + 1)):
            if term is not None:
                part = self._term_uses.get((term, shown))
                if part is None:
                    part = self._term_uses[term, shown] = tree.TermUse(term.strip(), (shown or term).strip())
                if terms is not None:
                    terms.add(part.term)
            elif ref_key is not None:
                part = tree.Ref(("schedule:" if schedule_ref else "") + ref_key)
            elif blank is not None:
                part = tree.Blank(blank.strip(), signing=bool(sign))
            else:
                plain += values[int(slot)] + after
                continue
            if plain:
                parts.append(tree.Text(plain))
            plain = after
            parts.append(part)
        if plain:
            parts.append(tree.Text(plain))
        return parts

    def clause_blocks(self, clause: Clause, context: dict, key_prefix: str, level_one: bool = True,
                      heading: str | None = None) -> list[tree.Block]:
        """One clause: its heading paragraph (``heading``, if given, instead of the clause's), then its body."""
        for term, source in clause.defines:  # even if the body fails: its terms are not also undefined
            self.defined.setdefault(term, (clause, source))
        rendered = self._render_source(clause, marked(clause.body), context)
        if rendered is None:
            self.failed.add(key_prefix + clause.key)
            return []
        text, slots = rendered
        blocks: list[tree.Block] = []
        if level_one:
            blocks.append(tree.Para([], level=1, key=key_prefix + clause.key, heading=heading or clause.heading,
                                    source=clause.location(1)))
        current: tree.Para | None = None
        lines: list[str] = []  # the current paragraph's text, one entry per source line
        seen_level_two = False
        source_line = 1  # the clause-body line the output being read came from

        def finish() -> None:
            """Parse the paragraph's text once, when all its lines are in."""
            if current is not None:
                current.parts = self.inline(" ".join(lines), slots, self.terms_used)

        for raw_line in text.split("\n"):
            mark = _LINE_MARK.match(raw_line)
            if mark:
                source_line = int(mark.group(1))
                raw_line = raw_line[mark.end():]
            # Lines Jinja joined may hold further marks: they are dropped too.
            line = (_LINE_MARK.sub("", raw_line) if "\ue002" in raw_line else raw_line).rstrip()
            stripped = line.lstrip()
            if not stripped or stripped.startswith("#"):
                if not stripped:
                    finish()
                    current = None
                continue
            # Only ':' can start a block and only '-' or '=' a paragraph marker: the many lines that
            # continue a paragraph try neither pattern.
            block = BLOCK_LINE.match(line) if line[0] == ":" else None
            if block:
                finish()
                blocks.extend(self.block(block.group(1), context, clause, clause.location(source_line)))
                current = None
                continue
            marker = MARKER_LINE.match(line) if line[0] in "-=" else None
            if marker:
                finish()
                symbol, anchor, rest = marker.groups()
                seen_level_two = seen_level_two or MARKERS[symbol] == 2
                if MARKERS[symbol] == 3 and not seen_level_two:
                    self.problems.append(Diagnostic(clause.location(source_line), ERROR, "S75-CLAUSE",
                                                    f"clause '{clause.key}': a '--' paragraph needs a '-' paragraph above it",
                                                    "Word would number it 1.0.1; start the clause with '-'"))
                key = f"{key_prefix}{clause.key}.{anchor}" if anchor else ""
                current = tree.Para([], level=MARKERS[symbol], key=key, source=clause.location(source_line))
                lines = [rest]
                blocks.append(current)
            elif current is not None:
                lines.append(stripped)
            else:
                self.problems.append(Diagnostic(clause.location(source_line), ERROR, "S75-CLAUSE",
                                                f"clause '{clause.key}': text outside a paragraph: {line.strip()[:60]!r}",
                                                "start each paragraph with a marker: - -- --- ---- or ="))
        finish()
        return blocks

    # --- blocks built by the engine ---

    def block(self, name: str, context: dict, clause: Clause, where: Location) -> list[tree.Block]:
        """A ``::name`` block, built by its row in the language (engine/language.py)."""
        spec = BLOCK_NAMES.get(name)
        if spec is None or (spec.needs and spec.needs not in context):
            self.problems.append(Diagnostic(where, ERROR, "S75-CLAUSE",
                                            f"clause '{clause.key}' uses block ::{name}, which is not available here"))
            return []
        return spec.build(context, self.parties, self.agreement)

    def definitions(self, used: set[str], terms: set[str]) -> list[tree.Para]:
        """The definitions of the terms in ``used``, alphabetical, each term bold and in quotes.

        The defined terms the definitions themselves use are added to ``terms``.
        """
        paras = []
        for term in sorted((t for t in self.defined if t in used), key=str.lower):
            clause, source = self.defined[term]
            rendered = self._render_source(clause, source, {"agreement": self.agreement},
                                           lambda _line, clause=clause: clause.item_location("defines", 0))
            if rendered is None:
                continue
            text, slots = rendered
            parts = [tree.Text("“"), tree.Text(term, bold=True), tree.Text("” means ")]
            paras.append(tree.Para(parts + self.inline(text.strip(), slots, terms), level=0, style="Definition"))
        return paras


_INLINE = re.compile(f"{TERM.pattern}|{REF.pattern}|{BLANK.pattern}|{SENTINEL.pattern}")
_GROUPS = 7  # term, shown, schedule ref, ref key, signing mark, blank, slot
assert _INLINE.groups == _GROUPS
# Each line's clause-file line number travels through Jinja as a private mark at its start.
_LINE_MARK = re.compile("\ue002(\\d+)\ue003")


@lru_cache(maxsize=None)
def marked(body: str) -> str:
    """The body with its line number written in front of each line of text.

    Lines that start with a Jinja tag (``{% if %}``) are left alone, so Jinja
    still trims them away whole, and so are lines that continue a tag or an
    expression begun on an earlier line.
    """
    out, closer = [], ""
    for number, line in enumerate(body.split("\n"), start=1):
        free = not closer and not line.lstrip().startswith("{%")
        out.append(f"\ue002{number}\ue003{line}" if free else line)
        for token in _TAG.findall(line):
            if not closer and token in _CLOSERS:
                closer = _CLOSERS[token]
            elif token == closer:
                closer = ""
    return "\n".join(out)


_CLOSERS = {"{{": "}}", "{%": "%}", "{##": "##}"}
_TAG = re.compile(r"\{##|##\}|\{\{|\}\}|\{%|%\}")


_OUR_CODE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def template_line(exc: BaseException) -> tuple[int | None, bool]:
    """The template line an exception passed through last, and whether the template (not our code) raised it.

    Jinja rewrites a render's traceback so its template frames carry the
    template's own line numbers. An exception raised in that frame, or in
    Jinja compiling or running it, is the template's doing; one raised in
    our own code below it is a bug of the engine. The traceback starts at
    the caller and ``Templates.render``, which are skipped.
    """
    frames = []
    tb = exc.__traceback__
    while tb is not None:
        frames.append((tb.tb_frame.f_code.co_filename, tb.tb_lineno))
        tb = tb.tb_next
    at = [i for i, (filename, _) in enumerate(frames) if filename == "<template>"]
    line, below = (frames[at[-1]][1], frames[at[-1] + 1:]) if at else (None, frames[2:])
    return line, not any(filename.startswith(_OUR_CODE) for filename, _ in below)


__all__ = ["Renderer", "applies", "body_conditions", "schedule_conditions"]
