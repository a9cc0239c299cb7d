"""Faults an outside attack pass found (issue 14, items 3-5, 7, 9 and 11), each pinned by a test.

Bounds on every .docx read from outside (textconv, verify, a build over an
existing file), list numbers clamped, manifests of any shape, exact money,
located errors instead of S75-INTERNAL, and the smaller faults.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
import zlib
from decimal import Decimal
from pathlib import Path

import pytest

from assembler.build import provenance
from assembler.build.provenance import manifest_path
from assembler.model import Money, total
from assembler.word.read import MAX_LIST_VALUE, MAX_PART_BYTES, textconv
from assembler.word.writer import render_docx_bytes
from assembler.build.pipeline import assemble_source
from assembler.source.folder import DirectorySource
from conftest import BASE, FINDING_LINE, ROOT, edit, s75

LINE = re.compile(FINDING_LINE)


def _run(*args: str, cwd: Path, timeout: float = 120, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "assembler", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


@pytest.fixture(scope="module")
def base_docx() -> bytes:
    return render_docx_bytes(assemble_source(DirectorySource(BASE)).document)


def _with_part(data: bytes, name: str, change) -> bytes:
    """``data`` with one part replaced by ``change(old part)``."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            blob = src.read(info.filename)
            dst.writestr(info, change(blob) if info.filename == name else blob)
    return out.getvalue()


# --- items 3 and 9: list numbers in a document given to textconv ---------------------------


@pytest.mark.parametrize("start", ["100000000", "1000000000000", "-5", "x"])
def test_textconv_clamps_list_start_values(base_docx, start):
    """A list asked to start at 10**8 once ran for minutes and printed 1.9 GB; Word stops at 32767."""
    numbering = lambda xml: re.sub(rb'(<w:start w:val=")[^"]*(")', rb"\g<1>" + start.encode() + rb"\g<2>", xml)
    data = _with_part(base_docx, "word/numbering.xml", numbering)
    began = time.monotonic()
    text = textconv(data)
    assert time.monotonic() - began < 20
    assert len(text) < 2 * len(textconv(base_docx)) + 200_000
    if start.isdigit():
        assert str(MAX_LIST_VALUE) in text


def test_textconv_reads_a_document_whose_list_level_is_not_a_number(base_docx):
    data = _with_part(base_docx, "word/numbering.xml", lambda xml: xml.replace(b'w:ilvl="1"', b'w:ilvl="one"', 1))
    data = _with_part(data, "word/document.xml", lambda xml: xml.replace(b'<w:ilvl w:val="0"/>', b'<w:ilvl w:val="x"/>', 1))
    assert "Northbridge" in textconv(data)


# --- items 4 and 5: what textconv, verify and a build will read -----------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_textconv_refuses_a_fifo_instead_of_waiting(tmp_path):
    fifo = tmp_path / "pipe.docx"
    os.mkfifo(fifo)
    result = _run("textconv", str(fifo), cwd=tmp_path, timeout=60)
    assert result.returncode == 1 and "[S75-DOCX-READ]" in result.stdout and "not an ordinary file" in result.stdout


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_textconv_refuses_a_device_that_never_ends(tmp_path):
    result = _run("textconv", "/dev/zero", cwd=tmp_path, timeout=60)
    assert result.returncode == 1 and "[S75-DOCX-READ]" in result.stdout, result.stdout + result.stderr


