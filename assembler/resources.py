"""Find the data the program ships with: schemas, clause library, template.

In a source checkout they sit at the top of the repository; in an installed
wheel they are data folders inside ``assembler`` (see pyproject.toml). Both are
looked up here and nowhere else.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parent.parent


@lru_cache(maxsize=None)
def _folder(name: str) -> Path:
    """The folder holding ``schemas`` or ``clauses``, installed or checked out."""
    checkout = _REPO_ROOT / name
    if checkout.is_dir() and (_REPO_ROOT / "pyproject.toml").is_file():
        return checkout
    return Path(__file__).resolve().parent / name  # installed: assembler/<name>/


def schemas_dir() -> Path:
    return _folder("schemas")


def clauses_dir() -> Path:
    return _folder("clauses")


def data_file(name: str) -> Path:
    return Path(__file__).resolve().parent / "data" / name
