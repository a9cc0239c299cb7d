"""The clause library on disk: clause files, the outline, and the Jinja sandbox.

Reading and checking the library is separate from rendering an agreement, so
the library test can check every template without any agreement.
See clauses/README.md for the file format.
"""

from __future__ import annotations

import difflib
import os
import re
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml
from jinja2 import StrictUndefined, TemplateSyntaxError, Undefined, nodes, pass_context, pass_eval_context
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from assembler.diagnostics import ERROR, BuildError, Diagnostic, LoadError, Location
from assembler.engine.language import (
    BLOCK_NAMES, BODY, CONDITION_NAMES, FILTERS, FUNCTION_NAMES, FUNCTIONS, SCHEDULE, condition_name,
)
from assembler.model import Money, Record, format_money
from assembler.resources import clauses_dir

MARKERS = {"-": 2, "--": 3, "---": 4, "----": 5, "=": 0}
MARKER_LINE = re.compile(r"^(----|---|--|-|=)(?:\s+|$)(?:\{#([a-z0-9][a-z0-9-]*)\}\s*)?(.*)$")
BLOCK_LINE = re.compile(r"^::([a-z-]+)\s*$")
TERM = re.compile(r"\[\[([^\]|]+)(?:\|([^\]]+))?\]\]")
REF = re.compile(r"<<(schedule:)?([a-z0-9][a-z0-9./-]*)>>")
BLANK = re.compile(r"\[__(sign:)?(.+?)__\]")


@dataclass(frozen=True)
class Clause:
    """One clause file: metadata and the template source of its body."""

    key: str
    heading: str
    applies: tuple[str, ...]
    defines: tuple[tuple[str, str], ...]
    needs: tuple[str, ...]
    body: str
    path: Path
    body_line: int  # line of the file where the body starts
    # The file line of each item of `applies` and `needs`, so load_library can point at a bad one.
    item_lines: dict = field(default_factory=dict, compare=False, repr=False)
    # The Location of each body line asked for, made once: each paragraph of every build points at its line.
    _locations: dict = field(default_factory=dict, init=False, compare=False, repr=False)

    def location(self, line_in_body: int = 1) -> Location:
        found = self._locations.get(line_in_body)
        if found is None:
            found = self._locations[line_in_body] = Location(str(self.path), self.body_line + line_in_body - 1, 1)
        return found

    def item_location(self, field_name: str, index: int) -> Location:
        lines = self.item_lines.get(field_name, ())
        return Location(str(self.path), lines[index] if index < len(lines) else 1, 1)


@dataclass(frozen=True)
class GeneratedSchedule:
    """A schedule built from agreement.yaml rather than a schedule file.

    With ``for_each: governance_body`` and no ``each``, the parts make one
    schedule per body; with ``each``, one schedule holds the parts once and
    then the ``each`` parts for every body, headed by the body's name.
    """

    title: str
    for_each: str
    parts: tuple[str, ...]
    key: str = ""
    each: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outline:
    recitals: tuple[str, ...]
    body: tuple[str, ...]
    schedules: dict
    generated: tuple[GeneratedSchedule, ...]
    execution: tuple[str, ...] = ()  # the execution page, rendered once
    execution_party: tuple[str, ...] = ()  # then once for each party, with `party` in the context

    def all_keys(self) -> list[str]:
        keys = list(self.recitals) + list(self.body) + list(self.execution) + list(self.execution_party)
        for parts in self.schedules.values():
            keys += parts
        for generated in self.generated:
            keys += generated.parts + generated.each
        return keys


@dataclass(frozen=True)
class Library:
    clauses: dict
    outline: Outline
    folder: Path
    templates: Templates = field(default_factory=lambda: Templates(), compare=False, repr=False)
    # With clause library layers (build.layers): the layers in order, and the layer each clause comes from.
    layers: tuple = ()
    origins: dict = field(default_factory=dict, compare=False)


