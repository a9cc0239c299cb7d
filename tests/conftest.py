"""Shared helpers: example agreements, a temporary copy to edit, a small clause library."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(p for p in (ROOT / "agreements").iterdir() if (p / "agreement.yaml").is_file())
BASE = ROOT / "tests" / "cases" / "base"
FIXTURE_LIBRARY = ROOT / "tests" / "fixtures" / "library"


@pytest.fixture
def base_copy(tmp_path: Path) -> Path:
    """A throwaway copy of the small valid agreement, safe to edit."""
    target = tmp_path / "agreement"
    shutil.copytree(BASE, target)
    return target


def edit(path: Path, old: str, new: str) -> None:
    """Replace one exact piece of a YAML file; fail loudly if it is not there."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
