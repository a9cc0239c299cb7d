"""A new agreement or schedule as YAML text: every field to decide, each with its help.

`s75 new` starts a commissioner from the fields the statute and the schemas
need rather than from an example to prune. Which fields, and the value each
starts with (tbc, or the usual choice of an enum), are data
(data/scaffold.yaml); the help written above each field is the schema's own
title and description, so the editor's hover text and the file agree. What
is written validates as a draft, with a warning for each tbc.
"""

from __future__ import annotations

import datetime as dt
import textwrap
from functools import lru_cache

import yaml

from assembler.check.schema import inlined_schema
from assembler.model import COUNCIL_KINDS, NHS_KINDS
from assembler.resources import data_file

ARRANGEMENTS = ("pooled_fund", "aligned_budget", "lead_commissioning", "integrated_provision")
ICBS_FROM = dt.date(2022, 7, 1)
WIDTH = 100


@lru_cache(maxsize=None)
def _skeletons() -> dict:
    return yaml.safe_load(data_file("scaffold.yaml").read_text(encoding="utf-8"))


def default_commencement(today: dt.date) -> dt.date:
    """The next 1 April after ``today``: agreements usually start with a financial year."""
    april = dt.date(today.year, 4, 1)
    return april if today < april else dt.date(today.year + 1, 4, 1)


def financial_year(day: dt.date) -> str:
    """'2026-27' for any day from 1 April 2026 to 31 March 2027."""
    start = day.year if day >= dt.date(day.year, 4, 1) else day.year - 1
    return f"{start}-{(start + 1) % 100:02d}"


def agreement_yaml(commencement: dt.date, schema_dir: str) -> str:
    """agreement.yaml for a new agreement between an NHS body and a council."""
    values = {"$nhs": "icb" if commencement >= ICBS_FROM else "ccg", "$council": "council",
              "$commencement": commencement.isoformat(), "$year": financial_year(commencement)}
    values["$nhs_kind"] = values["$nhs"]
    data = _fill(_skeletons()["agreement"], values)
    return _document(data, "framework", schema_dir)


def schedule_yaml(framework: dict, key: str, arrangement: str | None, bcf: bool, s256: bool,
                  schema_dir: str) -> str:
    """schedules/KEY.yaml for the agreement whose agreement.yaml holds ``framework``.

    The partners are its first NHS body and first council; the first
    financial year is its commencement's.
    """
    skeletons = _skeletons()
    if s256:
        data = skeletons["s256"]
    else:
        data = _merged(skeletons["schedule"], skeletons["arrangement"][arrangement])
        data["arrangements"] = [arrangement]
        if bcf:
            data = _merged(data, skeletons["better_care_fund"])
    parties = framework.get("parties") or []
    commencement = dt.date.fromisoformat(str(framework["commencement"]))
    values = {
        "$nhs": next((p["key"] for p in parties if p.get("kind") in NHS_KINDS), "nhs"),
        "$council": next((p["key"] for p in parties if p.get("kind") in COUNCIL_KINDS), "council"),
        "$key": key,
        "$year": financial_year(commencement),
    }
    bodies = (framework.get("governance") or {}).get("bodies") or [{}]
    data = _fill(data, values)
    if "governance_body" in data:
        data["governance_body"] = bodies[0].get("key", "board")
    return _document(_ordered(data), "schedule", schema_dir)


def _merged(base: dict, extra: dict) -> dict:
    out = dict(base)
    for name, value in extra.items():
        out[name] = _merged(out[name], value) if isinstance(value, dict) and isinstance(out.get(name), dict) else value
    return out


def _ordered(data: dict) -> dict:
    """Keys in the schema's order, so a file reads as the help does."""
    order = list(inlined_schema("schedule")["properties"])
    return {k: data[k] for k in sorted(data, key=lambda k: order.index(k) if k in order else len(order))}


def _fill(node, values: dict):
    if isinstance(node, dict):
        return {_fill(k, values): _fill(v, values) for k, v in node.items()}
    if isinstance(node, list):
        return [_fill(item, values) for item in node]
    return values.get(node, node) if isinstance(node, str) else node


# --- writing YAML with the schema's help as comments -----------------------


def _document(data: dict, schema_name: str, schema_dir: str) -> str:
    lines = [f"# yaml-language-server: $schema={schema_dir}/{schema_name}.schema.json",
             "# Written by `s75 new`. Replace each tbc; the comment above a field is its help",
             "# (also `s75 schema " + schema_name + "`). `s75 validate` lists what is left to decide."]
    lines += _mapping(data, inlined_schema(schema_name), 0, helped=set())
    return "\n".join(lines) + "\n"


def _child(schema: dict, key) -> dict:
    """The schema of ``key`` in a mapping described by ``schema``."""
    if key in schema.get("properties", {}):
        return schema["properties"][key]
    extra = schema.get("additionalProperties")
    return extra if isinstance(extra, dict) else {}


def _help(schema: dict, indent: int) -> list[str]:
    title, description = schema.get("title", ""), schema.get("description", "")
    text = f"{title}: {description}" if title and description else title or description
    options = schema.get("enum") or []
    if options and not all(str(o) in text for o in options):
        text += " One of: " + ", ".join(map(str, options)) + "."
    if not text:
        return []
    prefix = " " * indent + "# "
    return textwrap.wrap(text, WIDTH - len(prefix), initial_indent=prefix, subsequent_indent=prefix)


def _mapping(data: dict, schema: dict, indent: int, helped: set, first_prefix: str = "") -> list[str]:
    """Lines of a mapping; each field's help is written once, above its first use (``helped``
    holds the schemas already explained, so a list's second item is not explained again)."""
    lines: list[str] = []
    for n, (key, value) in enumerate(data.items()):
        child = _child(schema, key)
        pad = " " * indent
        head = (first_prefix if n == 0 and first_prefix else pad) + f"{_scalar(key)}:"
        if id(child) not in helped:
            helped.add(id(child))
            # the help of a list item's first key goes above its "- ", at the dash's column
            lines += _help(child, indent - 2 if n == 0 and first_prefix else indent)
        lines += _value(head, value, child, indent, helped)
    return lines


def _value(head: str, value, schema: dict, indent: int, helped: set) -> list[str]:
    if isinstance(value, dict) and value:
        return [head] + _mapping(value, schema, indent + 2, helped)
    if isinstance(value, list) and value:
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        lines = [head]
        for item in value:
            if isinstance(item, dict):
                lines += _mapping(item, items, indent + 4, helped, first_prefix=" " * (indent + 2) + "- ")
            else:
                lines.append(" " * (indent + 2) + "- " + _scalar(item))
        return lines
    return [f"{head} {_scalar(value)}"]


def _scalar(value) -> str:
    if isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-":
        return value  # a date: YAML 1.2 reads it as text, as the schema wants
    text = yaml.safe_dump(value, default_flow_style=True, width=10**6, allow_unicode=True)
    return text.removesuffix("\n").removesuffix("\n...").strip()
