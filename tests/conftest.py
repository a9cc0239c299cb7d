"""Shared helpers: example agreements, a temporary copy to edit, a small clause library."""

from __future__ import annotations

import shutil
import sys
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


@pytest.fixture
def final_copy(base_copy: Path) -> Path:
    """The small valid agreement with status: final: every fact settled, so it builds as a signing copy.

    No example under agreements/ is final: each leaves open what its source
    report does not give.
    """
    edit(base_copy / "agreement.yaml", "status: draft", "status: final")
    return base_copy


def edit(path: Path, old: str, new: str) -> None:
    """Replace one exact piece of a YAML file; fail loudly if it is not there."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


# One finding as the CLI prints it.
FINDING_LINE = r"^.+:\d+:\d+: (error|warning) \[S75-[A-Z0-9-]+\] .+"


def s75(capsys, monkeypatch, *args: str) -> tuple[int, str, str]:
    """Run ``s75 ARGS`` in process through main() (the real entry point); (exit code, stdout, stderr)."""
    from assembler.cli import main

    monkeypatch.setattr(sys, "argv", ["s75", *args])
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err
