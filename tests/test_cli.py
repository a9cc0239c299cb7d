"""The command line as a user meets it: exit codes, one line per finding, no tracebacks,
and an installed (not editable) ``s75`` that finds its schemas and clauses from anywhere."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from click.testing import CliRunner

from assembler.cli import cli, main
from conftest import BASE, EXAMPLES, ROOT, edit

LINE = re.compile(r"^.+:\d+:\d+: (error|warning) \[S75-[A-Z0-9-]+\] .+")


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "assembler", *args], capture_output=True, text=True, cwd=ROOT)


def test_validate_clean_agreement_exits_zero():
    result = run("validate", str(BASE))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 errors" in result.stderr


def test_every_finding_of_every_file_in_one_run(base_copy):
    edit(base_copy / "agreement.yaml", "kind: unitary_council", "kind: unitary_councl")
    edit(base_copy / "schedules" / "pool.yaml", "title:", "titel:")
    result = run("validate", str(base_copy))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert all(LINE.match(line) for line in lines), lines
    assert any("agreement.yaml" in l and "[S75-ENUM]" in l and "Did you mean 'unitary_council'?" in l for l in lines)
    assert any("pool.yaml" in l and "[S75-UNKNOWN-KEY]" in l and "Did you mean 'title'?" in l for l in lines)
    assert "Traceback" not in result.stdout + result.stderr


def test_json_output_is_machine_readable(base_copy):
    edit(base_copy / "agreement.yaml", "status: draft", "status: Draft")
    result = run("validate", "--format", "json", str(base_copy))
    data = json.loads(result.stdout)
    assert result.returncode == 1
    assert data[0]["code"] == "S75-ENUM" and data[0]["location"]["line"] == 4


def test_warnings_alone_exit_zero_and_one_with_strict(base_copy):
    """As the README says: a draft may carry warnings (exit 0); --strict fails on them as a final build would."""
    edit(base_copy / "schedules" / "pool.yaml", "goods_and_services: None", "goods_and_services: The Reablement Hub.")
    result = run("validate", str(base_copy))
    assert "[S75-TERM-UNDEFINED]" in result.stdout and "0 errors" in result.stderr, result.stdout + result.stderr
    assert result.returncode == 0
    assert run("validate", "--strict", str(base_copy)).returncode == 1
    assert run("validate", "--strict", str(BASE)).returncode == 0


def test_usage_error_exits_two():
    assert run("validate").returncode == 2
    assert run("build", str(BASE), "-o", "out.pdf").returncode == 2


def test_schema_help_lists_fields():
    result = run("schema", "schedule")
    assert result.returncode == 0
    assert "host_partner: Host partner" in result.stdout
    assert "pooled_fund" in result.stdout


def test_unexpected_error_is_one_line_not_a_traceback(monkeypatch, capsys):
    import assembler.check.validate

    def boom(*_args):
        raise KeyError("simulated bug")

    monkeypatch.setattr(assembler.build.pipeline, "validate_files", boom)
    monkeypatch.setattr(sys, "argv", ["s75", "validate", str(BASE)])
    with pytest.raises(SystemExit) as exit_info:
        main()
    out = capsys.readouterr()
    assert exit_info.value.code == 1
    assert "[S75-INTERNAL]" in out.out and "Traceback" not in out.out + out.err


def test_text_command_prints_numbered_agreement():
    example = next(p for p in EXAMPLES if p.name == "southampton-bcf-2017")
    result = CliRunner().invoke(cli, ["text", str(example)])
    assert result.exit_code == 0, result.output
    assert "1. DEFINITIONS AND INTERPRETATION" in result.output
    assert "SCHEDULE 1" in result.output


def test_compliance_report_has_no_missing_rows_for_examples():
    """No example lacks a requirement; one still tbc is INCOMPLETE, and then the report exits 1."""
    for example in EXAMPLES:
        result = run("compliance", str(example))
        assert "0 missing" in result.stdout, result.stdout + result.stderr
        incomplete = "\nINCOMPLETE " in "\n" + result.stdout
        assert result.returncode == (1 if incomplete else 0), result.stdout + result.stderr
        assert incomplete == ("0 incomplete" not in result.stdout)


@pytest.mark.skipif(not os.environ.get("CI") and not os.environ.get("S75_INSTALL_TEST"),
                    reason="slow: set S75_INSTALL_TEST=1 to run outside CI")
def test_plain_install_finds_its_data_from_any_directory(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = venv / "bin" / "pip"
    # A plain, non-editable install, exactly as a user would make it.
    subprocess.run([str(pip), "install", "-q", str(ROOT)], check=True, cwd=tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    example = next(p for p in EXAMPLES if p.name == "southampton-bcf-2017")
    s75 = venv / "bin" / "s75"
    result = subprocess.run([str(s75), "validate", str(example.resolve())], capture_output=True, text=True,
                            cwd=elsewhere)
    assert result.returncode == 0, result.stdout + result.stderr
    located = subprocess.run([str(venv / "bin" / "python"), "-c",
                              "import assembler.resources as r; print(r.schemas_dir()); print(r.clauses_dir())"],
                             capture_output=True, text=True, cwd=elsewhere, check=True).stdout
    assert str(ROOT) not in located, "the installed package must use its own copy of the data"
    built = subprocess.run([str(s75), "build", str(example.resolve()), "-o", "out.docx"], capture_output=True,
                           text=True, cwd=elsewhere)
    assert built.returncode == 0, built.stdout + built.stderr
    assert (elsewhere / "out.docx").stat().st_size > 10000


def test_the_readmes_first_command_runs_twice(tmp_path, capsys, monkeypatch):
    """A new user runs the set-up command, then runs it again: both times it builds."""
    from conftest import s75

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    line = next(l for l in readme.splitlines() if ".venv/bin/s75 build" in l and "pip install -q ." in l)
    args = line.split(".venv/bin/s75 ", 1)[1].split()
    args = [str(ROOT / a) if a.startswith("agreements/") else a for a in args]
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        code, stdout, stderr = s75(capsys, monkeypatch, *args)
        assert code == 0, stdout + stderr
    assert (tmp_path / "southampton-bcf-2017.docx").is_file()