def _error(path: Path, line: int, code: str, message: str, hint: str = "") -> Diagnostic:
    return Diagnostic(Location(str(path), line, 1), ERROR, code, message, hint)


def parse_clause(path: Path) -> tuple[Clause | None, list[Diagnostic]]:
    """Split a clause file into its YAML header and its body."""
    return parse_clause_text(path.read_text(encoding="utf-8"), path)


def parse_clause_text(text: str, path: Path) -> tuple[Clause | None, list[Diagnostic]]:
    """Split the text of a clause file into its YAML header and its body; ``path`` names it in messages."""
    lines = text.split("\n")
    try:
        split = lines.index("---")
    except ValueError:
        return None, [_error(path, 1, "S75-CLAUSE", "clause file has no '---' line between header and body")]
    try:
        meta = yaml.safe_load("\n".join(lines[:split])) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return None, [_error(path, mark.line + 1 if mark else 1, "S75-CLAUSE", f"clause header is not valid YAML: {exc}")]
    if not isinstance(meta, dict):
        return None, [_error(path, 1, "S75-CLAUSE", "clause header must be 'name: value' lines")]
    problems = []
    for name in ("key", "heading"):
        if not isinstance(meta.get(name), str):
            problems.append(_error(path, 1, "S75-CLAUSE", f"clause header needs a '{name}'"))
    if meta.get("key") and meta["key"] != path.stem:
        problems.append(_error(path, 1, "S75-CLAUSE", f"clause key '{meta['key']}' does not match file name '{path.stem}'"))
    applies = meta.get("applies") or []
    applies = [applies] if isinstance(applies, str) else applies
    defines = meta.get("defines") or {}
    needs = meta.get("needs") or []
    if not (isinstance(applies, list) and all(isinstance(a, str) for a in applies)):
        problems.append(_error(path, 1, "S75-CLAUSE", "applies must be a list of conditions"))
    if not isinstance(defines, dict):
        problems.append(_error(path, 1, "S75-CLAUSE", "defines must map each term to its definition"))
    if not (isinstance(needs, list) and all(isinstance(n, str) for n in needs)):
        problems.append(_error(path, 1, "S75-CLAUSE", "needs must be a list of values such as agreement.term"))
    if problems:
        return None, problems
    return Clause(
        key=meta["key"], heading=meta["heading"], applies=tuple(applies),
        defines=tuple((str(k), str(v)) for k, v in defines.items()),
        needs=tuple(needs), body="\n".join(lines[split + 1:]),
        path=path, body_line=split + 2, item_lines=_item_lines("\n".join(lines[:split])),
    ), []


def _item_lines(header: str) -> dict[str, tuple[int, ...]]:
    """For each header field, the file line of each of its items (or of its value)."""
    node = yaml.compose(header)
    found: dict[str, tuple[int, ...]] = {}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            items = value.value if isinstance(value, yaml.SequenceNode) else [value]
            found[str(key.value)] = tuple(item.start_mark.line + 1 for item in items)
    return found


def outline_from_data(raw: dict) -> Outline:
    """The outline held by the data of an outline.yaml."""
    return Outline(
        recitals=tuple(raw.get("recitals", [])),
        body=tuple(raw.get("body", [])),
        schedules={kind: tuple(parts) for kind, parts in raw.get("schedules", {}).items()},
        generated=tuple(GeneratedSchedule(g["title"], g.get("for_each", ""), tuple(g["parts"]), g.get("key", ""),
                                          tuple(g.get("each", ()))) for g in raw.get("generated_schedules", [])),
        execution=tuple(raw.get("execution", [])),
        execution_party=tuple(raw.get("execution_party", [])),
    )


