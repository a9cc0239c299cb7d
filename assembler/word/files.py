"""Putting output files on disk: all of a group or none, one build of a path at a time.

A final build writes a document and its manifest; they are one statement
("these bytes came from these inputs") and must never be seen apart. So every
file of a group is written to a temporary beside it and fsynced first, and
only then are the temporaries renamed into place. A lock file beside the
first target is held throughout, so two builds of one path cannot interleave
their renames. If a rename fails, the renames already done are undone from
hard-linked backups; if the process is killed in between, a journal left in
the folder lets the next build of the same path put the old files back. That
next build also removes the temporaries a killed build could not. A group
in which only one file changes (a draft with no manifest beside it) is a
single rename, atomic by itself, and needs no backup or journal.

While the renames run, SIGINT and SIGTERM are held back (delivered right
after), so Ctrl-C cannot split a group.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import tempfile
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Callable, Iterator, Sequence

from assembler.diagnostics import ERROR, BuildError, Diagnostic, Location

try:
    import fcntl  # POSIX; elsewhere builds of one path are not serialised
except ImportError:  # pragma: no cover - Windows
    fcntl = None

NAME_MAX = 255  # bytes in one file name on the file systems we know of, when the folder does not say
_RANDOM = 8  # characters of randomness in a temporary's name (tempfile's own length)
_HELD_SIGNALS = {getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)}


def name_max(folder: Path) -> int:
    """The longest file name (in bytes) the folder accepts."""
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        return NAME_MAX


def _stem(target: Path) -> str:
    """The prefix of this target's temporaries and lock: ``.<name>`` when that fits, else a hash of the name.

    The readable form tells a user whose file a leftover belongs to; the hash
    keeps the temporary's name short when the target's own name is long.
    """
    readable = f".{target.name}"
    longest = len(os.fsencode(readable)) + 1 + _RANDOM + len(".journal")
    if longest <= name_max(target.parent):
        return readable
    return ".s75-" + hashlib.sha256(os.fsencode(target.name)).hexdigest()[:24]


def _ours(target: Path) -> re.Pattern:
    """Temporaries and backups of ``target``, and nothing else (not those of ``<target>.x.docx``)."""
    return re.compile(re.escape(_stem(target)) + r"\.[a-z0-9_]{%d}\.(tmp|bak)" % _RANDOM)


def _failure(path: Path, exc: OSError) -> BuildError:
    return BuildError(Diagnostic(Location(str(path)), ERROR, "S75-WRITE",
                                 f"cannot write {path.name}: {exc.strerror or exc}", write_hint(path, exc)))


def write_hint(path: Path, exc: OSError) -> str:
    folder = path.parent
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        return "the disk is full; free some space and build again"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return (f"you cannot write in {folder}; choose another output folder, "
                "or close the document if it is open in Word")
    if exc.errno == errno.ENOENT:
        return f"the folder {folder} does not exist; create it or choose another output path"
    if exc.errno == errno.ENOTDIR:
        return f"part of {folder} is a file, not a folder; choose another output path"
    if exc.errno == errno.EISDIR:
        return f"{path} is a folder; give a file name ending in .docx"
    if exc.errno == errno.ENAMETOOLONG:
        return f"the name {path.name!r} is too long for this folder; choose a shorter one"
    return "check the output path and try again"


def replace_files(files: Sequence[tuple[Path, bytes | None]], check: Callable[[], None] | None = None) -> None:
    """Put every ``(path, data)`` in place, or leave every path as it was; ``data`` None removes the file.

    All paths are in one folder; the lock is that of the first. ``check``
    runs once the lock is held and before anything is written (a refusal to
    overwrite belongs there, or two builds could both pass it). Raises
    BuildError S75-WRITE naming the file that could not be written.
    """
    files = [(Path(path), data) for path, data in files]
    first = files[0][0]
    assert all(path.parent == first.parent for path, _ in files), "one folder per group"
    with _locked(first, [path for path, _ in files]):
        if check is not None:
            check()
        temps: dict[Path, str] = {}
        try:
            for path, data in files:
                if data is not None:
                    temps[path] = _write_temporary(path, data)
            with _signals_held():
                _swap(first, [(path, temps.get(path)) for path, _ in files])
        finally:
            for temp in temps.values():
                with suppress(OSError):
                    os.unlink(temp)
        _fsync_dir(first.parent)


def settle(files: Sequence[Path]) -> None:
    """Put back a group a killed build left half renamed, and sweep its leftovers, if the folder lets us.

    For readers of a group (``verify``): what they read is then a whole
    group. A folder they cannot write in cannot hold a half-renamed group of
    ours either, so failing to lock is not an error.
    """
    files = [Path(path) for path in files]
    with suppress(OSError, BuildError):
        with _locked(files[0], files):
            pass


def _write_temporary(path: Path, data: bytes) -> str:
    """A complete, fsynced copy of ``data`` beside ``path``, with the mode ``path`` has (or would get)."""
    tmp = None
    try:
        mode = path.stat().st_mode & 0o777 if path.is_file() else _default_mode()
        fd, tmp = tempfile.mkstemp(prefix=_stem(path) + ".", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
    except OSError as exc:
        if tmp is not None:
            with suppress(OSError):
                os.unlink(tmp)
        raise _failure(path, exc) from exc
    except BaseException:
        if tmp is not None:
            with suppress(OSError):
                os.unlink(tmp)
        raise
    return tmp


def _swap(first: Path, moves: list[tuple[Path, str | None]]) -> None:
    """Rename each temporary over its target (or remove the target), undoing them all if one fails.

    The journal's removal is the moment the group is committed: until then a
    later build of the path undoes whatever renames were done.
    """
    changes = [(target, temp) for target, temp in moves if temp is not None or os.path.lexists(target)]
    if len(changes) == 1 and changes[0][1] is not None:
        _rename_one(*changes[0])
        return
    backups: dict[Path, Path | None] = {}
    done: list[Path] = []
    current = first
    try:
        for current, _ in moves:
            backups[current] = _backup(current)
        current = first
        _write_journal(first, backups)
        for current, temp in moves:
            if temp is not None:
                os.replace(temp, current)
            elif os.path.lexists(current):
                os.unlink(current)
            done.append(current)
        _fsync_dir(first.parent)
    except BaseException as exc:
        if _restore({target: backups[target] for target in done}):
            with suppress(OSError):
                _journal(first).unlink()
            _drop(backups)
        if isinstance(exc, OSError):
            raise _failure(current, exc) from exc
        raise
    _journal(first).unlink()
    _drop(backups)


def _rename_one(target: Path, temp: str) -> None:
    """A group in which only one file changes (a draft build with no manifest beside it).

    One rename is atomic by itself: the old file or the new one is there,
    never neither. So it needs no backup and no journal, and their three
    fsyncs, a third of a draft build's time on a busy disk, are saved.
    replace_files makes the rename durable with its last fsync of the folder.
    """
    try:
        os.replace(temp, target)
    except OSError as exc:
        raise _failure(target, exc) from exc


def _drop(backups: dict[Path, Path | None]) -> None:
    for backup in backups.values():
        if backup is not None:
            with suppress(OSError):
                backup.unlink()


def _backup(target: Path) -> Path | None:
    """A hard link to the file now at ``target`` (a copy where links are not supported), or None."""
    if not os.path.lexists(target):
        return None
    backup = target.with_name(f"{_stem(target)}.{secrets.token_hex(_RANDOM // 2)}.bak")
    try:
        os.link(target, backup, follow_symlinks=False)
    except OSError:
        shutil.copy2(target, backup, follow_symlinks=False)
    return backup


def _journal(first: Path) -> Path:
    return first.with_name(_stem(first) + ".journal")


def _write_journal(first: Path, backups: dict[Path, Path | None]) -> None:
    """Record how to put the group back, durably, before the first rename."""
    data = json.dumps({target.name: backup.name if backup else None for target, backup in backups.items()})
    temp = first.with_name(f"{_stem(first)}.{secrets.token_hex(_RANDOM // 2)}.tmp")
    try:
        with open(temp, "w", encoding="utf-8") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, _journal(first))
    finally:
        with suppress(OSError):
            os.unlink(temp)
    _fsync_dir(first.parent)


def _restore(backups: dict[Path, Path | None]) -> bool:
    """Put each target back as its backup holds it (or remove it, if it did not exist): True if all went back."""
    ok = True
    for target, backup in backups.items():
        try:
            if backup is None:
                if os.path.lexists(target):
                    os.unlink(target)
            elif os.path.lexists(backup):
                os.replace(backup, target)
        except OSError:
            ok = False
    _fsync_dir(next(iter(backups)).parent if backups else Path("."))
    return ok


def _recover(first: Path, targets: list[Path]) -> None:
    """Undo a group a killed build left half renamed, then remove what killed builds left behind."""
    journal = _journal(first)
    if journal.exists():
        try:
            recorded = json.loads(journal.read_text(encoding="utf-8"))
            pairs = {first.with_name(t): (first.with_name(b) if b else None) for t, b in recorded.items()}
        except (OSError, ValueError, TypeError, AttributeError):
            pairs = {}
        if _restore(pairs):
            journal.unlink()
    patterns = [_ours(target) for target in targets]
    with os.scandir(first.parent) as entries:
        for entry in entries:
            if any(p.fullmatch(entry.name) for p in patterns):
                with suppress(OSError):
                    os.unlink(entry.path)


@contextmanager
def _locked(first: Path, targets: list[Path]) -> Iterator[None]:
    """Hold the lock of ``first`` (``.<name>.lock`` beside it), recover and sweep, and remove the lock after."""
    lock = first.with_name(_stem(first) + ".lock")
    try:
        fd = _acquire(lock)
    except OSError as exc:
        raise _failure(first, exc) from exc
    try:
        try:
            _recover(first, targets)
        except OSError as exc:
            raise _failure(first, exc) from exc
        yield
    finally:
        with suppress(OSError):
            os.unlink(lock)
        os.close(fd)


def _acquire(lock: Path) -> int:
    """An open descriptor of ``lock`` holding its exclusive lock (waiting for another build to finish).

    The holder removes the lock file when done; a build that was waiting on
    the removed file sees that the name now points elsewhere and tries again.
    """
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        if fcntl is None:  # pragma: no cover
            return fd
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if os.fstat(fd).st_ino == os.stat(lock).st_ino:
                return fd
        except FileNotFoundError:
            pass
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)


@contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT/SIGTERM/SIGHUP back while a group is renamed; they arrive as soon as it is done."""
    if not hasattr(signal, "pthread_sigmask"):  # pragma: no cover - Windows
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _default_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _fsync_dir(folder: Path) -> None:
    """Make renames durable (POSIX only; a no-op elsewhere)."""
    with suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
