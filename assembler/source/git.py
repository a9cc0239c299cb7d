"""An agreement read from git objects, so two versions can be compared.

``GitSource("HEAD~1", "agreements/x")`` offers the same interface as
:class:`assembler.source.yamlfile.DirectorySource` (``display``, ``read_framework``,
``list_schedules``, ``read_schedule``) but reads the committed files with
``git ls-tree`` and ``git cat-file``: the working tree and the index are
never touched. :func:`source_for` turns what a user typed (``PATH`` or
``REV:PATH``) into one source or the other.

As in git itself, the path after ``REV:`` is relative to the top of the
repository, unless it starts with ``./`` or ``../`` (relative to the current
directory).
"""

from __future__ import annotations

import os
import posixpath
import re
import subprocess
from pathlib import Path, PurePosixPath

from assembler.diagnostics import ERROR, Diagnostic, LoadError, Location, UsageError
from assembler.source.yamlfile import MAX_BYTES, size_diagnostics
from assembler.source.folder import (
    AGREEMENT_LAYOUT, FRAMEWORK, MAX_FOLDER_FILES, SCHEDULES, DirectorySource, is_schedule_name, layer_path_problem,
    load_error,
)

GIT_TIMEOUT = 60
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")
_SYMLINK_MODE = "120000"
_SUBMODULE_MODE = "160000"


def _usage(where: str, code: str, message: str, hint: str = "") -> UsageError:
    return UsageError(Diagnostic(Location(where), ERROR, code, message, hint))


def run_git(args: list[str], cwd: str | os.PathLike | None = None, where: str = "<git>") -> subprocess.CompletedProcess:
    """Run git without a pager, prompts or colour; a missing git is a clean error."""
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0", GIT_PAGER="cat", LC_ALL="C")
    try:
        return subprocess.run(["git", "-c", "core.quotepath=off", *args], cwd=cwd, env=env,
                              capture_output=True, timeout=GIT_TIMEOUT, check=False)
    except FileNotFoundError:
        raise _usage(where, "S75-GIT", "git is not installed or not on PATH",
                     "install git, or give the version as a directory instead of REV:PATH")
    except subprocess.TimeoutExpired:
        raise _usage(where, "S75-GIT", f"git did not answer within {GIT_TIMEOUT} seconds")


def resolve_commit(rev: str, cwd: str | os.PathLike | None = None) -> str | None:
    """The full commit id ``rev`` names in the repository at ``cwd``, or None."""
    if not rev or rev.startswith("-") or any(c in rev for c in "\0\n"):
        return None
    done = run_git(["rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"], cwd, rev)
    if done.returncode != 0:
        return None
    return done.stdout.decode("ascii", "replace").strip() or None


def inside_repository(cwd: str | os.PathLike | None = None) -> bool:
    done = run_git(["rev-parse", "--is-inside-work-tree"], cwd)
    return done.returncode == 0 and done.stdout.strip() == b"true"


