"""The law in force on a date, read from the law-in-force table (data/law.yaml).

An agreement speaks the law of its own date. Clauses never name a statute,
body, funding stream or toolkit directly where it has changed over the years:
they ask for a topic (``law('data-protection-act')``) and get the row in force
on the agreement's date. The table and its topics are data; this module only
reads them and answers "which one, on this day".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

import yaml

from assembler.resources import data_file


@dataclass(frozen=True)
class LawRow:
    """One statute, regulation, body, funding stream or toolkit, and when it applied."""

    key: str
    kind: str
    name: str
    short: str
    start: dt.date
    until: dt.date | None  # exclusive: the first day it no longer applies
    successor: tuple[str, ...]
    article: str = ""  # "the" where the name takes it in a sentence
    made: dt.date | None = None  # the day it was made or enacted: from then it may be named as law to come
    start_fixed: dt.date | None = None  # the day its start date was fixed (may be later than made)

    @property
    def cite(self) -> str:
        """The name as a sentence uses it: "the NHS Counter Fraud Authority", "NHS Resolution"."""
        return f"{self.article} {self.name}" if self.article else self.name

    def in_force(self, day: dt.date) -> bool:
        return self.start <= day and (self.until is None or day < self.until)

    def known(self, day: dt.date) -> bool:
        """Made by ``day`` (so an agreement of that date may name it as law to come), though perhaps not yet in force."""
        return self.made is not None and self.made <= day


@lru_cache(maxsize=None)
def _table() -> tuple[dict[str, LawRow], dict[str, tuple[str, ...]]]:
    raw = yaml.safe_load(data_file("law.yaml").read_text(encoding="utf-8"))
    rows = {r["key"]: LawRow(r["key"], r["kind"], r["name"], r.get("short") or r["name"], r["from"], r.get("until"),
                             tuple(r.get("successor") or ()), r.get("article", ""), r.get("made"), r.get("start_fixed"))
            for r in raw["law"]}
    topics = {name: tuple(keys) for name, keys in (raw.get("topics") or {}).items()}
    return rows, topics


def law_rows() -> dict[str, LawRow]:
    """Every row of the table, by key."""
    return _table()[0]


def law_topics() -> dict[str, tuple[str, ...]]:
    """Topic -> the rows that have answered it over time, oldest first."""
    return _table()[1]


def candidates(topic: str) -> tuple[LawRow, ...]:
    """The rows a topic (or a single row's key) may resolve to; KeyError for an unknown name."""
    rows, topics = _table()
    keys = topics.get(topic) or ((topic,) if topic in rows else None)
    if keys is None:
        raise KeyError(f"'{topic}' is neither a topic nor a row of the law table (assembler/data/law.yaml)")
    return tuple(rows[k] for k in keys)


def in_force(topic: str, day: dt.date) -> LawRow | None:
    """The row answering ``topic`` on ``day``, or None if none did."""
    return next((row for row in candidates(topic) if row.in_force(day)), None)


def coming(topic: str, day: dt.date, until: dt.date) -> tuple[LawRow, ...]:
    """The rows of ``topic`` that start after ``day`` but by ``until`` (an agreement's term) and that had been made
    by ``day``: law an agreement of that date knows is coming and must provide for. Law not yet made is left to the
    words "as amended or replaced from time to time"."""
    return tuple(row for row in candidates(topic) if day < row.start <= until and row.known(day))


def as_date(value) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
