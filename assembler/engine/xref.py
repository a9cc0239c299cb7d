"""Cross-references: stable keys -> the numbers the engine computed.

A reference names a clause key (``<<termination>>``), an anchored paragraph
(``<<termination.consequences>>``) or a schedule (``<<schedule:bcf>>``).
Each becomes literal wording plus a Ref carrying the number, which the
writer turns into a REF field with that number as its cached result.
A reference that does not resolve is an error, never a blank.
"""

from __future__ import annotations

from assembler.engine import tree
from assembler.diagnostics import ERROR, Diagnostic, Location


def targets(document: tree.Document) -> dict[str, tuple[tree.Section, tree.Para | None]]:
    """Every key a reference may point at."""
    found: dict[str, tuple[tree.Section, tree.Para | None]] = {}
    for section in document.sections:
        if section.kind == "schedule":
            found[f"schedule:{section.key}"] = (section, None)
        for block in section.blocks:
            if isinstance(block, tree.Para) and block.key:
                found[block.key] = (section, block)
    return found


def wording(section: tree.Section, para: tree.Para, from_section: tree.Section) -> tuple[str, str, str]:
    """(words before the number, the number, words after) for one paragraph (a whole schedule is plain text)."""
    if section.kind == "schedule":
        if from_section is section:
            return "paragraph ", para.full_number, ""
        return "paragraph ", para.full_number, f" of Schedule {section.number}"
    if section.kind == "recitals":
        return "recital ", para.full_number, ""
    return "clause ", para.full_number, ""


def resolve_references(document: tree.Document,
                       outside: dict[str, tuple[tree.Section, tree.Para | None]] | None = None,
                       failed: frozenset[str] | set[str] = frozenset()) -> list[Diagnostic]:
    """Replace each Ref's key with wording and number; report the broken ones, at the paragraph's clause line.

    ``outside`` is given for a schedule built on its own: the targets of the
    whole agreement, numbered. A reference to one of them is plain wording
    ("clause 7.3 of the Agreement"), as Word has nothing in this document to
    point at. ``failed`` holds the keys of clauses that could not be rendered:
    a reference into one of them is broken only because of that error, which
    is already reported, so it is not reported again.
    """
    known = targets(document)
    problems = []
    for section in document.sections:
        scope = f"{section.key}/" if section.kind == "schedule" else ""
        for block in section.blocks:
            if not isinstance(block, tree.Para):
                continue
            parts: list[tree.Inline] = []
            for part in block.parts:
                if not isinstance(part, tree.Ref):
                    parts.append(part)
                    continue
                key = _scoped(part.key, scope, known)
                if key not in known:
                    elsewhere = _scoped(part.key, scope, outside) if outside is not None else None
                    if elsewhere in (outside or {}):
                        parts.append(tree.Text(_outside_wording(*outside[elsewhere])))
                        continue
                    if outside is None and not _into(part.key, scope, failed):
                        problems.append(Diagnostic(block.source or Location("clauses", 1, 1), ERROR, "S75-XREF",
                                                   f"reference to '{part.key}' in {section.kind} {section.number or section.title} does not resolve",
                                                   "refer to the key of a clause that is in this agreement"))
                    parts.append(tree.Text(f"the provisions on {part.key.split(':')[-1].replace('-', ' ')}"))
                    continue
                target_section, para = known[key]
                if para is None:  # a whole schedule: its number is plain text in Word too
                    parts.append(tree.Text(f"Schedule {target_section.number}"))
                    continue
                before, number, after = wording(target_section, para, section)
                parts.append(tree.Text(before))
                parts.append(tree.Ref(key, number=number, label=number))
                if after:
                    parts.append(tree.Text(after))
            block.parts = parts
    return problems


def _into(key: str, scope: str, failed) -> bool:
    """Does ``key`` (as written in ``scope``) point into a clause that failed to render?"""
    clause = key.split(".")[0]
    return clause in failed or scope + clause in failed


def _scoped(key: str, scope: str, known: dict) -> str:
    """A key as written in a schedule's clause may be local to that schedule (``scope``)."""
    if key in known or not scope:
        return key
    return scope + key if scope + key in known else key


def _outside_wording(section: tree.Section, para: tree.Para | None) -> str:
    """How a schedule built on its own names a place in the rest of the agreement."""
    if para is None:
        return f"Schedule {section.number} to the Agreement"
    if section.kind == "schedule":
        return f"paragraph {para.full_number} of Schedule {section.number} to the Agreement"
    if section.kind == "recitals":
        return f"recital {para.full_number} of the Agreement"
    return f"clause {para.full_number} of the Agreement"