class _PathFolder:
    """The installed library (or one named for drafting) on disk, read as a source's folder is."""

    def __init__(self, path: Path):
        self.path = path
        self.display = str(path)

    def shown(self, name: str = "") -> str:
        return str(self.path / name) if name else self.display

    def names(self) -> list[str]:
        if not self.path.is_dir():
            raise LoadError(_error(self.path, 1, "S75-NOTFOUND", f"the clause library folder '{self.path}' does not exist"))
        return sorted(p.name for p in self.path.iterdir() if p.is_file())

    def read(self, name: str) -> bytes:
        try:
            return (self.path / name).read_bytes()
        except OSError as error:
            raise LoadError(_error(self.path / name, 1, "S75-NOTFOUND", f"'{self.path / name}' cannot be read: "
                                   f"{error.strerror or error}"))


def load_library(folder=None) -> Library:
    """Read every clause file and the outline; raise BuildError listing all problems.

    ``folder`` is a path, or a folder read through a source (a git revision's
    clauses/, see :mod:`assembler.source.git`); the installed library by default.
    """
    folder = folder or clauses_dir()
    if isinstance(folder, (str, os.PathLike)):
        folder = _PathFolder(Path(folder))
    problems: list[Diagnostic] = []
    clauses = {}
    try:
        names = folder.names()
    except LoadError as error:
        raise BuildError(error.diagnostics)
    for name in names:
        if not name.endswith(".clause"):
            continue
        path = Path(folder.shown(name))
        try:
            text = folder.read(name).decode("utf-8")
        except LoadError as error:
            problems += error.diagnostics
            continue
        except UnicodeDecodeError:
            problems.append(_error(path, 1, "S75-CLAUSE", "a clause file must be UTF-8 text"))
            continue
        clause, found = parse_clause_text(text, path)
        problems += found
        if clause is not None:
            clauses[clause.key] = clause
    outline_path = Path(folder.shown("outline.yaml"))
    try:
        outline = outline_from_data(yaml.safe_load(folder.read("outline.yaml").decode("utf-8")))
    except LoadError as error:
        raise BuildError(problems + list(error.diagnostics))
    except (yaml.YAMLError, UnicodeDecodeError, AttributeError, KeyError, TypeError) as exc:
        raise BuildError(problems + [_error(outline_path, 1, "S75-CLAUSE", f"the outline cannot be read: {exc}")])
    for key in outline.all_keys():
        if key not in clauses:
            problems.append(_error(outline_path, 1, "S75-CLAUSE", f"outline names clause '{key}' but there is no {key}.clause"))
    library = Library(clauses, outline, Path(folder.display))
    for key, clause in sorted(clauses.items()):
        problems += check_clause(library.templates.env, clause, clause_scopes(outline, key))
    if problems:
        raise BuildError(problems)
    return library


def clause_scopes(outline: Outline, key: str) -> dict[str, set[str]]:
    """Where the outline uses a clause: scope (BODY or SCHEDULE) -> the context names its template sees."""
    scopes: dict[str, set[str]] = {}
    if key in outline.recitals or key in outline.body:
        scopes.setdefault(BODY, set()).add("agreement")
    if any(key in parts for parts in outline.schedules.values()):
        scopes.setdefault(SCHEDULE, set()).update({"agreement", "schedule"})
    if key in outline.execution:
        scopes.setdefault(BODY, set()).add("agreement")
    if key in outline.execution_party:
        scopes.setdefault(BODY, set()).update({"agreement", "party"})  # rendered once for each party
    for generated in outline.generated:
        per_body = generated.for_each == "governance_body"
        if key in generated.each or (key in generated.parts and per_body and not generated.each):
            scopes.setdefault(BODY, set()).update({"agreement", "body"})  # rendered once for each body
        elif key in generated.parts:
            scopes.setdefault(BODY, set()).add("agreement")
    return scopes


