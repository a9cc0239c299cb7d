"""The clause library on disk: clause files, the outline, and the Jinja sandbox.

Reading and checking the library is separate from rendering an agreement, so
the library test can check every template without any agreement.
See clauses/README.md for the file format.
"""

from __future__ import annotations

import os
import re
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml
from jinja2 import StrictUndefined, TemplateSyntaxError, Undefined, pass_context, pass_eval_context
from jinja2.sandbox import SandboxedEnvironment, SecurityError
from markupsafe import Markup

from assembler import law
from assembler.diagnostics import ERROR, BuildError, Diagnostic, LoadError, Location
from assembler.model import format_date, format_money, Money
from assembler.resources import clauses_dir

# Conditions a clause may name in `applies` (evaluated in render.conditions).
BODY_CONDITIONS = frozenset({
    "always", "any_pooled_fund", "any_aligned_budget", "any_lead_commissioning", "any_integrated_provision",
    "any_commissioning", "any_s256", "any_capital", "any_better_care_fund", "any_phased",
    "risk_own_overspend", "risk_proportional", "risk_joint_risk_pool", "risk_cascade",
    "has_extension", "has_information_sharing", "backdated", "has_succession", "ccg_past_abolition", "any_succession",
    "has_supersedes",
})
SCHEDULE_CONDITIONS = frozenset({
    "pooled_fund", "aligned_budget", "lead_commissioning", "integrated_provision", "better_care_fund",
    "phased", "has_lines", "has_capital", "dfg_pass_through", "risk_override", "underspend_override",
    "has_governance_body", "has_performance", "has_sign_off", "mental_health_aftercare",
})
BLOCKS = frozenset({"definitions", "contributions", "partner-totals", "performance", "members", "notices",
                    "signatures", "sign-off"})

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

    def location(self, line_in_body: int = 1) -> Location:
        return Location(str(self.path), self.body_line + line_in_body - 1, 1)


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
        path=path, body_line=split + 2,
    ), []


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
    if problems:
        raise BuildError(problems)
    return Library(clauses, outline, Path(folder.display))


@lru_cache(maxsize=None)
def default_library() -> Library:
    return load_library()


# --- the sandbox ---------------------------------------------------------------

SENTINEL = re.compile("\ue000(\\d+)\ue001")


class ValueSlots:
    """Values a template prints are parked here and replaced by a private token.

    The token goes through markup parsing untouched, so a value typed in YAML
    is never read as markup or template source: it comes out as literal text.
    """

    def __init__(self) -> None:
        self.values: list[str] = []

    def park(self, value) -> Markup:
        if callable(value) and not isinstance(value, Undefined):  # a method or class is Python, not agreement data
            raise SecurityError(f"printing {type(value).__name__} objects is not allowed; print a value of the agreement")
        if isinstance(value, Money):
            value = format_money(value)
        text = re.sub(r"\s+", " ", str(value))  # a value is one run of text
        self.values.append(text)
        return Markup(f"\ue000{len(self.values) - 1}\ue001")


def _join(words, last: str) -> str:
    items = [str(w) for w in words]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {last} " + items[-1]


def _lower_first(text) -> str:
    """"The Council" -> "the Council", but "NHS England" stays as it is."""
    text = str(text)
    if text[1:2].isupper():
        return text
    return text[:1].lower() + text[1:]


def _sentence(text) -> str:
    """A YAML value used as a whole sentence: ends with a full stop, whatever was typed."""
    text = str(text).rstrip()
    return text if text.endswith((".", "!", "?")) else text + "."


def _law_day(context):
    return law.as_date(context["agreement"].law_date)


@pass_context
def _law(context, topic: str, form: str = "name") -> str:
    """What answered ``topic`` on the agreement's date: its name, ``form='short'`` or ``form='cite'`` (with "the")."""
    row = law.in_force(topic, _law_day(context))
    if row is None:
        raise ValueError(f"nothing answering '{topic}' in the law table was in force on {_law_day(context)}; "
                         f"guard the text with in_force('{topic}')")
    return {"short": row.short, "cite": row.cite}.get(form, row.name)


@pass_context
def _in_force(context, topic: str) -> bool:
    return law.in_force(topic, _law_day(context)) is not None


# The functions a clause may call: the law of the agreement's date (assembler/data/law.yaml).
GLOBALS = {"law": _law, "in_force": _in_force}


def _new_environment(finalize, parties) -> SandboxedEnvironment:
    """The sandbox every clause renders in; ``parties()`` gives the parties for |party."""
    env = SandboxedEnvironment(
        undefined=StrictUndefined, autoescape=True, finalize=finalize,
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False,
        # {#anchor} is our paragraph-anchor markup, so Jinja comments use {## ##}.
        comment_start_string="{##", comment_end_string="##}",
    )
    # The model is the only data a clause sees: no Jinja globals (cycler, lipsum, range...),
    # only the law-in-force lookups, which read the agreement's own date.
    env.globals.clear()
    env.globals.update(GLOBALS)
    env.filters.update({
        "date": format_date,
        "money": lambda m: format_money(m if isinstance(m, Money) else Money.parse(m)),
        "join_and": lambda words: _join(words, "and"),
        "join_or": lambda words: _join(words, "or"),
        # pass_context: Jinja never folds these at compile time, so a compiled
        # template holds no party names and can be shared between agreements.
        "party": pass_context(lambda context, key: parties()[key]["short_name"]),
        "party_name": pass_context(lambda context, key: parties()[key]["name"]),
        "lower_first": _lower_first,
        "sentence": _sentence,
    })
    return env


def make_environment(slots: ValueSlots, parties: dict | None = None) -> SandboxedEnvironment:
    """A sandboxed Jinja environment whose printed values are parked as literal text."""
    parties = parties or {}
    return _new_environment(slots.park, lambda: parties)


# The slots and parties of the render in progress, for the shared environment.
_RENDERING: ContextVar[tuple[ValueSlots, dict]] = ContextVar("s75_rendering")


@pass_eval_context
def _park_current(eval_ctx, value) -> Markup:
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
