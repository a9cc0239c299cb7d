"""A final build's document and manifest are one commit: both land, or the previous pair stays exactly as it was.

Covers the faults of issue 14 items 1, 2 and 10: a failure between the two
writes, a name too long for the manifest, a process killed between the two
renames, concurrent builds of one path (the manifest must hash the bytes
its own build wrote), SIGTERM and early Ctrl-C, and temporaries left by a
killed build.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import assembler.word.files as files
from assembler.build import provenance
from assembler.build.output import build
from assembler.build.provenance import manifest_path
from assembler.diagnostics import S75Error
from conftest import BASE, ROOT, edit, s75


@pytest.fixture
def final_agreement(tmp_path: Path) -> Path:
    root = tmp_path / "agreement"
    shutil.copytree(BASE, root)
    edit(root / "agreement.yaml", "status: draft", "status: final")
    return root


def _pair(out: Path) -> tuple[bytes, bytes]:
    return out.read_bytes(), manifest_path(out).read_bytes()


def _litter(folder: Path) -> list[str]:
    """Anything the writer leaves behind: temporaries, backups, a journal or a lock."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.fixture
def signed(final_agreement, tmp_path, capsys, monkeypatch) -> tuple[Path, tuple[bytes, bytes]]:
    """A final document and its manifest, then the agreement edited so the next build differs."""
    out = tmp_path / "out" / "signed.docx"
    out.parent.mkdir()
    code, stdout, stderr = s75(capsys, monkeypatch, "build", str(final_agreement), "-o", str(out), "--final")
    assert code == 0, stdout + stderr
    edit(final_agreement / "schedules" / "pool.yaml", "Monthly budget reports", "Quarterly budget reports")
    return out, _pair(out)


def test_manifest_rename_failing_keeps_the_previous_document_and_manifest(signed, final_agreement, capsys,
                                                                         monkeypatch):
    out, before = signed
    real_replace = os.replace

    def manifest_fails(src, dst):
        if str(dst).endswith(".manifest.json"):
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(files.os, "replace", manifest_fails)
    code, stdout, stderr = s75(capsys, monkeypatch, "build", str(final_agreement), "-o", str(out), "--final", "--force")
    assert code == 1 and "[S75-WRITE]" in stdout and "signed.docx.manifest.json" in stdout, stdout + stderr
    assert _pair(out) == before
    assert _litter(out.parent) == []


def test_manifest_that_cannot_be_made_keeps_the_previous_pair(signed, final_agreement, capsys, monkeypatch):
    """A schedule file name that is not UTF-8 once made the manifest fail after the document was replaced."""
    out, before = signed
    bad = os.fsdecode(b"extra-\xff.yaml")
    shutil.copy(final_agreement / "schedules" / "pool.yaml", final_agreement / "schedules" / bad)
    edit(final_agreement / "schedules" / bad, "key: pool", "key: extra")
    code, stdout, stderr = s75(capsys, monkeypatch, "build", str(final_agreement), "-o", str(out), "--final", "--force")
    assert code == 1 and "[S75-PATH]" in stdout and "extra-\\xff.yaml" in stdout and "not valid UTF-8" in stdout, stdout
    assert "S75-INTERNAL" not in stdout
    assert _pair(out) == before


def test_an_error_while_making_the_manifest_writes_nothing(signed, final_agreement, capsys, monkeypatch):
    out, before = signed

    def broken(*args, **kwargs):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(provenance, "library_files", broken)
    with pytest.raises(OSError):
        build(str(final_agreement), out, final=True, force=True)
    assert _pair(out) == before
    assert _litter(out.parent) == []


def test_a_name_too_long_for_its_manifest_is_refused_before_anything_is_written(final_agreement, tmp_path, capsys,
                                                                               monkeypatch):
    folder = tmp_path / "out"
    folder.mkdir()
    out = folder / ("n" * (files.name_max(folder) - len(".docx")) + ".docx")  # fits; its manifest's name does not
    code, stdout, stderr = s75(capsys, monkeypatch, "build", str(final_agreement), "-o", str(out))
    assert code == 0, stdout + stderr  # a draft needs no manifest
    draft = out.read_bytes()
    code, stdout, stderr = s75(capsys, monkeypatch, "build", str(final_agreement), "-o", str(out), "--final", "--force")
    assert code == 2 and "[S75-OUTPUT]" in stdout and "too long" in stdout and "14 bytes shorter" in stdout, stdout
    assert out.read_bytes() == draft
    assert _litter(folder) == []


