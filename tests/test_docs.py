"""The README tables generated from the registries (clause language, diagnostic codes) agree with them."""

from __future__ import annotations

import importlib.util

import pytest

from assembler.engine import language
from tests.conftest import ROOT

_spec = importlib.util.spec_from_file_location("update_docs", ROOT / "scripts" / "update_docs.py")
update_docs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(update_docs)


@pytest.mark.parametrize("path", list(update_docs.generated()), ids=lambda p: str(p.relative_to(ROOT)))
def test_generated_tables_are_up_to_date(path):
    text = path.read_text(encoding="utf-8")
    assert update_docs.fill(text, update_docs.generated()[path]) == text, (
        f"{path.relative_to(ROOT)} is out of step with its registry; run: {update_docs.COMMAND}")


def test_every_condition_filter_block_and_function_is_in_the_clause_readme():
    readme = (ROOT / "clauses" / "README.md").read_text(encoding="utf-8")
    names = ([f"`{c.name}`" for c in language.CONDITIONS] + [f"`::{b.name}`" for b in language.BLOCKS]
             + [f"`{f.name}`" for f in language.FILTERS] + [f"`{f.name}`" for f in language.FUNCTIONS])
    assert [n for n in names if n not in readme] == []
