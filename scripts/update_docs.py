#!/usr/bin/env python3
"""Regenerate the tables the READMEs take from the code's registries.

    python scripts/update_docs.py           # rewrite them
    python scripts/update_docs.py --check   # exit 1 and name the stale ones

clauses/README.md: the clause language (assembler/engine/language.py).
README.md: the diagnostic codes (assembler/data/codes.yaml). Each table sits
between `<!-- generated:NAME -->` and `<!-- /generated:NAME -->`;
tests/test_docs.py fails when one differs from its registry.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assembler.codes import readme_table  # noqa: E402
from assembler.engine.language import readme_tables  # noqa: E402

COMMAND = "python scripts/update_docs.py"


def generated() -> dict[Path, dict[str, str]]:
    """Each README and the text of each of its generated sections."""
    return {ROOT / "clauses" / "README.md": readme_tables(), ROOT / "README.md": {"codes": readme_table()}}


def fill(text: str, sections: dict[str, str]) -> str:
    """``text`` with each generated section replaced; a section missing its markers is an error."""
    for name, body in sections.items():
        pattern = re.compile(f"(<!-- generated:{name} -->\n).*?(<!-- /generated:{name} -->)", re.S)
        if not pattern.search(text):
            raise SystemExit(f"no <!-- generated:{name} --> section to fill")
        text = pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text)
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a table is stale")
    args = parser.parse_args()
    stale = []
    for path, sections in generated().items():
        text = path.read_text(encoding="utf-8")
        new = fill(text, sections)
        if new != text:
            stale.append(path)
            if not args.check:
                path.write_text(new, encoding="utf-8")
    for path in stale:
        print(f"{'stale' if args.check else 'wrote'} {path.relative_to(ROOT)}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
