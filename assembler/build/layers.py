"""Clause library layers: a council's own wording over the built-in library.

An agreement names layer folders in ``clause_library:``. Each layer's
``.clause`` files replace the built-in clause with the same key or add a
new one; its ``outline.yaml`` inserts, removes or moves clauses in the
built-in outline by key (see clauses/README.md). Later layers go over
earlier ones. The merged library is checked here before anything is
assembled: each added or replacing clause is linted, every reference and
defined term must still resolve, and no clause the statutory requirement
table relies on may be removed or lose the paragraph it names. Every
problem names the layer's file and line.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

from assembler.check.requirements import requirements
from assembler.diagnostics import ERROR, BuildError, Diagnostic, LoadError, Location
from assembler.engine.library import Clause, Library, Outline, clause_scopes, parse_clause_text
from assembler.build.lint import anchors, header_line, lint_clause, references, terms_used
from assembler.source.yamlfile import load_yaml_bytes

LAYER_OUTLINE = "outline.yaml"
OPERATIONS = ("insert", "move", "remove")
PLACES = ("after", "before")


@dataclass(frozen=True)
class Layer:
    """One layer as read: how agreement.yaml names it, where it was read from, and what it held."""

    written: str  # as clause_library writes it, relative to the agreement's folder
    display: str  # the folder as messages name it
    files: tuple[tuple[str, str], ...]  # (file name, SHA-256 of the bytes read), in name order


def is_layer_file(name: str) -> bool:
    """The files of a layer folder that change what is built (a README beside them does not)."""
    return name.endswith(".clause") or name == LAYER_OUTLINE


def _error(where: Location, code: str, message: str, hint: str = "") -> Diagnostic:
    return Diagnostic(where, ERROR, code, message, hint)


def _required() -> dict[str, list]:
    """Clause key -> the requirement rows that name it (or one of its paragraphs)."""
    keys: dict[str, list] = {}
    for requirement in requirements():
        keys.setdefault(requirement.clause.split(".")[0], []).append(requirement)
    return keys


# --- the outline as editable lists -------------------------------------------------------


def _sections(outline: Outline) -> dict[tuple[str, ...], list[str]]:
    """("recitals",), ("body",) and ("schedules", kind) -> the keys in order."""
    sections = {("recitals",): list(outline.recitals), ("body",): list(outline.body)}
    for kind, parts in outline.schedules.items():
        sections[("schedules", kind)] = list(parts)
    return sections


def _outline(sections: dict[tuple[str, ...], list[str]], base: Outline) -> Outline:
    """The base outline with the edited lists; any other part of it (generated schedules,
    the execution page) is kept as it is."""
    schedules = {path[1]: tuple(keys) for path, keys in sections.items() if path[0] == "schedules"}
    return replace(base, recitals=tuple(sections[("recitals",)]), body=tuple(sections[("body",)]),
                   schedules=schedules)


def _section_name(path: tuple[str, ...]) -> str:
    return "schedules: " + path[1] if path[0] == "schedules" else path[0]


def _operations(data, locate) -> tuple[list, list[Diagnostic]]:
    """((section, index, operation dict)...) from a layer's outline.yaml data, and what is malformed."""
    problems = []
    found = []
    if data is None:
        return [], []
    if not isinstance(data, dict):
        return [], [_error(locate(()), "S75-LAYER", "a layer's outline.yaml maps recitals, body or schedules "
                           "to a list of changes", "see 'Layers' in clauses/README.md")]
    lists = []
    for name, value in data.items():
        if name in ("recitals", "body"):
            lists.append(((name,), value, (name,)))
        elif name == "schedules" and isinstance(value, dict):
            lists += [(("schedules", kind), ops, ("schedules", kind)) for kind, ops in value.items()]
        else:
            problems.append(_error(locate((name,)), "S75-LAYER",
                                   f"a layer's outline.yaml cannot change '{name}'",
                                   "it may change recitals, body and schedules: <kind> (scheme, s256, "
                                   "financial_governance); replace a generated schedule's parts by key instead"))
    for section, ops, path in lists:
        if not isinstance(ops, list):
            problems.append(_error(locate(path), "S75-LAYER", f"the changes to {_section_name(section)} must be a list",
                                   "e.g. - {insert: my-clause, after: confidentiality}"))
            continue
        for index, op in enumerate(ops):
            where = locate(path + (index,))
            verbs = [v for v in OPERATIONS if isinstance(op, dict) and v in op]
            places = [p for p in PLACES if isinstance(op, dict) and p in op]
            extra = sorted(set(op) - set(OPERATIONS) - set(PLACES)) if isinstance(op, dict) else []
            if len(verbs) != 1 or extra or not all(isinstance(op[k], str) for k in verbs + places):
                problems.append(_error(where, "S75-LAYER", "each change is one of insert: KEY, move: KEY or "
                                       "remove: KEY" + (f" (not {', '.join(map(str, extra))})" if extra else ""),
                                       "e.g. - {move: scheme-performance, after: scheme-aims}"))
            elif verbs[0] == "remove" and places:
                problems.append(_error(where, "S75-LAYER", "remove takes no after: or before:"))
            elif verbs[0] != "remove" and len(places) != 1:
                problems.append(_error(where, "S75-LAYER", f"{verbs[0]} needs exactly one of after: KEY or before: KEY",
                                       f"e.g. - {{{verbs[0]}: {op[verbs[0]]}, after: confidentiality}}"))
            else:
                found.append((section, path + (index,), op, verbs[0], places[0] if places else ""))
    return found, problems