def check_clause(env: SandboxedEnvironment, clause: Clause, scopes: dict[str, set[str]]) -> list[Diagnostic]:
    """Everything about one clause that is wrong whatever the agreement: each finding at its line.

    Template syntax; conditions, blocks, filters and functions not in the
    language (engine/language.py) or not available where the outline uses
    the clause; and ``needs`` naming a value the clause cannot see or does
    not read.
    """
    problems = check_template(env, clause)
    if problems:
        return problems
    where = " and ".join(sorted(scopes)) or "nowhere"
    for i, written in enumerate(clause.applies):
        name = condition_name(str(written))
        condition = CONDITION_NAMES.get(name)
        if condition is None:
            problems.append(Diagnostic(clause.item_location("applies", i), ERROR, "S75-CLAUSE",
                                       f"clause '{clause.key}' applies the unknown condition '{name}'",
                                       _did_you_mean(name, CONDITION_NAMES, "see the conditions in clauses/README.md")))
        elif name != "always" and scopes and set(scopes) != {condition.scope}:
            problems.append(Diagnostic(clause.item_location("applies", i), ERROR, "S75-CLAUSE",
                                       f"clause '{clause.key}' is used in the {where} but '{name}' is a {condition.scope} "
                                       "condition, so it would never hold there",
                                       f"use a {' or '.join(sorted(scopes))} condition (clauses/README.md)"))
    for number, line in enumerate(clause.body.split("\n"), start=1):
        match = BLOCK_LINE.match(line.strip())
        if not match:
            continue
        block = BLOCK_NAMES.get(match.group(1))
        if block is None:
            problems.append(Diagnostic(clause.location(number), ERROR, "S75-CLAUSE",
                                       f"clause '{clause.key}' uses the unknown block ::{match.group(1)}",
                                       _did_you_mean(match.group(1), BLOCK_NAMES, "see the blocks in clauses/README.md")))
        elif block.needs and scopes and not all(block.needs in names for names in scopes.values()):
            problems.append(Diagnostic(clause.location(number), ERROR, "S75-CLAUSE",
                                       f"clause '{clause.key}' uses ::{block.name}, which needs a {block.needs}, "
                                       f"in the {where}", f"::{block.name} belongs in a {block.where}"))
    for source, line_of in _sources(clause):
        parsed = env.parse(source)
        for node in parsed.find_all(nodes.Filter):
            if node.name not in env.filters:
                problems.append(Diagnostic(line_of(node.lineno), ERROR, "S75-CLAUSE",
                                           f"clause '{clause.key}' uses the unknown filter '{node.name}'",
                                           _did_you_mean(node.name, env.filters, "see the filters in clauses/README.md")))
        assigned = {n.name for n in parsed.find_all(nodes.Name) if n.ctx in ("store", "param")}
        for node in parsed.find_all(nodes.Call):
            if isinstance(node.node, nodes.Name) and node.node.name not in FUNCTION_NAMES and node.node.name not in assigned:
                problems.append(Diagnostic(line_of(node.lineno), ERROR, "S75-CLAUSE",
                                           f"clause '{clause.key}' calls the unknown function '{node.node.name}'",
                                           _did_you_mean(node.node.name, FUNCTION_NAMES, "the functions are law, in_force and coming")))
    return problems + _check_needs(env, clause, scopes)


def _sources(clause: Clause):
    """The clause's templates (body, then each definition), each with a way to locate a line in it."""
    yield clause.body, clause.location
    for _term, definition in clause.defines:
        yield definition, lambda _line: clause.location(1)


