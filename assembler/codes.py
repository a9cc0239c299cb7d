"""The registry of diagnostic codes (data/codes.yaml and the requirement table): each code once, with what it means.

A code is a promise to users and their scripts: stable, and one per duty.
tests/test_codes.py checks that every code raised in assembler/ is here and
every code here is raised; README.md's table of codes is generated from it
(scripts/update_docs.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import yaml

from assembler.resources import data_file

REQUIREMENTS_DOCS = "assembler/data/requirements.yaml"


@dataclass(frozen=True)
class Code:
    code: str
    stage: str
    meaning: str
    docs: str


@lru_cache(maxsize=None)
def codes() -> dict[str, Code]:
    """codes.yaml's codes, then each requirement row's code (its regulation and wording as meaning)."""
    rows = yaml.safe_load(data_file("codes.yaml").read_text(encoding="utf-8"))
    found = {row["code"]: Code(row["code"], row["stage"], row["meaning"], row["docs"]) for row in rows}
    for row in yaml.safe_load(data_file("requirements.yaml").read_text(encoding="utf-8")):
        meaning = f"{row['regulation']} is not met: {row['requirement'][0].lower()}{row['requirement'][1:]}"
        found.setdefault(row["code"], Code(row["code"], "check", meaning, REQUIREMENTS_DOCS))
    return found


def readme_table() -> str:
    """The codes as README.md lists them, in the order of the registry."""
    lines = ["| code | stage | meaning |", "| --- | --- | --- |"]
    lines += [f"| `{c.code}` | {c.stage} | {c.meaning} |" for c in codes().values()]
    return "\n".join(lines)