def _apply_outline(sections, data, locate, clauses: dict, layer: str) -> tuple[list[Diagnostic], dict]:
    """Apply one layer's outline changes in order; (problems, {removed key: where})."""
    operations, problems = _operations(data, locate)
    required = _required()
    removed = {}
    for section, path, op, verb, place in operations:
        keys = sections.get(section)
        key = op[verb]
        where = locate(path + (verb,))
        if keys is None:
            problems.append(_error(locate(path), "S75-LAYER", f"the built-in outline has no {_section_name(section)}",
                                   "schedule kinds: " + ", ".join(p[1] for p in sections if p[0] == "schedules")))
            continue
        if verb == "insert" and key in keys:
            problems.append(_error(where, "S75-LAYER", f"'{key}' is already in {_section_name(section)}",
                                   f"use move: {key} to change its place"))
            continue
        if verb == "insert" and key not in clauses:
            problems.append(_error(where, "S75-LAYER", f"there is no clause '{key}' to insert",
                                   f"add {key}.clause to the layer {layer}"))
            continue
        if verb != "insert" and key not in keys:
            problems.append(_error(where, "S75-LAYER", f"'{key}' is not in {_section_name(section)}",
                                   "in order: " + ", ".join(keys)))
            continue
        if verb == "remove":
            if key in required:
                rows = required[key]
                problems.append(_error(where, "S75-LAYER-REQUIRED",
                                       f"'{key}' states {rows[0].regulation} ({', '.join(r.code for r in rows)}), "
                                       "so a layer may replace it but not remove it",
                                       f"put the house wording in {key}.clause in the layer instead"))
                continue
            keys.remove(key)
            removed[key] = where
            continue
        anchor = op[place]
        if anchor not in keys or anchor == key:
            problems.append(_error(locate(path + (place,)), "S75-LAYER",
                                   f"'{anchor}' is not " + ("another clause" if anchor == key else "in ")
                                   + ("" if anchor == key else _section_name(section)),
                                   "in order: " + ", ".join(keys)))
            continue
        if verb == "move":
            keys.remove(key)
        keys.insert(keys.index(anchor) + (place == "after"), key)
    return problems, removed


# --- reading and merging --------------------------------------------------------------------


