"""s75 reads YAML as the editor does: a table of edge cases through s75 and check-jsonschema.

Editors check agreement files with the YAML language server, and CI often
with check-jsonschema; both read YAML 1.2. Each case below changes one value
of the base agreement and runs the file through s75 (loader and schema
check) and through check-jsonschema against the same JSON Schema; the two
must accept and refuse the same files. The only differences are deliberate
and listed in DELIBERATE: s75 is stricter about money (and numbers), refusing
forms that check-jsonschema's YAML library (ruamel.yaml) reads as whole
numbers but the YAML 1.2 core schema, and so the editor, reads as text or in
another base.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from assembler.check.schema import check_shape
from assembler.source.yamlfile import load_yaml_bytes

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "tests" / "cases" / "base"
SCHEDULE = "schedules/pool.yaml"
FRAMEWORK = "agreement.yaml"
SCHEMA = {SCHEDULE: "schedule", FRAMEWORK: "framework"}

MONEY = (SCHEDULE, "        ccg: 900000")
TEXT = (FRAMEWORK, "title: Northbridge Health and Care Partnership Agreement")
DATE = (FRAMEWORK, "commencement: 2017-04-01")
VOTING = (FRAMEWORK, "          voting: true")
BCF = (SCHEDULE, "kind: scheme")

# (name, (file, line to replace), replacement, s75 accepts it)
CASES = [
    ("bool-yes", BCF, "kind: scheme\nbetter_care_fund: yes", False),
    ("bool-Yes", BCF, "kind: scheme\nbetter_care_fund: Yes", False),
    ("bool-on", BCF, "kind: scheme\nbetter_care_fund: on", False),
    ("bool-n", BCF, "kind: scheme\nbetter_care_fund: n", False),
    ("bool-True", BCF, "kind: scheme\nbetter_care_fund: True", True),
    ("bool-FALSE", BCF, "kind: scheme\nbetter_care_fund: FALSE", True),
    ("bool-quoted-true", BCF, "kind: scheme\nbetter_care_fund: 'true'", False),
    ("voting-no", VOTING, "          voting: no", False),
    ("voting-off", VOTING, "          voting: off", False),
    ("text-yes", TEXT, "title: yes", True),
    ("text-NO", TEXT, "title: NO", True),
    ("text-on", TEXT, "title: on", True),
    ("text-y", TEXT, "title: y", True),
    ("text-true", TEXT, "title: true", False),
    ("text-null", TEXT, "title: null", False),
    ("text-tilde", TEXT, "title: ~", False),
    ("text-empty", TEXT, "title:", False),
    ("text-1.10", TEXT, "title: 1.10", False),
    ("text-quoted-1.10", TEXT, "title: '1.10'", True),
    ("text-time", TEXT, "title: 12:30", True),
    ("text-hex", TEXT, "title: 0x10", False),
    ("text-underscores", TEXT, "title: 1_000", False),
    ("text-inf", TEXT, "title: .inf", False),
    ("text-date-like", TEXT, "title: 2017-04-01", True),
    ("date-iso", DATE, "commencement: 2017-04-02", True),
    ("date-slashes", DATE, "commencement: 01/04/2017", False),
    ("date-impossible", DATE, "commencement: 2017-02-30", False),
    ("money-whole", MONEY, "        ccg: 900000", True),
    ("money-quoted-pence", MONEY, "        ccg: '900000.50'", True),
    ("money-tbc", MONEY, "        ccg: tbc", True),
    ("money-float", MONEY, "        ccg: 900000.50", False),
    ("money-exponent", MONEY, "        ccg: 9e5", False),
    ("money-sexagesimal", MONEY, "        ccg: 15:00", False),
    ("money-commas", MONEY, "        ccg: 900,000", False),
    ("money-yes", MONEY, "        ccg: yes", False),
    ("money-underscores", MONEY, "        ccg: 900_000", False),
    ("money-hex", MONEY, "        ccg: 0xDBBA0", False),
    ("money-octal", MONEY, "        ccg: 0o3335240", False),
    ("money-binary", MONEY, "        ccg: 0b101", False),
    ("money-leading-zero", MONEY, "        ccg: 0900000", False),
]

# Cases where s75 and check-jsonschema differ on purpose: ruamel.yaml reads
# these as whole numbers (900_000, 0xDBBA0 = 900000, 0o..., 0b101, 0900000 =
# 900000); YAML 1.2 reads 900_000 and 0b101 as text and 0xDBBA0 as
# hexadecimal, so an amount in the contract would depend on the tool. s75
# refuses them all (S75-NUMBER) and says what to write. 9e5 is the float
# 900000.0, which JSON Schema counts as an integer; s75 counts only whole
# numbers written as such, since a float amount may be inexact.
DELIBERATE = {
    "money-underscores": ("S75-NUMBER", "ruamel.yaml reads 900_000 as 900000, YAML 1.2 as text"),
    "money-hex": ("S75-NUMBER", "YAML 1.2 reads 0xDBBA0 as 900000"),
    "money-octal": ("S75-NUMBER", "YAML 1.2 reads 0o3335240 as 900000"),
    "money-binary": ("S75-NUMBER", "ruamel.yaml reads 0b101 as 5, YAML 1.2 as text"),
    "money-leading-zero": ("S75-NUMBER", "YAML 1.2 reads 0900000 as 900000"),
    "money-exponent": ("S75-FLOAT-MONEY", "9e5 is the float 900000.0, an integer to JSON Schema"),
}


def _s75_accepts(path: Path, schema: str, display: str) -> tuple[bool, list[str]]:
    loaded, diagnostics = load_yaml_bytes(path.read_bytes(), display)
    if loaded is not None:
        diagnostics = check_shape(loaded, schema)
    return not diagnostics, [d.format() for d in diagnostics]


def _check_jsonschema(files: dict[str, list[Path]]) -> set[Path]:
    """The files check-jsonschema refuses, one run per schema."""
    refused: set[Path] = set()
    for schema, paths in files.items():
        result = subprocess.run(
            [sys.executable, "-m", "check_jsonschema", "--schemafile", str(ROOT / "schemas" / f"{schema}.schema.json"),
             "-o", "JSON", *map(str, paths)],
            capture_output=True, text=True, check=False,
        )
        report = json.loads(result.stdout)
        refused |= {Path(e["filename"]) for e in report["errors"] + report["parse_errors"]}
    return refused


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    """(s75 accepts, check-jsonschema accepts, s75's findings) per case."""
    pytest.importorskip("check_jsonschema")
    root = tmp_path_factory.mktemp("editor")
    files: dict[str, list[Path]] = {}
    made = {}
    for name, (file, old), new, _ in CASES:
        text = (BASE / file).read_text(encoding="utf-8")
        assert text.count(old + "\n") >= 1, (name, old)
        path = root / name / Path(file).name
        path.parent.mkdir()
        path.write_text(text.replace(old + "\n", new + "\n", 1), encoding="utf-8")
        files.setdefault(SCHEMA[file], []).append(path)
        made[name] = (path, SCHEMA[file], file)
    shutil.copyfile(ROOT / "schemas" / "common.schema.json", root / "common.schema.json")
    refused = _check_jsonschema(files)
    return {name: (*_s75_accepts(path, schema, file), path not in refused)
            for name, (path, schema, file) in made.items()}


@pytest.mark.parametrize("name, s75_accepts", [(c[0], c[3]) for c in CASES], ids=[c[0] for c in CASES])
def test_s75_and_check_jsonschema_agree(outcomes, name, s75_accepts):
    accepted, findings, cj_accepted = outcomes[name]
    assert accepted == s75_accepts, findings
    if name in DELIBERATE:
        code, why = DELIBERATE[name]
        assert not accepted and cj_accepted, why
        assert any(f"[{code}]" in f for f in findings), findings
    else:
        assert accepted == cj_accepted, f"s75 {'accepts' if accepted else 'refuses'}: {findings}"


def test_deliberate_differences_are_cases():
    assert set(DELIBERATE) <= {c[0] for c in CASES}


def test_yes_for_true_false_says_write_true_or_false(outcomes):
    _, findings, _ = outcomes["bool-yes"]
    assert len(findings) == 1 and "write true or false" in findings[0], findings