def _check_needs(env: SandboxedEnvironment, clause: Clause, scopes: dict[str, set[str]]) -> list[Diagnostic]:
    """Each ``needs`` entry is a value the clause can see and that it reads.

    That the value is one the model can have (a schema field or a computed
    value) is checked by the library test, which may read the schemas.
    """
    problems = []
    visible = set.intersection(*scopes.values()) if scopes else {"agreement", "schedule", "body", "party"}
    read = set()
    for source, _ in _sources(clause):
        read |= _paths_read(env.parse(source))
    for line in clause.body.split("\n"):
        match = BLOCK_LINE.match(line.strip())
        if match and match.group(1) in BLOCK_NAMES:
            read |= {tuple(path.split(".")) for path in BLOCK_NAMES[match.group(1)].reads}
    for written in clause.applies:  # a condition reads what it tests
        condition = CONDITION_NAMES.get(condition_name(str(written)))
        read |= {tuple(path.split(".")) for path in (condition.reads if condition else ())}
    for source, _ in _sources(clause):  # so does a function the clause calls
        for call in env.parse(source).find_all(nodes.Call):
            if isinstance(call.node, nodes.Name) and call.node.name in FUNCTION_NAMES:
                read |= {tuple(path.split(".")) for path in FUNCTION_NAMES[call.node.name].reads}
    for i, need in enumerate(clause.needs):
        parts = str(need).split(".")
        if parts[0] not in visible:
            problems.append(Diagnostic(clause.item_location("needs", i), ERROR, "S75-CLAUSE",
                                       f"clause '{clause.key}' needs '{need}', but where it is used it sees only "
                                       f"{', '.join(sorted(visible))}", "start the path with one of those"))
            continue
        if not any(path[:len(parts)] == tuple(parts) for path in read):
            problems.append(Diagnostic(clause.item_location("needs", i), ERROR, "S75-CLAUSE",
                                       f"clause '{clause.key}' needs '{need}' but never reads it",
                                       "remove it from needs:, or read it in the clause"))
    return problems


def _paths_read(template) -> set[tuple[str, ...]]:
    """Every dotted path a template reads from a name (``agreement.finance.audit`` -> its prefixes)."""
    paths = set()
    for node in template.find_all((nodes.Getattr, nodes.Getitem)):
        chain = []
        while isinstance(node, (nodes.Getattr, nodes.Getitem)):
            if isinstance(node, nodes.Getattr):
                chain.append(node.attr)
            elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
                chain.append(node.arg.value)
            else:
                chain = []  # agreement.parties[2]: the path stops at the index
            node = node.node
        if isinstance(node, nodes.Name):
            paths.add((node.name, *reversed(chain)))
    return paths


def _did_you_mean(name: str, known, otherwise: str) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f"did you mean '{close[0]}'?" if close else otherwise


@lru_cache(maxsize=None)
def default_library() -> Library:
    return load_library()


# --- the sandbox ---------------------------------------------------------------

SENTINEL = re.compile("\ue000(\\d+)\ue001")


_WHITESPACE = re.compile(r"\s+")


class ValueSlots:
    """Values a template prints are parked here and replaced by a private token.

    The token goes through markup parsing untouched, so a value typed in YAML
    is never read as markup or template source: it comes out as literal text.
    """

    def __init__(self) -> None:
        self.values: list[str] = []

    def park(self, value) -> str:
        """Park ``value`` and return its token.

        The token is a plain string, not Markup: it holds nothing to escape,
        so autoescaping leaves it as it is, and escaping a string is cheaper
        for Jinja than re-wrapping a Markup.
        """
        if callable(value) and not isinstance(value, Undefined):  # a method or class is Python, not agreement data
            raise SecurityError(f"printing {type(value).__name__} objects is not allowed; print a value of the agreement")
        if isinstance(value, Money):
            value = format_money(value)
        text = _WHITESPACE.sub(" ", str(value))  # a value is one run of text
        self.values.append(text)
        return f"\ue000{len(self.values) - 1}\ue001"