def _bomb(path: Path, size: int = MAX_PART_BYTES + 1024 * 1024) -> Path:
    """A small .docx whose document.xml unpacks to ``size`` bytes of zeros (written without holding them)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("word/document.xml", "w", force_zip64=True) as part:
            chunk = b"0" * (1 << 20)
            for _ in range(size // len(chunk)):
                part.write(chunk)
    return path


def test_a_zip_bomb_is_refused_by_textconv_verify_and_a_build_over_it(tmp_path, capsys, monkeypatch):
    bomb = _bomb(tmp_path / "bomb.docx")
    assert bomb.stat().st_size < 1024 * 1024
    result = _run("textconv", str(bomb), cwd=tmp_path)
    assert result.returncode == 1 and "[S75-DOCX-READ]" in result.stdout and "unpacks to" in result.stdout
    # verify: a bomb planted with a manifest beside it
    root = tmp_path / "agreement"
    shutil.copytree(BASE, root)
    edit(root / "agreement.yaml", "status: draft", "status: final")
    out = tmp_path / "signed.docx"
    code, stdout, stderr = s75(capsys, monkeypatch, "build", str(root), "-o", str(out), "--final")
    assert code == 0, stdout + stderr
    shutil.copy(bomb, out)
    code, stdout, stderr = s75(capsys, monkeypatch, "verify", str(out))
    assert code == 1 and "[S75-VERIFY-BYTES]" in stdout and "unpacks to" in stdout, stdout + stderr
    assert "S75-INTERNAL" not in stdout
    # a build over it: the bomb is not a final document of ours, so it is replaced, without being unpacked
    code, stdout, stderr = s75(capsys, monkeypatch, "build", str(root), "-o", str(out), "--final")
    assert code == 0, stdout + stderr
    with zipfile.ZipFile(out) as package:
        assert package.getinfo("word/document.xml").file_size < MAX_PART_BYTES


# --- item 9: manifests of any shape ------------------------------------------------------


@pytest.fixture
def signed(tmp_path, capsys, monkeypatch) -> Path:
    root = tmp_path / "agreement"
    shutil.copytree(BASE, root)
    edit(root / "agreement.yaml", "status: draft", "status: final")
    out = tmp_path / "signed.docx"
    code, stdout, stderr = s75(capsys, monkeypatch, "build", str(root), "-o", str(out), "--final")
    assert code == 0, stdout + stderr
    return out


def _deep(depth: int) -> str:
    return '{"manifest_version": 1, "x": ' + "[" * depth + "]" * depth + "}"


@pytest.mark.parametrize("change", [
    lambda m: {**m, "tool": None},
    lambda m: {**m, "git": "HEAD"},
    lambda m: {**m, "git": {"commit": 5, "clean": True, "path": ""}},
    lambda m: {**m, "agreement": {**m["agreement"], "files": {"agreement.yaml": 1}}},
    lambda m: {**m, "library": {"clauses/x.clause": None}},
    lambda m: {**m, "output": {"file": "x", "sha256": ["a"]}},
    lambda m: {**m, "build": {"final": "yes"}},
    lambda m: [m],
    lambda m: _deep(100_000),
], ids=["tool-null", "git-string", "git-commit-number", "file-hash-number", "library-hash-null", "sha-list",
        "final-string", "not-an-object", "deep-100000"])
def test_a_malformed_manifest_is_a_located_finding(signed, capsys, monkeypatch, change):
    path = manifest_path(signed)
    changed = change(json.loads(path.read_text(encoding="utf-8")))
    path.write_text(changed if isinstance(changed, str) else json.dumps(changed), encoding="utf-8")
    code, stdout, stderr = s75(capsys, monkeypatch, "verify", str(signed))
    assert code == 1, stdout + stderr
    lines = stdout.splitlines()
    assert lines and all(LINE.match(line) for line in lines), stdout
    assert "[S75-MANIFEST]" in stdout and str(path) in stdout and "S75-INTERNAL" not in stdout
    assert "YAML" not in stdout


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_manifest_that_is_a_fifo_is_refused_not_waited_for(signed, tmp_path):
    path = manifest_path(signed)
    path.unlink()
    os.mkfifo(path)
    result = _run("verify", str(signed), cwd=tmp_path, timeout=60)
    assert result.returncode == 1 and "[S75-MANIFEST]" in result.stdout and "not an ordinary file" in result.stdout


# --- item 9 and 11: command-line values ---------------------------------------------------


@pytest.mark.parametrize("command", ["build", "redline", "variation"])
@pytest.mark.parametrize("output", ["", ".", "folder"])
def test_an_output_that_is_no_file_name_is_a_usage_error_with_a_code(command, output, tmp_path, capsys, monkeypatch):
    (tmp_path / "folder").mkdir()
    monkeypatch.chdir(tmp_path)
    args = [str(BASE)] if command == "build" else [str(BASE), str(BASE)]
    code, stdout, stderr = s75(capsys, monkeypatch, command, *args, "-o", output)
    assert code == 2, stdout + stderr
    assert "[S75-OUTPUT]" in stdout and LINE.match(stdout.splitlines()[0]), stdout + stderr
    assert "Usage:" not in stdout + stderr


@pytest.mark.parametrize("author", ["Jane\x07Smith", "Jane\u202eSmith", "x" * 300])
def test_a_redline_author_with_a_control_character_is_refused(author, tmp_path, capsys, monkeypatch):
    code, stdout, stderr = s75(capsys, monkeypatch, "redline", str(BASE), str(BASE), "-o",
                               str(tmp_path / "r.docx"), "--author", author)
    assert code == 2 and "[S75-AUTHOR]" in stdout and "S75-INTERNAL" not in stdout, stdout + stderr
    assert not (tmp_path / "r.docx").exists()


# --- item 7: money ---------------------------------------------------------------------------


def test_money_sums_are_exact_beyond_28_digits():
    """Decimal's default context keeps 28 digits: 29 ones plus 2 came out as ...113, not ...113 exactly."""
    big = Money.parse("1" * 29)
    assert (big + Money.parse(2)).amount == Decimal("1" * 28 + "3")
    assert total([Money.parse("999999999999999.99")] * 10_000).amount == Decimal("9999999999999999900")


