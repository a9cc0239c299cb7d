#!/usr/bin/env python3
"""Regenerate the golden `s75 text` snapshots in tests/golden/, deliberately.

    python scripts/update_golden.py           # rewrite every snapshot
    python scripts/update_golden.py --check   # exit 1 and name the stale ones

tests/test_golden.py compares each example agreement's plain text with its
snapshot, so a change in wording or numbering shows as a diff a reviewer
reads. Run this after a change to clause text that you meant, then read
`git diff tests/golden/` before committing: every changed line should be one
you intended.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assembler.build.pipeline import assemble_source  # noqa: E402
from assembler.engine.text import render_text  # noqa: E402
from assembler.source.folder import DirectorySource  # noqa: E402

GOLDEN = ROOT / "tests" / "golden"
EXAMPLES = ROOT / "agreements"
COMMAND = "python scripts/update_golden.py"


def examples() -> list[Path]:
    return sorted(p for p in EXAMPLES.iterdir() if (p / "agreement.yaml").is_file())


def snapshot_path(example: Path) -> Path:
    return GOLDEN / f"{example.name}.txt"


def current_text(example: Path) -> str:
    """What `s75 text agreements/<name>` prints today."""
    return render_text(assemble_source(DirectorySource(str(example))).document)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a snapshot is stale")
    args = parser.parse_args()
    stale = []
    for example in examples():
        text, path = current_text(example), snapshot_path(example)
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        stale.append(path)
        if not args.check:
            GOLDEN.mkdir(exist_ok=True)
            path.write_text(text, encoding="utf-8")
    for path in stale:
        print(f"{'stale' if args.check else 'wrote'} {path.relative_to(ROOT)}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
