"""Mechanics written as data come out as drafted sentences; no YAML prose is pasted inside quotation marks."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from assembler.build.pipeline import assemble_source
from assembler.engine.text import render_text
from assembler.source.folder import DirectorySource

from conftest import BASE, EXAMPLES

CASE = Path(__file__).parent / "cases" / "valid" / "structured-governance-wording"


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def structured(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("case") / "agreement"
    shutil.copytree(BASE, root)
    for source in CASE.rglob("*.yaml"):
        target = root / source.relative_to(CASE)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    return flat(render_text(assemble_source(DirectorySource(str(root))).document))


def test_reports_are_drafted_one_per_item(structured):
    assert ("(a) the Pool Manager must report each month to the Joint Commissioning Board on income and spending; "
            "and (b) the Council must report each quarter to the Joint Commissioning Board, through the Finance "
            "Subgroup, on activity.") in structured


def test_review_names_the_body_month_timing_and_triggers(structured):
    assert ("The Joint Commissioning Board must review the Scheme at least once in each Financial Year, in January, "
            "before the Partners set their budgets for the next Financial Year, and also when the Better Care Fund "
            "plan is refreshed.") in structured


def test_variation_says_who_agrees_when_and_what_may_move(structured):
    assert ("The Contributions for each Financial Year are agreed in writing by the Partners to the Scheme in each "
            "Partner’s budget-setting round for that year, having regard to expected activity. During a Financial Year "
            "the Joint Commissioning Board may move Contributions between the lines of the Scheme, so long as no "
            "Partner’s total Contribution for the year changes.") in structured


def test_purpose_and_chair_are_drafted(structured):
    assert ("The purpose of the Joint Commissioning Board is to: (a) oversee the Schemes and the Pooled Fund; and "
            "(b) agree changes to the schedules.") in structured
    assert ("The Joint Commissioning Board is chaired in turn by the Council's Director of Adult Services and the "
            "CCG's Chief Operating Officer, as they agree between them.") in structured


def _strings(node):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_no_yaml_prose_is_quoted(example):
    """A quotation may name a short title (a scheme, a line); a sentence of YAML must never sit in quotes."""
    prose = {" ".join(s.split()) for f in example.rglob("*.yaml")
             for s in _strings(yaml.safe_load(f.read_text(encoding="utf-8"))) if len(s.split()) > 8}
    text = flat(render_text(assemble_source(DirectorySource(str(example))).document))
    quoted = [q for q in re.findall(r"“([^”]+)”", text)
              if len(q.split()) > 8 and any(q.rstrip(".") in p or p in q for p in prose)]
    assert not quoted, quoted[:3]
    assert "for the purposes of regulation" not in text and "This paragraph specifies" not in text
