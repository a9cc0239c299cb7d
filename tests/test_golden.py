"""Golden text: each example agreement's `s75 text` output is kept in tests/golden/ and compared.

An unintended change of wording, numbering or a table shows here as a diff.
A deliberate one is recorded by regenerating the snapshots with the command
named in the failure, and reviewed in `git diff tests/golden/`.
"""

from __future__ import annotations

import difflib
import importlib.util

import pytest

from tests.conftest import EXAMPLES, ROOT

_spec = importlib.util.spec_from_file_location("update_golden", ROOT / "scripts" / "update_golden.py")
update_golden = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(update_golden)


def test_there_is_a_snapshot_for_every_example_and_no_other():
    assert sorted(p.name for p in update_golden.GOLDEN.glob("*.txt")) == sorted(f"{e.name}.txt" for e in EXAMPLES), (
        f"regenerate the snapshots with: {update_golden.COMMAND}")


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_text_matches_the_golden_snapshot(example):
    path = update_golden.snapshot_path(example)
    expected = path.read_text(encoding="utf-8") if path.exists() else ""
    actual = update_golden.current_text(example)
    if actual != expected:
        diff = list(difflib.unified_diff(expected.splitlines(), actual.splitlines(),
                                         f"{path.relative_to(ROOT)} (snapshot)", "s75 text (now)", lineterm="", n=2))
        shown = "\n".join(diff[:80]) + (f"\n... {len(diff) - 80} more diff lines" if len(diff) > 80 else "")
        pytest.fail(f"s75 text {example.relative_to(ROOT)} differs from its golden snapshot.\n{shown}\n\n"
                    f"If the change is deliberate, regenerate the snapshots with: {update_golden.COMMAND}\n"
                    "and read `git diff tests/golden/` before committing.", pytrace=False)