def test_the_manifest_hashes_the_bytes_written_not_the_file_on_disk(signed, final_agreement, monkeypatch):
    """Another build replacing the document just after ours renamed it must not change our manifest."""
    out, _ = signed
    real_replace = os.replace
    intruder = b"another build's document"

    def intrude(src, dst):
        real_replace(src, dst)
        if str(dst) == str(out):  # our document is in place; someone else's lands before our manifest is read
            out.write_bytes(intruder)

    monkeypatch.setattr(files.os, "replace", intrude)
    build(str(final_agreement), out, final=True, force=True)
    manifest = json.loads(manifest_path(out).read_text(encoding="utf-8"))
    assert manifest["output"]["sha256"] != hashlib.sha256(intruder).hexdigest()
    monkeypatch.undo()
    ours = build(str(final_agreement), out.with_name("again.docx"), final=True).output.read_bytes()
    assert manifest["output"]["sha256"] == hashlib.sha256(ours).hexdigest()


_KILLED_BETWEEN_RENAMES = """
import os, signal, sys
import assembler.word.files as files
real = os.replace
def replace(src, dst):
    if str(dst).endswith(".manifest.json"):
        print("half", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    return real(src, dst)
files.os.replace = replace
sys.argv = ["s75", "build", sys.argv[1], "-o", sys.argv[2], "--final", "--force"]
from assembler.cli import main
main()
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
@pytest.mark.parametrize("then", ["verify", "build"])
def test_a_build_killed_between_the_renames_is_undone(signed, final_agreement, tmp_path, capsys, monkeypatch, then):
    out, before = signed
    script = tmp_path / "killed.py"
    script.write_text(_KILLED_BETWEEN_RENAMES, encoding="utf-8")
    done = subprocess.run([sys.executable, str(script), str(final_agreement), str(out)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == -signal.SIGKILL and done.stdout == "half\n", done.stdout + done.stderr
    assert out.read_bytes() != before[0]  # the new document is in place, its manifest not: a broken pair
    if then == "verify":
        s75(capsys, monkeypatch, "verify", str(out))
        assert _pair(out) == before  # verify put the previous pair back before reading it
    else:
        edit(final_agreement / "schedules" / "pool.yaml", "Quarterly budget reports", "Monthly budget reports")
        code, stdout, stderr = s75(capsys, monkeypatch, "build", str(final_agreement), "-o", str(out), "--final")
        assert code == 2 and "[S75-OVERWRITE]" in stdout, stdout  # the signed pair is back, and protected
        assert _pair(out) == before
    assert _litter(out.parent) == []


# --- concurrency ------------------------------------------------------------------------


def _build_one(job: tuple[str, str, bool]) -> str:
    root, out, force = job
    try:
        build(root, Path(out), final=True, force=force)
    except S75Error as exc:
        return exc.diagnostics[0].code
    return "wrote"


def _two_versions(tmp_path: Path) -> tuple[Path, Path]:
    first, second = tmp_path / "v1", tmp_path / "v2"
    for root in (first, second):
        shutil.copytree(BASE, root)
        edit(root / "agreement.yaml", "status: draft", "status: final")
    edit(second / "schedules" / "pool.yaml", "Monthly budget reports", "Quarterly budget reports")
    return first, second


def test_concurrent_final_builds_of_one_path_leave_a_matching_pair(tmp_path):
    """Parallel --final --force builds of two versions to one path: the survivor's manifest names its own bytes."""
    first, second = _two_versions(tmp_path)
    out = tmp_path / "out" / "shared.docx"
    out.parent.mkdir()
    jobs = [(str(root), str(out), True) for root in (first, second) * 6]
    with multiprocessing.get_context("fork").Pool(6) as pool:
        assert pool.map(_build_one, jobs) == ["wrote"] * len(jobs)
    manifest = json.loads(manifest_path(out).read_text(encoding="utf-8"))
    assert manifest["output"]["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    recorded = Path(manifest["agreement"]["directory"])
    assert provenance.rebuild_bytes(recorded, manifest["build"]) == out.read_bytes()
    assert _litter(out.parent) == []


def test_concurrent_final_builds_without_force_replace_nothing(tmp_path):
    """Only one of several simultaneous final builds to a new path may write it; the others are refused."""
    first, second = _two_versions(tmp_path)
    out = tmp_path / "out" / "new.docx"
    out.parent.mkdir()
    jobs = [(str(root), str(out), False) for root in (first, second) * 3]
    with multiprocessing.get_context("fork").Pool(6) as pool:
        outcomes = pool.map(_build_one, jobs)
    assert sorted(outcomes) == ["S75-OVERWRITE"] * (len(jobs) - 1) + ["wrote"]
    manifest = json.loads(manifest_path(out).read_text(encoding="utf-8"))
    assert manifest["output"]["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()


# --- signals and leftovers --------------------------------------------------------------


_SLOW_WRITER = """
import os, sys, time
import assembler.word.files as files
real = os.fsync
def slow(fd):
    print("writing", flush=True)
    time.sleep(60)
    real(fd)
files.os.fsync = slow
sys.argv = ["s75", "build", sys.argv[1], "-o", sys.argv[2]]
from assembler.__main__ import run
run()
"""


def _slow_build(tmp_path: Path, root: Path, out: Path) -> subprocess.Popen:
    script = tmp_path / "slow.py"
    script.write_text(_SLOW_WRITER, encoding="utf-8")
    proc = subprocess.Popen([sys.executable, str(script), str(root), str(out)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout.readline().strip() == "writing", proc.stderr.read()
    return proc


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_or_ctrl_c_mid_write_exits_cleanly_and_removes_the_temporary(signed, final_agreement, tmp_path,
                                                                            signum):
    out, before = signed
    proc = _slow_build(tmp_path, final_agreement, out.with_name("draft.docx"))
    assert [n for n in _litter(out.parent) if n.endswith(".tmp")]  # the new document is in a temporary
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, stdout + stderr
    assert "Traceback" not in stderr and len(stderr.strip().splitlines()) == 1, stderr
    assert _litter(out.parent) == []
    assert not out.with_name("draft.docx").exists() and _pair(out) == before


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_the_next_build_sweeps_what_a_killed_build_left(signed, final_agreement, tmp_path, capsys, monkeypatch):
    out, _ = signed
    draft = out.with_name("draft.docx")
    proc = _slow_build(tmp_path, final_agreement, draft)
    proc.kill()
    proc.communicate(timeout=60)
    left = [n for n in _litter(out.parent) if n.endswith(".tmp")]
    assert left and all(n.startswith(".draft.docx.") for n in left)
    unrelated = out.parent / ".draft.docx.other.docx.abcdefgh.tmp"  # another document's, not this one's
    unrelated.write_bytes(b"x")
    code, stdout, stderr = s75(capsys, monkeypatch, "build", str(final_agreement), "-o", str(draft))
    assert code == 0, stdout + stderr
    assert _litter(out.parent) == [unrelated.name]


_STARTING = """
import sys
import signal
import assembler  # the package itself is three lines; the console script imports it first too
print("up", flush=True)
sys.argv = ["s75", "validate", sys.argv[1]]
from assembler.__main__ import run
run()
"""


_INTERRUPTED_IN_A_CLASS = """
import sys, types
import assembler


class Interrupted:
    def __set_name__(self, owner, name):
        raise SystemExit(130)  # what the start-up SIGINT handler raises


def __getattr__(name):  # importing from the stand-in CLI makes a class whose field is interrupted
    class Table:
        rows = Interrupted()


cli = types.ModuleType("assembler.cli")
cli.__getattr__ = __getattr__
sys.modules["assembler.cli"] = cli
import assembler.__main__
"""


def test_ctrl_c_while_a_class_is_being_made_prints_no_traceback(tmp_path):
    """Python 3.11 wraps the handler's SystemExit in a RuntimeError when it lands in a field's __set_name__
    (seen as a flaky start-up test under load); made to happen every time here."""
    done = subprocess.run([sys.executable, "-c", _INTERRUPTED_IN_A_CLASS], cwd=tmp_path, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 130, (done.returncode, done.stderr)


_INTERRUPTED_IN_A_CALLBACK = """
import sys, types, weakref
import assembler


class Lock:
    pass


def interrupted(_):
    raise SystemExit(130)  # what the start-up SIGINT handler raises, here in a callback Python cannot raise from


locks = [Lock()]
watch = weakref.ref(locks[0], interrupted)  # as importlib's module locks are watched


def __getattr__(name):  # importing main from the stand-in CLI lets go of the lock, as an import does
    locks.clear()
    return lambda: print("the command ran")


cli = types.ModuleType("assembler.cli")
cli.__getattr__ = __getattr__
sys.modules["assembler.cli"] = cli
import assembler.__main__
assembler.__main__.run()
"""


def test_ctrl_c_in_a_callback_during_start_up_exits_quietly(tmp_path):
    """A SIGINT that lands in importlib's module-lock callback (seen once under load) was printed as
    "Exception ignored ... Traceback" and lost, and the command ran on; made to happen every time here."""
    done = subprocess.run([sys.executable, "-c", _INTERRUPTED_IN_A_CALLBACK], cwd=tmp_path, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr, done.stderr
    assert done.returncode == 130 and "the command ran" not in done.stdout, (done.returncode, done.stdout)


@pytest.mark.parametrize("delay", [0.03, 0.06, 0.1, 0.15, 0.2, 0.3])
def test_ctrl_c_while_starting_up_prints_no_traceback(delay, tmp_path):
    """Ctrl-C while the commands are still being imported (a few hundred ms).

    Python's own start-up, and the moment it takes to find assembler/__main__.py,
    come before any code of ours can set a handler; the test starts after them.
    """
    proc = subprocess.Popen([sys.executable, "-c", _STARTING, str(BASE)], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout.readline() == "up\n"
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert "Traceback" not in stderr, stderr
    assert proc.returncode in (0, 1, 128 + signal.SIGINT), (proc.returncode, stderr)


def _counting_fsyncs(monkeypatch) -> list[int]:
    synced: list[int] = []
    real = os.fsync
    monkeypatch.setattr(files.os, "fsync", lambda fd: (synced.append(fd), real(fd))[1])
    return synced


def test_a_draft_with_no_manifest_beside_it_is_one_rename_without_a_journal(tmp_path, monkeypatch):
    """One changed file is atomic by its rename alone: no journal, and two fsyncs (the temporary, the folder), not five."""
    out = tmp_path / "out" / "draft.docx"
    out.parent.mkdir()
    out.write_bytes(b"the previous draft")
    journals: list[Path] = []
    real_journal = files._write_journal
    monkeypatch.setattr(files, "_write_journal", lambda first, backups: (journals.append(first),
                                                                         real_journal(first, backups))[1])
    synced = _counting_fsyncs(monkeypatch)
    build(str(BASE), out, force=True)
    assert journals == [] and len(synced) == 2
    assert out.read_bytes().startswith(b"PK") and _litter(out.parent) == []


def test_a_draft_over_a_signed_pair_removes_the_manifest_as_one_group(signed, final_agreement, monkeypatch):
    """Two changes (the document replaced, the manifest removed) still go through the journal, so both or neither."""
    out, _ = signed
    journals: list[Path] = []
    real_journal = files._write_journal
    monkeypatch.setattr(files, "_write_journal", lambda first, backups: (journals.append(first),
                                                                         real_journal(first, backups))[1])
    edit(final_agreement / "agreement.yaml", "status: final", "status: draft")
    build(str(final_agreement), out, force=True)
    assert journals == [out] and not manifest_path(out).exists()
    assert _litter(out.parent) == []
