"""Agreement folders on disk: agreement.yaml plus schedules/*.yaml, read safely.

Every file is checked by ``stat`` before it is read (no symlinks, nothing
outside the folder, nothing that is not an ordinary file, nothing over the
size limit); the bytes then go to :mod:`assembler.source.yamlfile`. A git
revision (:mod:`assembler.source.git`) offers the same three methods, and the
same ``folder`` for a clause library layer the agreement names.
"""

from __future__ import annotations

import os
import posixpath
import stat
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable, Iterator, Protocol

from assembler.diagnostics import ERROR, Diagnostic, LoadError, Location
from assembler.source.yamlfile import MAX_BYTES, YamlFile, load_yaml_bytes, size_diagnostics

FRAMEWORK = "agreement.yaml"
SCHEDULES = "schedules"
AGREEMENT_LAYOUT = (
    "an agreement directory holds agreement.yaml and, optionally, "
    "schedules/<scheme>.yaml with one file per scheme"
)


@dataclass(frozen=True)
class AgreementFiles:
    """The framework file and the schedule files of one agreement directory."""

    root_display: str
    framework: YamlFile | None
    schedules: tuple[YamlFile, ...]


def read_regular_file(path: Path, display: str) -> bytes:
    """Bytes of an ordinary file, checked by stat first so nothing huge is read."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise load_error(display, "S75-NOTFOUND", f"the file '{display}' does not exist", AGREEMENT_LAYOUT)
    except OSError as error:
        raise load_error(display, "S75-READ", f"the file '{display}' cannot be read: {error.strerror}")
    if stat.S_ISDIR(info.st_mode):
        raise load_error(display, "S75-PATH", f"'{display}' is a directory, not a YAML file",
                          "rename or remove the directory")
    if not stat.S_ISREG(info.st_mode):
        raise load_error(display, "S75-PATH", f"'{display}' is not an ordinary file")
    if info.st_size > MAX_BYTES:
        raise LoadError(size_diagnostics(display, info.st_size))
    try:
        with open(path, "rb") as handle:
            return handle.read(MAX_BYTES + 1)
    except OSError as error:
        raise load_error(display, "S75-READ", f"the file '{display}' cannot be read: {error.strerror}",
                          "check the file's permissions")


def load_yaml_file(path: str | os.PathLike, display: str | None = None) -> tuple[YamlFile | None, list[Diagnostic]]:
    """Load one file from disk; problems reading it are diagnostics too."""
    path = Path(path)
    display = str(path) if display is None else display
    try:
        raw = read_regular_file(path, display)
    except LoadError as error:
        return None, error.diagnostics
    loaded, diagnostics = load_yaml_bytes(raw, display)
    if loaded is not None:
        loaded = replace(loaded, path=path)
    return loaded, diagnostics


def load_error(display: str, code: str, message: str, hint: str = "") -> LoadError:
    return LoadError(Diagnostic(Location(display, 1, 1), ERROR, code, message, hint))


# --- agreement directories ------------------------------------------------


class AgreementSource(Protocol):
    """What load_agreement needs; a git-object source can provide the same."""

    display: str

    def read_framework(self) -> bytes: ...

    def list_schedules(self) -> list[str]: ...

    def read_schedule(self, name: str) -> bytes: ...


MAX_FOLDER_FILES = 1000  # a clause library has tens of files; a folder of thousands is a mistake


def layer_path_problem(relative: str) -> str:
    """Why ``relative`` cannot name a clause library folder, or "" when it can.

    The path is written in agreement.yaml and must mean the same on every
    machine and at every git revision, so it is relative and uses '/'.
    """
    if not relative.strip():
        return "the clause library path is empty"
    if "\\" in relative or posixpath.isabs(relative) or relative[1:3] in (":/", ":\\"):
        return f"'{relative}' is not a relative path written with '/'"
    return ""


def _join(prefix: str, *parts: str) -> str:
    return "/".join([prefix, *parts]) if prefix else "/".join(parts)


def _is_utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes, kept by Python as lone surrogates
        return False
    return True


def name_for_display(name: str) -> str:
    """A file name as text that can be printed: undecodable bytes as \\xNN escapes."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def is_schedule_name(name: str) -> bool:
    """A YAML file name, not a hidden file (macOS '._x.yaml') or Office lock file ('~$x')."""
    return name.lower().endswith((".yaml", ".yml")) and not name.startswith((".", "~$"))


