"""The registry of diagnostic codes is complete, used and documented; one duty has one code."""

from __future__ import annotations

import re

import yaml

from assembler.codes import codes
from tests.conftest import ROOT

PACKAGE = ROOT / "assembler"
LITERAL = re.compile(r"""["'](S75-[A-Z0-9]+(?:-[A-Z0-9]+)*)["']""")


def _raised_in_source() -> dict[str, str]:
    """Every code written as a string literal in the package's Python, with one place it is written."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            for code in LITERAL.findall(line):
                found.setdefault(code, f"{path.relative_to(ROOT)}:{number}")
    return found


def _codes_in_data() -> dict[str, str]:
    """Every ``code:`` value of the data tables (the requirement table) other than the registry itself."""
    found = {}

    def walk(node, where):
        if isinstance(node, dict):
            if isinstance(node.get("code"), str):
                found.setdefault(node["code"], where)
            for value in node.values():
                walk(value, where)
        elif isinstance(node, list):
            for value in node:
                walk(value, where)

    for path in sorted((PACKAGE / "data").glob("*.yaml")):
        if path.name != "codes.yaml":
            walk(yaml.safe_load(path.read_text(encoding="utf-8")), str(path.relative_to(ROOT)))
    return found


def test_the_scan_finds_codes_where_they_are_raised():
    raised = _raised_in_source()
    assert raised["S75-XREF"].startswith("assembler/engine/xref.py")
    assert _codes_in_data()["S75-R7-3A"] == "assembler/data/requirements.yaml"


def test_every_code_raised_is_registered():
    used = {**_raised_in_source(), **_codes_in_data()}
    missing = {code: where for code, where in used.items() if code not in codes()}
    assert not missing, f"add these to assembler/data/codes.yaml: {missing}"


def test_every_registered_code_is_raised_somewhere():
    used = set(_raised_in_source()) | set(_codes_in_data())
    assert not set(codes()) - used, f"registered but never raised: {sorted(set(codes()) - used)}"


def test_every_code_is_in_the_readme_with_its_meaning():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for code in codes().values():
        assert f"| `{code.code}` | {code.stage} | {code.meaning} |" in readme, code.code
        assert (ROOT / code.docs.split("#")[0]).is_file(), code.docs
        assert code.stage in {"source", "check", "engine", "word", "build", "review", "cli"}


def test_one_code_per_duty_better_care_fund_pooling():
    """The requirement row and the rule that a BCF schedule is pooled report the one code."""
    requirement = [c for c, where in _codes_in_data().items() if "BCF" in c]
    assert requirement == ["S75-BCF"]
    assert "S75-R-BCF-POOL" not in codes()
