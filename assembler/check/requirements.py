"""The statutory requirement table (data/requirements.yaml) and where each row is met.

The validator reports an unmet row with the row's code; the compliance
report lists every row with its YAML location and the clause that states it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Iterator

import yaml

from assembler.diagnostics import ERROR, Diagnostic, Location
from assembler.source.yamlfile import YamlFile
from assembler.model import line_spender
from assembler.resources import data_file


@dataclass(frozen=True)
class Requirement:
    id: str
    code: str
    regulation: str
    requirement: str
    scopes: tuple[str, ...]
    yaml: tuple[str, ...]
    clause: str
    hint: str
    when: str | None = None  # a condition in CONDITIONS: the row applies only where it holds


@lru_cache(maxsize=None)
def requirements() -> tuple[Requirement, ...]:
    rows = yaml.safe_load(data_file("requirements.yaml").read_text(encoding="utf-8"))
    return tuple(
        Requirement(r["id"], r["code"], r["regulation"], r["requirement"], tuple(r["scope"].split()),
                    tuple(r["yaml"]), r["clause"], r.get("hint", ""), r.get("when"))
        for r in rows
    )


def schedule_scopes(data: dict) -> set[str]:
    """Which requirement scopes a schedule falls under."""
    scopes = set(data.get("arrangements", [])) if data.get("kind") == "scheme" else set()
    if data.get("better_care_fund"):
        scopes.add("better_care_fund")
    return scopes


def money_moves(data: dict) -> bool:
    """Outside a pooled fund, one partner's money pays for a line another partner controls, so it must be paid
    across: reg 8 and reg 9 then need the payment stated (who pays whom, how much, when, against what)."""
    if "pooled_fund" in (data.get("arrangements") or []):
        return False
    for line in data.get("lines") or []:
        if not isinstance(line, Mapping):
            continue
        payers = {p for amounts in (line.get("contributions") or {}).values() if isinstance(amounts, Mapping)
                  for p, amount in amounts.items() if str(amount) not in ("0", "0.0", "0.00")}
        controller = line_spender(line, data)
        if payers - {controller} and (controller is not None or len(payers) > 1):
            return True
    return False


# The conditions a requirement row may name under when: (data/requirements.yaml).
CONDITIONS: dict[str, Callable[[dict], bool]] = {"money_moves": money_moves}


def _lookup(data: Any, dotted: str) -> tuple[bool, tuple]:
    """Is the dotted path present and non-empty? Also the deepest path that exists."""
    node, path = data, ()
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False, path
        node, path = node[part], path + (part,)
    present = node not in (None, "", [], {})
    return present, path


# What a value still says when the partners have not settled it: present in the
# YAML, but no substance for the requirement (compared after strip and lower).
PENDING_WORDS = frozenset({"tbc", "tba", "tbd", "to be confirmed", "to be agreed", "to be decided"})
PLACEHOLDER = "\u25cf"  # the black circle of a "[●]" drafting placeholder


def pending_reason(value: Any) -> str:
    """Why a scalar is a placeholder rather than substance ("" when it is substance)."""
    if not isinstance(value, str):
        return ""
    text = value.strip()
    if not text:
        return "is blank"
    if text.lower() in PENDING_WORDS:
        return f"is still '{text}'"
    if PLACEHOLDER in text:
        return "holds a [\u25cf] placeholder"
    return ""


def pending_values(data: Any, path: tuple = ()) -> Iterator[tuple[tuple, str]]:
    """Every (path, reason) under ``data`` whose value is tbc, blank or a placeholder."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield from pending_values(value, path + (key,))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from pending_values(value, path + (i,))
    else:
        reason = pending_reason(data)
        if reason:
            yield path, reason


@dataclass(frozen=True)
class Check:
    """One requirement checked against one file: met, and where; incomplete, and why."""

    requirement: Requirement
    doc: YamlFile
    met: bool
    locations: tuple[Location, ...]
    missing: tuple[str, ...]
    incomplete: tuple[tuple[Location, str], ...] = ()  # present but tbc, blank or a placeholder

    @property
    def complete(self) -> bool:
        return self.met and not self.incomplete


