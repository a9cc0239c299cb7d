"""Provenance: the manifest a --final build writes, and ``s75 verify``."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import docx
import pytest

from assembler import __version__
from assembler.build.output import is_final_document
from assembler.build.provenance import manifest_path, verify
from conftest import BASE, edit, FINDING_LINE, s75

LINE = FINDING_LINE




def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def final_agreement(tmp_path: Path) -> Path:
    root = tmp_path / "agreement"
    shutil.copytree(BASE, root)
    edit(root / "agreement.yaml", "status: draft", "status: final")
    return root


@pytest.fixture
def built(final_agreement, tmp_path, capsys, monkeypatch) -> Path:
    out = tmp_path / "out" / "northbridge.docx"
    out.parent.mkdir()
    code, stdout, stderr = s75(capsys, monkeypatch, "build", str(final_agreement), "-o", str(out), "--final")
    assert code == 0, stdout + stderr
    return out


def test_final_build_writes_a_manifest_beside_the_document(built, final_agreement):
    path = manifest_path(built)
    assert path == built.parent / "northbridge.docx.manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    assert manifest["tool"] == {"name": "s75-assembler", "version": __version__}
    assert manifest["agreement"]["directory"] == str(final_agreement.resolve())
    assert manifest["agreement"]["from_document"] == "../agreement"
    files = {p.relative_to(final_agreement).as_posix(): sha256(p)
             for p in [final_agreement / "agreement.yaml", *sorted((final_agreement / "schedules").glob("*.yaml"))]}
    assert manifest["agreement"]["files"] == files
    assert manifest["output"] == {"file": "northbridge.docx", "sha256": sha256(built)}
    assert manifest["build"] == {"final": True, "schedule": "", "compliance_annex": False}
    assert manifest["git"] == {"commit": None, "clean": None, "path": None}  # tmp_path is not a repository
    assert "clauses/outline.yaml" in manifest["library"] and "templates/reference.docx" in manifest["library"]
    assert sorted(p.name for p in built.parent.iterdir()) == ["northbridge.docx", "northbridge.docx.manifest.json"]


def test_draft_build_writes_no_manifest(tmp_path, capsys, monkeypatch):
    root = tmp_path / "agreement"
    shutil.copytree(BASE, root)
    out = tmp_path / "draft.docx"
    code, stdout, stderr = s75(capsys, monkeypatch, "build", str(root), "-o", str(out))
    assert code == 0, stdout + stderr
    assert not manifest_path(out).exists()


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_manifest_records_git_commit_and_clean_tree(final_agreement, tmp_path, capsys, monkeypatch):
    def git(*args):
        return subprocess.run(["git", "-C", str(final_agreement), *args], check=True, capture_output=True,
                              text=True).stdout.strip()

    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-q", "-m", "agreement")
    head = git("rev-parse", "HEAD")
    out = tmp_path / "git.docx"
    code, stdout, stderr = s75(capsys, monkeypatch, "build", str(final_agreement), "-o", str(out), "--final")
    assert code == 0, stdout + stderr
    assert json.loads(manifest_path(out).read_text())["git"] == {"commit": head, "clean": True, "path": ""}

    (final_agreement / "notes.txt").write_text("uncommitted\n", encoding="utf-8")
    code, stdout, stderr = s75(capsys, monkeypatch, "build", str(final_agreement), "-o", str(out), "--final", "--force")
    assert code == 0, stdout + stderr
    assert json.loads(manifest_path(out).read_text())["git"] == {"commit": head, "clean": False, "path": ""}


def _repository_with(agreement: Path, top: Path) -> str:
    """Commit ``agreement`` (already under ``top``) to a new repository at ``top``; the commit id."""
    def git(*args):
        return subprocess.run(["git", "-C", str(top), *args], check=True, capture_output=True, text=True).stdout.strip()

    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@example.org", "-c", "commit.gpgsign=false",
        "commit", "-q", "-m", "agreement")
    return git("rev-parse", "HEAD")


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_the_document_and_manifest_inside_the_repository_leave_the_tree_clean(tmp_path, capsys, monkeypatch):
    top = tmp_path / "repo"
    shutil.copytree(BASE, top / "agreements" / "north")
    edit(top / "agreements" / "north" / "agreement.yaml", "status: draft", "status: final")
    head = _repository_with(top / "agreements" / "north", top)
    for out in (top / "north.docx", top / "agreements" / "north" / "north.docx"):
        for _ in range(2):  # the second build finds the first one's document and manifest there
            code, stdout, stderr = s75(capsys, monkeypatch, "build", str(top / "agreements" / "north"), "-o", str(out),
                                       "--final", "--force")
            assert code == 0, stdout + stderr
            assert json.loads(manifest_path(out).read_text())["git"] == {
                "commit": head, "clean": True, "path": "agreements/north"}


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_verify_from_a_moved_clone_and_from_the_commit_after_the_files_change(tmp_path, capsys, monkeypatch):
    top = tmp_path / "repo"
    shutil.copytree(BASE, top / "agreements" / "north")
    edit(top / "agreements" / "north" / "agreement.yaml", "status: draft", "status: final")
    _repository_with(top / "agreements" / "north", top)
    out = top / "signed" / "north.docx"
    out.parent.mkdir()
    code, stdout, stderr = s75(capsys, monkeypatch, "build", str(top / "agreements" / "north"), "-o", str(out), "--final")
    assert code == 0, stdout + stderr

    moved = tmp_path / "colleague" / "repo"
    shutil.move(str(top), str(moved))
    document = moved / "signed" / "north.docx"
    code, stdout, stderr = s75(capsys, monkeypatch, "verify", str(document))
    assert code == 0, stdout + stderr
    assert "verified" in stderr and "commit" not in stderr  # from the files beside it

    edit(moved / "agreements" / "north" / "schedules" / "pool.yaml", "council: 400000", "council: 450000")
    code, stdout, stderr = s75(capsys, monkeypatch, "verify", str(document))
    assert code == 0, stdout + stderr
    assert "rebuilt from commit" in stderr and "pool.yaml has changed since the build" in stderr

    edit(moved / "agreements" / "north" / "agreement.yaml", "status: final", "status: final\n")
    subprocess.run(["git", "-C", str(moved), "-c", "user.name=t", "-c", "user.email=t@example.org", "-c",
                    "commit.gpgsign=false", "commit", "-qam", "later"], check=True)
    subprocess.run(["git", "-C", str(moved), "reflog", "expire", "--expire=now", "--all"], check=True)
    shutil.rmtree(moved / ".git")  # the commit is gone: the changed files are findings again
    code, stdout, stderr = s75(capsys, monkeypatch, "verify", str(document))
    assert code == 1 and "[S75-VERIFY-INPUT]" in stdout


def test_manifest_without_git_on_path(final_agreement, tmp_path, capsys, monkeypatch):
    (tmp_path / "empty-bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    out = tmp_path / "nogit.docx"
    code, stdout, stderr = s75(capsys, monkeypatch, "build", str(final_agreement), "-o", str(out), "--final")
    assert code == 0, stdout + stderr
    assert json.loads(manifest_path(out).read_text())["git"] == {"commit": None, "clean": None, "path": None}


def test_verify_matches(built, capsys, monkeypatch):
    code, stdout, stderr = s75(capsys, monkeypatch, "verify", str(built))
    assert code == 0, stdout + stderr
    assert stdout == "" and "verified" in stderr
    assert verify(built).rebuilt


def _verify_fails(capsys, monkeypatch, document: Path, *codes: str) -> list[str]:
    import re

    code, stdout, stderr = s75(capsys, monkeypatch, "verify", str(document))
    assert code == 1, stdout + stderr
    assert "Traceback" not in stdout + stderr
    lines = stdout.splitlines()
    assert lines and all(re.match(LINE, line) for line in lines), stdout
    for wanted in codes:
        assert any(f"[{wanted}]" in line for line in lines), stdout
    return lines


def test_verify_names_the_changed_input_file(built, final_agreement, capsys, monkeypatch):
    edit(final_agreement / "schedules" / "pool.yaml", "council: 200000", "council: 250000")
    lines = _verify_fails(capsys, monkeypatch, built, "S75-VERIFY-INPUT")
    assert len(lines) == 1
    assert lines[0].startswith(f"{final_agreement.resolve()}/schedules/pool.yaml:1:1: error [S75-VERIFY-INPUT] "
                               "input file schedules/pool.yaml has changed since the build")


def test_verify_names_added_and_removed_schedules(built, final_agreement, capsys, monkeypatch):
    (final_agreement / "schedules" / "lead.yaml").rename(final_agreement / "schedules" / "lead2.yaml")
    lines = _verify_fails(capsys, monkeypatch, built, "S75-VERIFY-INPUT")
    assert any("schedules/lead.yaml was used for the build but is gone now" in line for line in lines)
    assert any("schedules/lead2.yaml is new since the build" in line for line in lines)


def test_verify_says_the_document_was_edited_and_where(built, capsys, monkeypatch):
    document = docx.Document(str(built))
    target = next(p for p in document.paragraphs if "Northbridge" in p.text and p.runs)
    target.runs[0].text = "Southbridge" + target.runs[0].text[len("Northbridge"):] if target.runs[0].text.startswith(
        "Northbridge") else "Edited " + target.runs[0].text
    document.save(str(built))
    lines = _verify_fails(capsys, monkeypatch, built, "S75-VERIFY-DOCUMENT", "S75-VERIFY-BYTES", "S75-VERIFY-TEXT")
    assert any("word/document.xml" in line for line in lines)


def test_verify_when_the_rebuild_differs_with_unchanged_inputs(built, capsys, monkeypatch):
    monkeypatch.setattr("assembler.engine.assemble.SUBTITLE", "A different subtitle from a newer tool")
    lines = _verify_fails(capsys, monkeypatch, built, "S75-VERIFY-BYTES", "S75-VERIFY-TEXT")
    assert any("A different subtitle" in line for line in lines)
    assert not any("S75-VERIFY-INPUT" in line for line in lines)


def test_verify_names_a_changed_clause_file(built, capsys, monkeypatch):
    import assembler.build.provenance as provenance

    real = provenance.library_files

    def changed():
        files = dict(real())
        files["clauses/termination.clause"] = "0" * 64
        return files

    monkeypatch.setattr(provenance, "library_files", changed)
    lines = _verify_fails(capsys, monkeypatch, built, "S75-VERIFY-LIBRARY")
    assert any("clauses/termination.clause" in line for line in lines)


def test_verify_without_or_with_a_damaged_manifest(built, capsys, monkeypatch):
    path = manifest_path(built)
    path.write_text("{not json", encoding="utf-8")
    _verify_fails(capsys, monkeypatch, built, "S75-MANIFEST")
    path.write_text(json.dumps({"manifest_version": 99}), encoding="utf-8")
    _verify_fails(capsys, monkeypatch, built, "S75-MANIFEST")
    path.unlink()
    _verify_fails(capsys, monkeypatch, built, "S75-MANIFEST")


def test_verify_of_a_missing_document(tmp_path, capsys, monkeypatch):
    _verify_fails(capsys, monkeypatch, tmp_path / "nothing.docx", "S75-NOTFOUND")


def test_verify_when_the_agreement_directory_is_gone(built, final_agreement, capsys, monkeypatch):
    shutil.rmtree(final_agreement)
    _verify_fails(capsys, monkeypatch, built, "S75-VERIFY-INPUT")


def test_final_document_is_never_overwritten_without_force(built, final_agreement, capsys, monkeypatch):
    assert is_final_document(built)  # core.xml says "final": the check once looked for "Final" only
    before = built.read_bytes()
    manifest_before = manifest_path(built).read_bytes()
    for args in (["--final"], []):
        code, stdout, stderr = s75(capsys, monkeypatch, "build", str(final_agreement), "-o", str(built), *args)
        assert code == 2 and "[S75-OVERWRITE]" in stdout, stdout + stderr
        assert built.read_bytes() == before and manifest_path(built).read_bytes() == manifest_before
    edit(final_agreement / "schedules" / "pool.yaml", "Monthly budget reports", "Quarterly budget reports")
    code, stdout, stderr = s75(capsys, monkeypatch, "build", str(final_agreement), "-o", str(built), "--final", "--force")
    assert code == 0, stdout + stderr
    assert built.read_bytes() != before
    manifest = json.loads(manifest_path(built).read_text())
    assert manifest["output"]["sha256"] == sha256(built)
    code, stdout, stderr = s75(capsys, monkeypatch, "verify", str(built))
    assert code == 0, stdout + stderr


def test_manifest_write_failure_is_a_clean_error(final_agreement, tmp_path, capsys, monkeypatch):
    """The manifest goes through the same atomic writer: a failure is S75-WRITE, never a traceback."""
    import os

    import assembler.word.files as files

    out = tmp_path / "m.docx"
    real_replace = os.replace

    def refuse_manifest(src, dst):
        if str(dst).endswith(".manifest.json"):
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(files.os, "replace", refuse_manifest)
    code, stdout, stderr = s75(capsys, monkeypatch, "build", str(final_agreement), "-o", str(out), "--final")
    assert code == 1 and "[S75-WRITE]" in stdout and "disk is full" in stdout, stdout + stderr
    assert not manifest_path(out).exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert not out.exists()  # the document and its manifest land together or not at all