def apply_layers(base: Library, folders: list[tuple[str, object]]) -> Library:
    """``base`` with each (written path, folder) layer over it, in order; BuildError with every problem.

    A folder is read through a source (:mod:`assembler.source.folder` or
    :mod:`assembler.source.git`), so a layer at a git revision is read from
    that revision with the same checks as the agreement's own files.
    """
    problems: list[Diagnostic] = []
    clauses = dict(base.clauses)
    origins = dict(base.origins)
    sections = _sections(base.outline)
    texts: dict[str, str] = {}
    removed: dict[str, tuple[str, Location]] = {}
    layers = []
    for written, folder in folders:
        try:
            names = [n for n in folder.names() if is_layer_file(n)]
        except LoadError as error:
            problems += error.diagnostics
            continue
        files = []
        outline_raw = None
        for name in names:
            try:
                raw = folder.read(name)
            except LoadError as error:
                problems += error.diagnostics
                continue
            files.append((name, hashlib.sha256(raw).hexdigest()))
            if name == LAYER_OUTLINE:
                outline_raw = raw
                continue
            path = Path(folder.shown(name))
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                problems.append(_error(Location(str(path)), "S75-CLAUSE", "a clause file must be UTF-8 text",
                                       "save it as UTF-8"))
                continue
            clause, found = parse_clause_text(text, path)
            problems += found
            if clause is not None:
                clauses[clause.key] = clause
                origins[clause.key] = folder.display
                texts[clause.key] = text
        if outline_raw is not None:
            loaded, found = load_yaml_bytes(outline_raw, folder.shown(LAYER_OUTLINE))
            problems += found
            if loaded is not None:
                found, gone = _apply_outline(sections, loaded.data, loaded.source.locate, clauses, folder.display)
                problems += found
                removed.update({key: (folder.display, where) for key, where in gone.items()})
        layers.append(Layer(written, folder.display, tuple(files)))
    outline = _outline(sections, base.outline)
    merged = Library(clauses, outline, base.folder, base.templates, tuple(layers), origins)
    problems += _linted(merged, base, texts)
    if not problems:  # the whole-library checks need every file read and the outline applied
        problems += _placed(merged, base)
        problems += _references(merged, base, removed)
        problems += _terms(merged, base, texts, removed)
    if problems:
        raise BuildError(problems)
    return merged


def _linted(merged: Library, base: Library, texts: dict[str, str]) -> list[Diagnostic]:
    """Each clause a layer wrote, and each built-in one its outline moved to a new kind of place, checked
    as the built-in library is, where the merged outline uses it."""
    problems = []
    for key, clause in sorted(merged.clauses.items()):
        scopes = clause_scopes(merged.outline, key)
        if key in texts or scopes != clause_scopes(base.outline, key):
            problems += lint_clause(merged.templates.env, clause, scopes)
    return problems


def _placed(merged: Library, base: Library) -> list[Diagnostic]:
    """An added clause the outline never places would silently do nothing."""
    placed = set(merged.outline.all_keys())
    return [_error(_file_line(clause), "S75-LAYER",
                   f"the layer adds clause '{key}' but its outline.yaml does not place it",
                   f"add to the layer's outline.yaml e.g. body: [{{insert: {key}, after: confidentiality}}]")
            for key, clause in sorted(merged.clauses.items())
            if key not in base.clauses and key not in placed]


def _file_line(clause: Clause) -> Location:
    return Location(str(clause.path), 1, 1)


