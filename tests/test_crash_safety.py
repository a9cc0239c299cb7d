"""Crash safety of the output: the previous document survives any failure, and racing builds never corrupt it.

Faults are injected inside the writer's temp-write path (the file object's
write, fsync, os.replace, mkstemp), because that is where a full disk or a
killed process would strike.
"""

from __future__ import annotations

import errno
import io
import os
import shutil
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import docx
import pytest

import assembler.word.files as files
import assembler.word.writer as writer
from assembler.diagnostics import BuildError
from conftest import BASE, ROOT, edit, FINDING_LINE, s75

LINE = FINDING_LINE




@pytest.fixture
def agreement(tmp_path: Path) -> Path:
    root = tmp_path / "agreement"
    shutil.copytree(BASE, root)
    return root


@pytest.fixture
def previous(agreement, tmp_path, capsys, monkeypatch) -> tuple[Path, bytes]:
    """An output folder holding a document from an earlier build (of different text)."""
    out = tmp_path / "out" / "agreement.docx"
    out.parent.mkdir()
    code, stdout, stderr = s75(capsys, monkeypatch, "build", str(agreement), "-o", str(out))
    assert code == 0, stdout + stderr
    edit(agreement / "schedules" / "pool.yaml", "Monthly budget reports", "Quarterly budget reports")
    return out, out.read_bytes()


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def _fails_cleanly(capsys, monkeypatch, agreement: Path, out: Path, *expected: str) -> str:
    import re

    code, stdout, stderr = s75(capsys, monkeypatch, "build", str(agreement), "-o", str(out))
    assert code == 1, stdout + stderr
    assert "Traceback" not in stdout + stderr
    lines = stdout.splitlines()
    assert len(lines) == 1 and re.match(LINE, lines[0]), stdout
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