class DirectorySource:
    """An agreement directory on disk: agreement.yaml plus schedules/*.yaml.

    ``display`` is the directory as the user typed it, so messages name
    files the way the user knows them. The path of agreement.yaml itself is
    accepted too.
    """

    def __init__(self, path: str | os.PathLike, display: str | None = None):
        typed = str(path) if display is None else display
        root = Path(path)
        if root.name == FRAMEWORK and not root.is_dir():
            root, typed = root.parent, os.path.dirname(typed.rstrip("/\\"))
        self.root = root
        cleaned = typed.rstrip("/\\") or typed
        self.display = "" if cleaned in ("", ".") else cleaned

    def _shown(self, *parts: str) -> str:
        return _join(self.display, *parts) if parts else (self.display or ".")

    def _check_root(self) -> None:
        if not self.root.exists():
            raise load_error(self._shown(), "S75-NOTFOUND",
                              f"the agreement directory '{self._shown()}' does not exist", AGREEMENT_LAYOUT)
        if not self.root.is_dir():
            raise load_error(self._shown(), "S75-PATH",
                              f"'{self._shown()}' is a file, not an agreement directory", AGREEMENT_LAYOUT)

    def _inside_root(self, path: Path, display: str) -> Path:
        """Refuse symlinks and anything that resolves outside the agreement directory."""
        if path.is_symlink():
            raise load_error(display, "S75-PATH", f"'{display}' is a symbolic link",
                              "copy the real file into the agreement directory")
        try:
            path.resolve().relative_to(self.root.resolve())
        except ValueError:
            raise load_error(display, "S75-PATH", f"'{display}' is outside the agreement directory",
                              "copy the real file into the agreement directory")
        return path

    def read_framework(self) -> bytes:
        """Bytes of agreement.yaml; LoadError if it or the directory is missing."""
        self._check_root()
        path, display = self.root / FRAMEWORK, self._shown(FRAMEWORK)
        if not os.path.lexists(path):
            alternative = " (rename agreement.yml to agreement.yaml)" if (self.root / "agreement.yml").exists() else ""
            raise load_error(display, "S75-NOTFOUND",
                              f"'{display}' is missing{alternative}", AGREEMENT_LAYOUT)
        return read_regular_file(self._inside_root(path, display), display)

    def list_schedules(self) -> list[str]:
        """Sorted names of schedules/*.yaml and *.yml; none if there is no schedules/."""
        self._check_root()
        folder, display = self.root / SCHEDULES, self._shown(SCHEDULES)
        if not os.path.lexists(folder):
            return []
        self._inside_root(folder, display)
        if not folder.is_dir():
            raise load_error(display, "S75-PATH", f"'{display}' is a file; it must be a directory of YAML files")
        try:
            names = os.listdir(folder)
        except OSError as error:
            raise load_error(display, "S75-READ", f"'{display}' cannot be read: {error.strerror}",
                              "check the directory's permissions")
        unreadable = [name for name in names if is_schedule_name(name) and not _is_utf8(name)]
        if unreadable:  # the name cannot be shown, recorded in a manifest or compared with git's
            shown = name_for_display(unreadable[0])
            raise load_error(self._shown(SCHEDULES, shown), "S75-PATH",
                             f"the file name '{shown}' is not valid UTF-8",
                             "rename the file, using only letters, digits, '-' and '_'")
        return sorted(name for name in names if is_schedule_name(name))

    def read_schedule(self, name: str) -> bytes:
        """Bytes of one schedule; LoadError if it is not an ordinary file inside the agreement."""
        display = self._shown(SCHEDULES, name)
        if name in ("", ".", "..") or "/" in name or "\\" in name or os.sep in name:
            raise load_error(display, "S75-PATH", f"'{name}' is not a schedule file name")
        path = self.root / SCHEDULES / name
        if not os.path.lexists(path):
            raise load_error(display, "S75-NOTFOUND", f"'{display}' does not exist")
        return read_regular_file(self._inside_root(path, display), display)

    def folder(self, relative: str) -> "DirectoryFolder":
        """The clause library folder ``relative`` (as agreement.yaml writes it) names, from this directory."""
        problem = layer_path_problem(relative)
        if problem:
            raise load_error(self._shown(FRAMEWORK), "S75-PATH", problem, "write e.g. ../house-clauses")
        shown = posixpath.normpath(posixpath.join(self.display or ".", relative))
        return DirectoryFolder(self.root / relative, shown)