def _target(dotted: str, doc: YamlFile, framework: YamlFile) -> tuple[YamlFile, str]:
    """The file a requirement's key is in ("agreement." keys are agreement.yaml's) and the key within it."""
    return (framework if dotted.startswith("agreement.") else doc), dotted.removeprefix("agreement.")


def check(req: Requirement, doc: YamlFile, framework: YamlFile) -> Check:
    locations, missing, incomplete = [], [], []
    for dotted in req.yaml:
        target, name = _target(dotted, doc, framework)
        present, path = _lookup(target.data, name)
        if present:
            locations.append(target.source.locate(path))
            node = _value(target.data, path)
            for where, reason in pending_values(node, path):
                shown = ".".join(str(part) for part in where)
                incomplete.append((target.source.locate(where), f"{shown} {reason}"))
        else:
            missing.append(dotted)
    return Check(req, doc, not missing, tuple(locations), tuple(missing), tuple(incomplete))


def _value(data: Any, path: tuple) -> Any:
    for part in path:
        data = data[part]
    return data


def applicable(framework: YamlFile, schedules: tuple[YamlFile, ...]) -> Iterator[tuple[Requirement, YamlFile]]:
    """Every (requirement, file) pair that applies, in table order, framework first."""
    for req in requirements():
        if "framework" in req.scopes:
            yield req, framework
    for doc in schedules:
        scopes = schedule_scopes(doc.data)
        for req in requirements():
            if scopes & set(req.scopes) and (req.when is None or CONDITIONS[req.when](doc.data)):
                yield req, doc


def applicable_checks(framework: YamlFile, schedules: tuple[YamlFile, ...]) -> Iterator[Check]:
    """The check of every (requirement, file) pair that applies, in table order, framework first."""
    for req, doc in applicable(framework, schedules):
        yield check(req, doc, framework)


def missing(req: Requirement, doc: YamlFile, framework: YamlFile) -> tuple[str, ...]:
    """The keys ``req`` needs that ``doc`` (or agreement.yaml) lacks: ``check(...).missing`` without reading the
    values that are there for placeholders, or looking up where they are."""
    lacking = []
    for dotted in req.yaml:
        target, name = _target(dotted, doc, framework)
        if not _lookup(target.data, name)[0]:
            lacking.append(dotted)
    return tuple(lacking)


def requirement_findings(framework: YamlFile, schedules: tuple[YamlFile, ...]) -> list[Diagnostic]:
    """One finding per missing item: where two regulations need the same missing key (a
    host partner: reg 7(3)(g) and reg 7(4)), one finding names both."""
    groups: dict[tuple, list[tuple[Requirement, YamlFile, tuple[str, ...]]]] = {}
    for req, doc in applicable(framework, schedules):
        lacks = missing(req, doc, framework)
        if lacks:
            groups.setdefault((id(doc), lacks[0]), []).append((req, doc, lacks))
    findings = []
    for (_, dotted), results in groups.items():
        # Report at the deepest part of the first missing path that exists.
        target, name = _target(dotted, results[0][1], framework)
        _, path = _lookup(target.data, name)
        location = target.source.key_location(path) if path else target.source.locate(())
        reqs = [req for req, _, _ in results]
        lacking = list(dict.fromkeys(m for _, _, lacks in results for m in lacks))
        regulations = _and([r.regulation for r in reqs])
        verb = "requires" if len(reqs) == 1 else "require"
        said = "; and ".join(r.requirement[0].lower() + r.requirement[1:].rstrip(".") for r in reqs)
        findings.append(Diagnostic(
            location, ERROR, reqs[0].code,
            f"{regulations} {verb}: {said}. Missing: {', '.join(lacking)}",
            reqs[0].hint,
        ))
    return findings


def _and(items: list[str]) -> str:
    items = list(dict.fromkeys(items))
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