def test_the_largest_amounts_build_exactly(tmp_path):
    root = tmp_path / "agreement"
    shutil.copytree(BASE, root)
    shutil.copy(ROOT / "tests/cases/valid/money-at-maximum/schedules/pool.yaml", root / "schedules" / "pool.yaml")
    text = _run("text", str(root), cwd=tmp_path).stdout
    assert "£2,000,000,000,199,998.99" in text and "£1,000,000,000,199,999.99" in text


# --- item 11: the smaller faults ----------------------------------------------------------


def test_schema_findings_are_capped_per_file(tmp_path, capsys, monkeypatch):
    """100,000 wrong list items once printed 190,000 lines (78 MB); now a few of each kind and a count."""
    root = tmp_path / "agreement"
    shutil.copytree(BASE, root)
    edit(root / "schedules" / "pool.yaml", "outcomes:\n", "outcomes:\n" + "  - [1]\n" * 100_000)
    code, stdout, stderr = s75(capsys, monkeypatch, "validate", str(root))
    assert code == 1
    lines = stdout.splitlines()
    assert len(lines) <= 30 and all(LINE.match(line) for line in lines)
    assert "99,500 further shape problem(s)" in stdout and "480 more problem(s)" in stdout


def test_a_hung_git_does_not_hold_a_final_build(tmp_path, capsys, monkeypatch):
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "git").write_text("#!/bin/sh\nexec sleep 60\n", encoding="utf-8")
    (fake / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(provenance, "GIT_BUDGET_SECONDS", 2)
    root = tmp_path / "agreement"
    shutil.copytree(BASE, root)
    edit(root / "agreement.yaml", "status: draft", "status: final")
    began = time.monotonic()
    code, stdout, stderr = s75(capsys, monkeypatch, "build", str(root), "-o", str(tmp_path / "a.docx"), "--final")
    assert code == 0, stdout + stderr
    assert time.monotonic() - began < 30
    manifest = json.loads(manifest_path(tmp_path / "a.docx").read_text(encoding="utf-8"))
    assert manifest["git"] == {"commit": None, "clean": None, "path": None}


def test_an_oversized_blob_in_git_is_reported_at_its_real_size(tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(BASE, repo / "a")
    (repo / "a" / "schedules" / "pool.yaml").write_bytes(b"# x\n" * (3 * 1024 * 1024 // 4 + 1000))
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.org"}
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", "x"]):
        subprocess.run(["git", *args], cwd=repo, check=True, env={**os.environ, **env})
    result = _run("text", "HEAD:a", cwd=repo)
    assert result.returncode == 1 and "[S75-SIZE]" in result.stdout and "3.0 MiB" in result.stdout, result.stdout


def test_a_schedule_key_with_a_line_break_writes_no_file(tmp_path, capsys, monkeypatch):
    """--schedule $'pool\\n' once wrote a file whose name held a line break."""
    monkeypatch.chdir(tmp_path)
    code, stdout, stderr = s75(capsys, monkeypatch, "build", str(BASE), "--schedule", "pool\n")
    assert code == 2 and "[S75-SCHEDULE]" in stdout, stdout + stderr
    assert list(tmp_path.iterdir()) == []