class _FullDisk(io.RawIOBase):
    """A file object that takes the first ``room`` bytes and then fails with ENOSPC, like a full disk."""

    def __init__(self, real, room: int):
        self.real, self.room = real, room

    def write(self, data):
        if len(data) > self.room:
            if self.room:
                self.real.write(bytes(data[: self.room]))
                self.real.flush()
                self.room = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= len(data)
        return self.real.write(data)

    def __getattr__(self, name):
        return getattr(self.real, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.real.close()


def test_full_disk_mid_write_keeps_the_previous_document(previous, agreement, capsys, monkeypatch):
    out, before = previous
    real_fdopen = os.fdopen
    monkeypatch.setattr(files.os, "fdopen", lambda fd, *a, **k: _FullDisk(real_fdopen(fd, *a, **k), room=4096))
    _fails_cleanly(capsys, monkeypatch, agreement, out, "[S75-WRITE]", "disk is full")
    assert out.read_bytes() == before
    assert _leftovers(out.parent) == []


def test_full_disk_at_fsync_keeps_the_previous_document(previous, agreement, capsys, monkeypatch):
    out, before = previous

    def no_space(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(files.os, "fsync", no_space)
    _fails_cleanly(capsys, monkeypatch, agreement, out, "[S75-WRITE]", "disk is full")
    assert out.read_bytes() == before
    assert _leftovers(out.parent) == []


def test_failed_rename_keeps_the_previous_document(previous, agreement, capsys, monkeypatch):
    out, before = previous

    def busy(src, dst):
        raise OSError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(files.os, "replace", busy)
    _fails_cleanly(capsys, monkeypatch, agreement, out, "[S75-WRITE]", "close the document if it is open in Word")
    assert out.read_bytes() == before
    assert _leftovers(out.parent) == []


def test_interrupt_while_writing_keeps_the_previous_document(previous, agreement, monkeypatch):
    """Ctrl+C (or any non-OSError) mid-write: the temp file goes, the old document stays."""
    out, before = previous

    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(files.os, "fsync", interrupted)
    from assembler.build.output import build

    with pytest.raises(KeyboardInterrupt):
        build(str(agreement), out)
    assert out.read_bytes() == before
    assert _leftovers(out.parent) == []


def test_error_while_building_keeps_the_previous_document(previous, agreement, capsys, monkeypatch):
    out, before = previous

    def broken(*args, **kwargs):
        raise BuildError("the template broke")

    monkeypatch.setattr(writer, "render_docx_bytes", broken)
    _fails_cleanly(capsys, monkeypatch, agreement, out, "[S75-INTERNAL]")
    assert out.read_bytes() == before


def test_invalid_agreement_keeps_the_previous_document(previous, agreement, capsys, monkeypatch):
    out, before = previous
    edit(agreement / "schedules" / "pool.yaml", "  host_partner: council", "\thost_partner: council")
    code, stdout, stderr = s75(capsys, monkeypatch, "build", str(agreement), "-o", str(out))
    assert code == 1 and "[S75-TAB]" in stdout
    assert out.read_bytes() == before


@pytest.mark.parametrize("where", ["missing-folder", "parent-is-a-file", "no-permission"])
def test_unwritable_output_is_a_clear_error(where, agreement, tmp_path, capsys, monkeypatch):
    if where == "missing-folder":
        out, hint = tmp_path / "no" / "such" / "folder" / "a.docx", "does not exist"
    elif where == "parent-is-a-file":
        (tmp_path / "file").write_text("x")
        out, hint = tmp_path / "file" / "a.docx", "is a file, not a folder"
    else:  # simulated: tests may run as root, who can write anywhere
        out, hint = tmp_path / "locked" / "a.docx", "you cannot write in"
        out.parent.mkdir()

        def denied(*args, **kwargs):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

        monkeypatch.setattr(files.tempfile, "mkstemp", denied)
    _fails_cleanly(capsys, monkeypatch, agreement, out, "[S75-WRITE]", hint)
    assert not out.exists()


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can write in a read-only folder")
def test_read_only_output_folder_for_real(agreement, tmp_path, capsys, monkeypatch):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        _fails_cleanly(capsys, monkeypatch, agreement, folder / "a.docx", "[S75-WRITE]")
    finally:
        folder.chmod(0o755)


# --- separate processes ------------------------------------------------------------------


def _s75_process(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "assembler", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_two_builds_at_once_never_corrupt_the_output(tmp_path):
    """Two processes build two versions of an agreement to one file at the same time, three times over."""
    first, second = tmp_path / "v1", tmp_path / "v2"
    shutil.copytree(BASE, first)
    shutil.copytree(BASE, second)
    edit(second / "agreement.yaml", "version: '1.0'", "version: '2.0'")
    expected = {}
    for root in (first, second):
        single = tmp_path / f"{root.name}.docx"
        done = subprocess.run([sys.executable, "-m", "assembler", "build", str(root), "-o", str(single)], cwd=ROOT,
                              capture_output=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert done.returncode == 0, done.stdout + done.stderr
        expected[root.name] = single.read_bytes()
    assert expected["v1"] != expected["v2"]
    out = tmp_path / "race" / "shared.docx"
    out.parent.mkdir()
    for _ in range(3):
        procs = [_s75_process("build", str(root), "-o", str(out)) for root in (first, second)]
        for proc in procs:
            stdout, stderr = proc.communicate(timeout=300)
            assert proc.returncode == 0, stdout + stderr
        data = out.read_bytes()
        assert data in (expected["v1"], expected["v2"]), "the result is neither build"
        with zipfile.ZipFile(out) as package:
            assert package.testzip() is None
        docx.Document(str(out))  # opens
        assert _leftovers(out.parent) == []


_SLOW_WRITER = """
import os, sys, time
import assembler.word.files as files
import assembler.word.writer as writer
real = os.fsync
def slow(fd):
    print("writing", flush=True)
    time.sleep(60)
    real(fd)
files.os.fsync = slow
sys.argv = ["s75", "build", sys.argv[1], "-o", sys.argv[2]]
from assembler.cli import main
main()
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_build_killed_mid_write_leaves_the_previous_document(previous, agreement, tmp_path):
    out, before = previous
    script = tmp_path / "slow.py"
    script.write_text(_SLOW_WRITER, encoding="utf-8")
    proc = subprocess.Popen([sys.executable, str(script), str(agreement), str(out)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert proc.stdout.readline().strip() == "writing", proc.stderr.read()
        temps = _leftovers(out.parent)
        assert len(temps) == 1  # the new document is in a temp file, not in agreement.docx
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    assert out.read_bytes() == before
    docx.Document(str(out))
    # A killed process cannot remove its temp file; it is hidden (".agreement.docx.*.tmp") and never opened.
    assert all(name.startswith(".agreement.docx.") for name in _leftovers(out.parent))


def test_full_collections_are_deferred_for_a_build_and_restored_after_a_failure(previous, agreement, capsys,
                                                                               monkeypatch):
    """Full collections are held off while the document is written; the thresholds come back even on failure."""
    import gc

    from assembler.build.output import FULL_COLLECTION_DEFERRAL

    out, _ = previous
    before = gc.get_threshold()
    seen = []

    def broken(*args, **kwargs):
        seen.append(gc.get_threshold())
        raise BuildError("the template broke")

    monkeypatch.setattr(writer, "render_docx_bytes", broken)
    _fails_cleanly(capsys, monkeypatch, agreement, out, "[S75-INTERNAL]")
    assert seen == [(before[0], before[1], FULL_COLLECTION_DEFERRAL)]
    assert gc.get_threshold() == before and gc.isenabled()