class _Sandbox(SandboxedEnvironment):
    """The sandbox, reading a value of the agreement's model without the general checks each time.

    Clauses read tens of thousands of record fields per build. A field of a
    Record that is not one of its methods and does not start with "_" is
    data, which the sandbox's checks always let through unchanged; anything
    else (a method, a private name, a callable value, an absent field) goes
    through them as before.
    """

    def make_globals(self, d):
        """Each template's globals as a plain dict, not Jinja's ChainMap over the environment's.

        Every render merges the globals into a new context, and a ChainMap
        is several times slower to merge. The clause globals (the law-in-force
        functions) are set once, in ``_new_environment``, before any template
        is compiled, so a copy cannot go stale.
        """
        return {**self.globals, **(d or {})}

    def getattr(self, obj, attribute):
        if type(obj) is Record and attribute not in _RECORD_ATTRIBUTES and not attribute.startswith("_"):
            value = obj._data.get(attribute, _ABSENT)
            if value is not _ABSENT and not callable(value):
                return value
        return super().getattr(obj, attribute)


_RECORD_ATTRIBUTES = frozenset(dir(Record))
_ABSENT = object()


def _new_environment(finalize, parties) -> SandboxedEnvironment:
    """The sandbox every clause renders in; ``parties()`` gives the parties for |party."""
    env = _Sandbox(
        undefined=StrictUndefined, autoescape=True, finalize=finalize,
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False,
        # {#anchor} is our paragraph-anchor markup, so Jinja comments use {## ##}.
        comment_start_string="{##", comment_end_string="##}",
    )
    # The model is the only data a clause sees: no Jinja globals (cycler, lipsum, range...),
    # only the law-in-force lookups, which read the agreement's own date.
    env.globals.clear()
    env.globals.update({f.name: f.function for f in FUNCTIONS})
    env.filters.update({f.name: _party_filter(f.function, parties) if f.reads_parties else f.function for f in FILTERS})
    return env


def _party_filter(function, parties):
    # pass_context: Jinja never folds these at compile time, so a compiled
    # template holds no party names and can be shared between agreements.
    return pass_context(lambda context, key: function(parties(), key))


def make_environment(slots: ValueSlots, parties: dict | None = None) -> SandboxedEnvironment:
    """A sandboxed Jinja environment whose printed values are parked as literal text."""
    parties = parties or {}
    return _new_environment(slots.park, lambda: parties)


# The slots and parties of the render in progress, for the shared environment.
_RENDERING: ContextVar[tuple[ValueSlots, dict]] = ContextVar("s75_rendering")


@pass_eval_context
def _park_current(eval_ctx, value) -> str:
    # pass_eval_context: never called at compile time, so constants are parked per render.
    return _RENDERING.get()[0].park(value)


class Templates:
    """Compiled clause templates, kept for the life of a library.

    Compiling a template costs far more than rendering it, and the same
    clauses render once per schedule and per build. One environment serves
    every render; what belongs to one render (the slots printed values are
    parked in, the parties for |party) is passed in a context variable, so
    the output is exactly that of a fresh ``make_environment``.
    """

    def __init__(self) -> None:
        self.env = _new_environment(_park_current, lambda: _RENDERING.get()[1])
        self.compiled: dict[str, object] = {}

    def render(self, source: str, context: dict, slots: ValueSlots, parties: dict | None = None) -> str:
        """Render ``source`` (compiled once); raises what Jinja raises, as ``from_string().render()`` would."""
        template = self.compiled.get(source)
        if template is None:
            template = self.compiled[source] = self.env.from_string(source)
        token = _RENDERING.set((slots, parties or {}))
        try:
            return template.render(**context)
        finally:
            _RENDERING.reset(token)


def check_template(env: SandboxedEnvironment, clause: Clause) -> list[Diagnostic]:
    """Template syntax errors of one clause, located in its file."""
    problems = []
    try:
        env.parse(clause.body)
    except TemplateSyntaxError as exc:
        problems.append(Diagnostic(clause.location(exc.lineno or 1), ERROR, "S75-CLAUSE", f"template error: {exc.message}"))
    for term, definition in clause.defines:
        try:
            env.parse(definition)
        except TemplateSyntaxError as exc:
            problems.append(Diagnostic(clause.location(1), ERROR, "S75-CLAUSE", f"definition of {term}: {exc.message}"))
    return problems