def _references(merged: Library, base: Library, removed: dict) -> list[Diagnostic]:
    """Every reference and requirement row must still find its clause or paragraph.

    A reference broken because a layer replaced its target without the
    paragraph's anchor is reported at the replacing clause, naming each
    reference; one broken because an outline removed its target, at the
    removal; one a layer clause makes, where it makes it.
    """
    in_outline = set(merged.outline.all_keys())
    targets = set(in_outline)
    for key in in_outline:
        targets |= {f"{key}.{a}" for a in anchors(merged.clauses[key])}
    problems = []
    broken: dict[str, list[str]] = {}  # replaced key -> what refers to its lost anchors
    for key in sorted(in_outline):
        clause = merged.clauses[key]
        for ref, where in references(clause):
            # <<KEY/part.anchor>> cites a part of the generated schedule KEY: the part must be there.
            ref = ref.split("/", 1)[1] if "/" in ref else ref
            if ref in targets:
                continue
            target = ref.split(".")[0]
            if target in removed:
                layer, at = removed[target]
                problems.append(_error(at, "S75-LAYER-REF", f"{where} refers to <<{ref}>>, which this layer removes",
                                       f"replace '{target}' instead of removing it, or change {where}"))
            elif target in merged.origins and key not in merged.origins and target in base.clauses:
                broken.setdefault(target, []).append(f"<<{ref}>> at {where}")
            else:
                problems.append(_error(where, "S75-LAYER-REF", f"<<{ref}>> refers to no clause or numbered paragraph",
                                       "refer to a clause key, or key.anchor for a paragraph marked {#anchor}"))
    for target, refs in sorted(broken.items()):
        clause = merged.clauses[target]
        lost = sorted({r.split(".", 1)[1].split(">>")[0] for r in refs if "." in r.split(">>")[0]})
        problems.append(_error(_file_line(clause), "S75-LAYER-REF",
                               f"this replacement of '{target}' has no paragraph {', '.join('{#' + a + '}' for a in lost)}, "
                               f"so these references break: {'; '.join(refs)}",
                               "mark the paragraph that replaces each one with the same {#anchor}"))
    for requirement in requirements():
        if requirement.clause in targets:
            continue
        target = requirement.clause.split(".")[0]
        if target in merged.origins:
            paragraph = requirement.clause.split(".", 1)[1] if "." in requirement.clause else ""
            problems.append(_error(_file_line(merged.clauses[target]), "S75-LAYER-REQUIRED",
                                   f"{requirement.regulation} ({requirement.code}) is stated by "
                                   + (f"paragraph {{#{paragraph}}} of " if paragraph else "")
                                   + f"'{target}', which this replacement no longer has",
                                   f"keep a paragraph marked {{#{paragraph}}} that states: {requirement.requirement}"
                                   if paragraph else "keep the clause in the outline"))
    return problems


def _terms(merged: Library, base: Library, texts: dict[str, str], removed: dict) -> list[Diagnostic]:
    """Every defined term used must be defined by exactly one clause of the merged library."""
    in_outline = set(merged.outline.all_keys())
    defined: dict[str, list[str]] = {}
    for key in sorted(in_outline):
        for term, _ in merged.clauses[key].defines:
            defined.setdefault(term, []).append(key)
    problems = []
    for term, keys in sorted(defined.items()):
        layered = [k for k in keys if k in merged.origins]
        if len(keys) > 1 and layered:
            clause = merged.clauses[layered[-1]]
            others = ", ".join(f"'{k}'" for k in keys if k != clause.key)
            problems.append(_error(Location(str(clause.path), header_line(texts.get(clause.key, ""), term), 1),
                                   "S75-LAYER-TERM", f"'{term}' is also defined by {others}",
                                   "define each term in one clause; use it elsewhere as [[" + term + "]]"))
    lost: dict[str, list[str]] = {}
    for key in sorted(in_outline):
        clause = merged.clauses[key]
        for term, where in terms_used(clause):
            if term in defined:
                continue
            was = next((k for k, c in base.clauses.items() if any(t == term for t, _ in c.defines)), None)
            if was in removed:
                problems.append(_error(removed[was][1], "S75-LAYER-TERM",
                                       f"{where} uses [[{term}]], which only '{was}' defines, and this layer removes it",
                                       f"replace '{was}' instead of removing it"))
            elif key not in merged.origins and was in merged.origins:
                lost.setdefault(was, []).append(f"[[{term}]] at {where}")
            else:
                problems.append(_error(where, "S75-LAYER-TERM", f"the defined term '{term}' is used but never defined",
                                       "define it in the defines: of the clause that introduces it"))
    for was, uses in sorted(lost.items()):
        clause = merged.clauses[was]
        uses = list(dict.fromkeys(uses))
        more = f"; and {len(uses) - 6} more" if len(uses) > 6 else ""
        problems.append(_error(_file_line(clause), "S75-LAYER-TERM",
                               f"this replacement of '{was}' no longer defines a term other clauses use: "
                               + "; ".join(uses[:6]) + more,
                               "keep the definition in the replacement's defines:"))
    return problems