class GitSource:
    """An agreement directory as committed at a revision.

    ``display`` is what the user typed (``HEAD~1:agreements/x``), so every
    message names files the way they were asked for.
    """

    def __init__(self, rev: str, path: str, cwd: str | os.PathLike | None = None, display: str | None = None):
        self.rev = rev
        self.cwd = cwd
        typed = f"{rev}:{path}" if display is None else display
        self.display = typed.rstrip("/\\") or typed
        self.commit = resolve_commit(rev, cwd)
        if self.commit is None:
            raise _usage(self.display, "S75-REV", f"'{rev}' is not a commit in this git repository",
                         "name a commit (HEAD, HEAD~1, a branch, a tag or a commit id) before the ':'")
        path = path.replace("\\", "/").strip()
        if PurePosixPath(path).name in (FRAMEWORK, "agreement.yml"):
            path = str(PurePosixPath(path).parent)
            self.display = self.display[: -len(PurePosixPath(self.display).name) - 1] or self.display
        self.path = path.rstrip("/")
        self._listing: dict[str, tuple[str, str, str, int]] | None = None
        self.what = "agreement directory"

    # git object names

    def _object(self, *parts: str) -> str:
        """``commit:path/part``; a path starting ./ or ../ is relative to ``cwd``, as in git."""
        inner = "/".join(p for p in (self.path, *parts) if p)
        if self.path in (".", ".."):  # git reads these as relative only with their slash: ./ and ../
            inner = self.path + "/" + "/".join(parts)
        return f"{self.commit}:{inner}"

    def _shown(self, *parts: str) -> str:
        return "/".join([self.display, *parts]) if self.display else "/".join(parts)

    def _tree(self, *parts: str) -> dict[str, tuple[str, str, str, int]]:
        """Entries of a tree: name -> (mode, type, object id, size)."""
        where = self._shown(*parts)
        # --full-tree: from a subdirectory, ls-tree would list only what lies under it
        done = run_git(["ls-tree", "--full-tree", "-z", "-l", self._object(*parts)], self.cwd, where)
        if done.returncode != 0:
            raise load_error(where, "S75-NOTFOUND", f"'{where}' does not exist at revision {self.rev}",
                              "check the path: after REV: it is relative to the top of the repository "
                              "(start it with ./ to make it relative to the current directory)")
        entries = {}
        for record in done.stdout.split(b"\0"):
            if not record:
                continue
            meta, _, name = record.partition(b"\t")
            fields = meta.split()
            if len(fields) != 4:
                continue
            mode, kind, oid, size = (f.decode("ascii", "replace") for f in fields)
            entries[name.decode("utf-8", "surrogateescape")] = (mode, kind, oid, int(size) if size.isdigit() else 0)
        return entries

    def _root(self) -> dict[str, tuple[str, str, str, int]]:
        if self._listing is None:
            where = self._shown()
            kind = run_git(["cat-file", "-t", self._object()], self.cwd, where)
            if kind.returncode != 0:
                raise load_error(where, "S75-NOTFOUND",
                                 f"the {self.what} '{self.path or '.'}' does not exist at revision {self.rev}",
                                 AGREEMENT_LAYOUT if self.what == "agreement directory" else "")
            if kind.stdout.strip() != b"tree":
                raise load_error(where, "S75-PATH", f"'{where}' is a file, not an {self.what}",
                                 AGREEMENT_LAYOUT if self.what == "agreement directory" else "")
            self._listing = self._tree()
        return self._listing

    def _blob(self, entry: tuple[str, str, str, int], where: str) -> bytes:
        mode, kind, oid, size = entry
        if mode == _SYMLINK_MODE:
            raise load_error(where, "S75-PATH", f"'{where}' is a symbolic link",
                              "commit the real file into the agreement directory")
        if kind != "blob":
            raise load_error(where, "S75-PATH", f"'{where}' is a directory, not a YAML file",
                              "rename or remove the directory")
        if size > MAX_BYTES:  # reported with the blob's real size, and never read
            raise LoadError(size_diagnostics(where, size))
        done = run_git(["cat-file", "blob", oid], self.cwd, where)
        if done.returncode != 0:
            raise load_error(where, "S75-READ", f"'{where}' cannot be read from git: "
                              f"{done.stderr.decode('utf-8', 'replace').strip()}")
        return done.stdout

    # the AgreementSource interface

    def read_framework(self) -> bytes:
        entries = self._root()
        where = self._shown(FRAMEWORK)
        if FRAMEWORK not in entries:
            alternative = " (rename agreement.yml to agreement.yaml)" if "agreement.yml" in entries else ""
            raise load_error(where, "S75-NOTFOUND", f"'{where}' is missing{alternative}", AGREEMENT_LAYOUT)
        return self._blob(entries[FRAMEWORK], where)

    def list_schedules(self) -> list[str]:
        entries = self._root()
        where = self._shown(SCHEDULES)
        if SCHEDULES not in entries:
            return []
        mode, kind, _, _ = entries[SCHEDULES]
        if mode == _SYMLINK_MODE:
            raise load_error(where, "S75-PATH", f"'{where}' is a symbolic link",
                              "commit the real directory into the agreement directory")
        if kind != "tree" or mode == _SUBMODULE_MODE:
            raise load_error(where, "S75-PATH", f"'{where}' is a file; it must be a directory of YAML files")
        return sorted(name for name in self._tree(SCHEDULES) if is_schedule_name(name))

    def read_schedule(self, name: str) -> bytes:
        where = self._shown(SCHEDULES, name)
        if name in ("", ".", "..") or "/" in name or "\\" in name:
            raise load_error(where, "S75-PATH", f"'{name}' is not a schedule file name")
        entries = self._tree(SCHEDULES) if SCHEDULES in self._root() else {}
        if name not in entries:
            raise load_error(where, "S75-NOTFOUND", f"'{where}' does not exist at revision {self.rev}")
        return self._blob(entries[name], where)

    # clause library folders at the same revision

    def _top_path(self) -> str:
        """The agreement's path from the top of the repository ('.' for the top itself)."""
        path = self.path or "."
        if path in (".", "..") or path.startswith(("./", "../")):  # relative to cwd, as git reads it
            prefix = run_git(["rev-parse", "--show-prefix"], self.cwd, self.display)
            path = posixpath.join(prefix.stdout.decode("utf-8", "surrogateescape").strip(), path)
        return posixpath.normpath(path)

    def folder(self, relative: str) -> "GitFolder":
        """The clause library folder ``relative`` names from the agreement, as committed at this revision."""
        problem = layer_path_problem(relative)
        if problem:
            raise load_error(self._shown(FRAMEWORK), "S75-PATH", problem, "write e.g. ../house-clauses")
        path = posixpath.normpath(posixpath.join(self._top_path(), relative))
        shown = f"{self.rev}:{path}"
        if path == ".." or path.startswith("../"):
            raise load_error(shown, "S75-PATH", f"the clause library '{relative}' is outside the git repository",
                              "keep the clause library in the same repository as the agreement")
        return GitFolder(self, path, shown)

    def repository_folder(self, path: str) -> "GitFolder":
        """A folder named from the top of the repository, at this revision (e.g. the built-in clauses/)."""
        return GitFolder(self, path, f"{self.rev}:{path}")