class DirectoryFolder:
    """A flat folder of files on disk (a clause library), read with the agreement files' checks.

    The folder itself and each file in it may not be a symbolic link, a file
    may not resolve outside the folder, and nothing over the size limit is
    read. ``names`` lists the ordinary, visible files; sub-folders are not read.
    """

    def __init__(self, path: str | os.PathLike, display: str):
        self.root = Path(path)
        self.display = display

    def shown(self, name: str = "") -> str:
        return _join(self.display, name) if name else self.display

    def _check_root(self) -> None:
        shown = self.shown()
        if os.path.islink(self.root):
            raise load_error(shown, "S75-PATH", f"the clause library '{shown}' is a symbolic link",
                             "name the real folder in clause_library")
        if not self.root.exists():
            raise load_error(shown, "S75-NOTFOUND", f"the clause library folder '{shown}' does not exist",
                             "clause_library is a path from the agreement's folder, e.g. ../house-clauses")
        if not self.root.is_dir():
            raise load_error(shown, "S75-PATH", f"the clause library '{shown}' is a file, not a folder")

    def names(self) -> list[str]:
        """Sorted names of the ordinary files in the folder (not hidden files, not sub-folders)."""
        self._check_root()
        try:
            names = sorted(n for n in os.listdir(self.root) if not n.startswith((".", "~$")))
        except OSError as error:
            raise load_error(self.shown(), "S75-READ", f"'{self.shown()}' cannot be read: {error.strerror}")
        if len(names) > MAX_FOLDER_FILES:
            raise load_error(self.shown(), "S75-SIZE", f"'{self.shown()}' holds {len(names)} files; "
                             f"a clause library may hold at most {MAX_FOLDER_FILES}")
        return [n for n in names if os.path.islink(self.root / n) or not (self.root / n).is_dir()]

    def read(self, name: str) -> bytes:
        """Bytes of one file of the folder; LoadError if it is a link, outside the folder or too big."""
        shown = self.shown(name)
        if name in ("", ".", "..") or "/" in name or "\\" in name or os.sep in name:
            raise load_error(shown, "S75-PATH", f"'{name}' is not a file name")
        path = self.root / name
        if os.path.islink(path):
            raise load_error(shown, "S75-PATH", f"'{shown}' is a symbolic link",
                             "copy the real file into the clause library folder")
        try:
            path.resolve().relative_to(self.root.resolve())
        except ValueError:
            raise load_error(shown, "S75-PATH", f"'{shown}' is outside the clause library folder")
        return read_regular_file(path, shown)


def _load_one(source, read, parts: tuple[str, ...], diagnostics: list[Diagnostic]) -> YamlFile | None:
    """Read and load one file of a source, adding its problems to ``diagnostics``."""
    display = _join(source.display, *parts)
    try:
        raw = read()
    except LoadError as error:
        diagnostics.extend(error.diagnostics)
        return None
    loaded, found = load_yaml_bytes(raw, display)
    diagnostics.extend(found)
    if loaded is not None and isinstance(source, DirectorySource):
        loaded = replace(loaded, path=source.root.joinpath(*parts))
    return loaded


def _unique(diagnostics: Iterable[Diagnostic]) -> Iterator[Diagnostic]:
    seen = set()
    for diagnostic in diagnostics:
        if diagnostic not in seen:
            seen.add(diagnostic)
            yield diagnostic


def load_agreement(source: AgreementSource | str | os.PathLike) -> tuple[AgreementFiles, list[Diagnostic]]:
    """Load the framework and every schedule, collecting every file's problems.

    A missing schedules/ directory simply means no schedules. Files that
    fail are left out of the result; their diagnostics say why.
    """
    if isinstance(source, (str, os.PathLike)):
        source = DirectorySource(source)
    diagnostics: list[Diagnostic] = []
    framework = _load_one(source, source.read_framework, (FRAMEWORK,), diagnostics)
    try:
        names = source.list_schedules()
    except LoadError as error:
        diagnostics.extend(error.diagnostics)
        names = []
    schedules = []
    for name in names:
        read = lambda name=name: source.read_schedule(name)  # noqa: E731
        loaded = _load_one(source, read, (SCHEDULES, name), diagnostics)
        if loaded is not None:
            schedules.append(loaded)
    files = AgreementFiles(source.display, framework, tuple(schedules))
    return files, list(_unique(diagnostics))
