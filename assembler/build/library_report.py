"""What a house layer changes, for the legal team: ``s75 library show`` and ``s75 library diff``.

``show`` lists the clauses an agreement is built from, section by section in
outline order, each with the layer it comes from. ``diff`` compares the
merged library with the built-in one clause by clause: a replaced clause's
heading, definitions and paragraphs (matched by their {#anchor}) with the
changed words marked ``[-old-]{+new+}``, an added clause in full, and the
outline's insertions, removals and moves.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import asdict, dataclass

from assembler.engine.library import MARKER_LINE, Clause, Library

BUILT_IN = "built-in"


@dataclass(frozen=True)
class Entry:
    section: str  # "body", "schedules: scheme", ...
    key: str
    heading: str
    source: str  # "built-in", or the layer's file that gives the clause
    change: str  # "", "replaces the built-in clause", "added"


def _sections(library: Library) -> list[tuple[str, tuple[str, ...]]]:
    outline = library.outline
    sections = [("recitals", outline.recitals), ("body", outline.body)]
    sections += [(f"schedules: {kind}", parts) for kind, parts in outline.schedules.items()]
    sections += [(f"generated schedule: {g.title}", g.parts + g.each) for g in outline.generated]
    sections += [("execution", outline.execution + outline.execution_party)]
    return sections


def show_entries(library: Library, base: Library) -> list[Entry]:
    """Every clause of the outline, in order, with where it comes from."""
    entries = []
    for section, keys in _sections(library):
        for key in keys:
            clause = library.clauses[key]
            layered = key in library.origins
            change = "" if not layered else ("replaces the built-in clause" if key in base.clauses else "added")
            entries.append(Entry(section, key, clause.heading, str(clause.path) if layered else BUILT_IN, change))
    return entries


def format_show(entries: list[Entry], library: Library, fmt: str = "text") -> str:
    if fmt == "json":
        return json.dumps({"layers": [{"path": l.written, "folder": l.display} for l in library.layers],
                           "clauses": [asdict(e) for e in entries]}, indent=2, ensure_ascii=False) + "\n"
    lines = ["layers: " + (", ".join(l.display for l in library.layers) or "none (the built-in library only)")]
    section = None
    for entry in entries:
        if entry.section != section:
            section = entry.section
            lines += ["", f"{section}:"]
        where = entry.source + (f" ({entry.change})" if entry.change else "")
        lines.append(f"  {entry.key:34} {where}")
    ours = sum(1 for e in entries if e.change)
    lines += ["", f"{len(entries)} clauses, {ours} from house layers"]
    return "\n".join(lines) + "\n"


# --- diff -----------------------------------------------------------------------------------


def _paragraphs(clause: Clause) -> list[tuple[str, str, str]]:
    """(match key, label, text) of each paragraph of a clause's source, without its marker.

    An anchored paragraph is matched by its {#anchor}, so its wording can be
    compared; any other paragraph (and each template line) by its text.
    """
    found: list[list] = []
    for line in clause.body.split("\n"):
        match = MARKER_LINE.match(line)
        if match:
            anchor = match.group(2)
            found.append([anchor and "{#" + anchor + "}", "{#" + anchor + "}" if anchor else "paragraph", [match.group(3)]])
        elif not found or (line and not line[0].isspace()):
            found.append([None, "template" if line.startswith("{%") else "line", [line]])
        else:
            found[-1][2].append(line)
    out = []
    for key, label, lines in found:
        text = " ".join(" ".join(lines).split())
        if text:
            out.append((key or text, label, text))
    return out


def word_diff(old: str, new: str) -> str:
    """``old`` to ``new`` as one line: each run of changed words once, ``[-old-]{+new+}``."""
    a, b = old.split(), new.split()
    out = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(" ".join(a[i1:i2]))
            continue
        if i2 > i1:
            out.append("[-" + " ".join(a[i1:i2]) + "-]")
        if j2 > j1:
            out.append("{+" + " ".join(b[j1:j2]) + "+}")
    return re.sub(r"-\] \{\+", "-]{+", " ".join(out))


def _clause_diff(old: Clause, new: Clause) -> list[str]:
    lines = []
    if old.heading != new.heading:
        lines.append(f"  heading: {word_diff(old.heading, new.heading)}")
    if old.applies != new.applies:
        lines.append(f"  applies: {list(old.applies) or 'always'} -> {list(new.applies) or 'always'}")
    before, after = dict(old.defines), dict(new.defines)
    for term in sorted(set(before) | set(after)):
        if term not in after:
            lines.append(f"  - defines {term}: {' '.join(before[term].split())}")
        elif term not in before:
            lines.append(f"  + defines {term}: {' '.join(after[term].split())}")
        elif before[term].split() != after[term].split():
            lines.append(f"  ~ defines {term}: {word_diff(before[term], after[term])}")
    a, b = _paragraphs(old), _paragraphs(new)
    matcher = difflib.SequenceMatcher(None, [k for k, _, _ in a], [k for k, _, _ in b], autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            for (_, label, old_text), (_, _, new_text) in zip(a[i1:i2], b[j1:j2]):
                if old_text != new_text:
                    lines.append(f"  ~ {label}: {word_diff(old_text, new_text)}")
            continue
        lines += [f"  - {label}: {text}" for _, label, text in a[i1:i2]]
        lines += [f"  + {label}: {text}" for _, label, text in b[j1:j2]]
    return lines or ["  (the same text)"]


def _outline_changes(library: Library, base: Library) -> list[str]:
    lines = []
    merged = dict(_sections(library))
    for section, before in _sections(base):
        after = merged.get(section, ())
        for key in after:
            if key not in before:
                at = after.index(key)
                place = f"after {after[at - 1]}" if at else "first"
                lines.append(f"  {section}: {key} inserted {place}")
        for key in before:
            if key not in after:
                lines.append(f"  {section}: {key} removed")
        common_before = [k for k in before if k in after]
        common_after = [k for k in after if k in before]
        matcher = difflib.SequenceMatcher(None, common_before, common_after, autojunk=False)
        kept = {k for block in matcher.get_matching_blocks() for k in common_before[block.a:block.a + block.size]}
        for key in common_after:
            if key not in kept:
                at = after.index(key)
                place = f"after {after[at - 1]}" if at else "first"
                lines.append(f"  {section}: {key} moved {place}")
    return lines


def format_diff(library: Library, base: Library) -> str:
    """The house layers against the built-in library, clause by clause, then the outline."""
    lines = []
    for key in sorted(library.origins, key=lambda k: (k in base.clauses, k)):
        new = library.clauses[key]
        if key in base.clauses:
            lines.append(f"{key}: {new.heading} (built-in {base.clauses[key].path.name} replaced by {new.path})")
            lines += _clause_diff(base.clauses[key], new)
        else:
            lines.append(f"{key}: {new.heading} (added by {new.path})")
            lines += [f"  + {label}: {text}" for _, label, text in _paragraphs(new)]
        lines.append("")
    outline = _outline_changes(library, base)
    if outline:
        lines += ["outline:", *outline, ""]
    if not lines:
        return "no house layers: the agreement uses the built-in library as it is\n"
    return "\n".join(lines)