class GitFolder:
    """A flat folder of files as committed at a revision: the same ``names``/``read`` as on disk.

    Symbolic links are refused and sizes checked from git's listing before
    anything is read, as for agreement files.
    """

    def __init__(self, agreement: GitSource, path: str, display: str):
        self._tree = GitSource(agreement.commit, path, cwd=agreement.cwd, display=display)
        self._tree.rev = agreement.rev
        self._tree.what = "clause library folder"
        self.display = display
        self.commit = agreement.commit

    def shown(self, name: str = "") -> str:
        return f"{self.display}/{name}" if name else self.display

    def names(self) -> list[str]:
        entries = self._tree._root()
        if len(entries) > MAX_FOLDER_FILES:
            raise load_error(self.display, "S75-SIZE", f"'{self.display}' holds {len(entries)} files; "
                              f"a clause library may hold at most {MAX_FOLDER_FILES}")
        return sorted(name for name, (mode, kind, _, _) in entries.items()
                      if not name.startswith((".", "~$")) and (kind == "blob" or mode == _SYMLINK_MODE))

    def read(self, name: str) -> bytes:
        where = self.shown(name)
        entries = self._tree._root()
        if name not in entries:
            raise load_error(where, "S75-NOTFOUND", f"'{where}' does not exist at revision {self._tree.rev}")
        return self._tree._blob(entries[name], where)


def split_spec(spec: str) -> tuple[str, str] | None:
    """(rev, path) if ``spec`` has the form REV:PATH, else None (a plain path)."""
    if ":" not in spec or _WINDOWS_DRIVE.match(spec):
        return None
    rev, _, path = spec.partition(":")
    return rev, path


def source_for(spec: str, cwd: str | os.PathLike | None = None):
    """A DirectorySource for PATH, a GitSource for REV:PATH.

    A spec with ':' is a git version when the part before it is a commit;
    otherwise it is a path if one exists with that name (``C:\\x``,
    ``odd:name``). Anything else is a usage error naming the revision.
    """
    base = Path(cwd) if cwd is not None else Path.cwd()
    parts = split_spec(spec)
    on_disk = (base / spec).exists() if spec else False
    if parts is None:
        return DirectorySource(base / spec if cwd is not None else spec, display=spec)
    rev, path = parts
    if not rev:
        raise _usage(spec, "S75-REV", f"'{spec}' names no revision before the ':'",
                     "write REV:PATH, e.g. HEAD~1:agreements/x")
    if resolve_commit(rev, cwd) is not None:
        return GitSource(rev, path, cwd=cwd, display=spec)
    if on_disk:
        return DirectorySource(base / spec if cwd is not None else spec, display=spec)
    if not inside_repository(cwd):
        raise _usage(spec, "S75-REV", f"'{spec}' looks like REV:PATH but this is not a git repository",
                     "run s75 inside the repository, or give the version as a directory")
    raise _usage(spec, "S75-REV", f"'{rev}' is not a commit in this git repository",
                 "name a commit (HEAD, HEAD~1, a branch, a tag or a commit id) before the ':'; "
                 "'git log --oneline' lists them")
