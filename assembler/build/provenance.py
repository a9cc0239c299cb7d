"""Provenance of a final document: a manifest beside it, and ``s75 verify``.

A ``--final`` build writes ``<name>.docx.manifest.json`` next to the
document: every input file of the agreement with its SHA-256, the clause
library and Word template it was built with, each house clause library
layer the agreement names (its path and every file's SHA-256), the git commit and whether the
working tree was clean, the tool version, the build options and the
SHA-256 of the document itself.

``verify`` answers "is this signed document exactly what these YAML files
produce?": it checks the document and every recorded input against their
hashes first (naming each file that changed, appeared or disappeared), then
rebuilds from the recorded agreement directory and compares the bytes,
saying which parts of the package differ and the first paragraph that reads
differently. The directory is looked for where it was relative to the
document first, so a moved or cloned folder still verifies; and when the
working tree's files have changed since a build from a clean commit, the
document is rebuilt from that commit instead.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import subprocess
import time
import zipfile
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path

import docx

from assembler import __version__
from assembler.build.pipeline import assemble_source
from assembler.build.layers import is_layer_file
from assembler.diagnostics import ERROR, BuildError, Diagnostic, LoadError, Location, S75Error
from assembler.resources import clauses_dir
from assembler.source.folder import FRAMEWORK, SCHEDULES, DirectorySource
from assembler.source.git import GitSource
from assembler.word import files
from assembler.word.read import open_package, read_docx_file
from assembler.word.writer import reference_template, render_docx_bytes

MANIFEST_SUFFIX = ".manifest.json"
MANIFEST_VERSION = 1
TOOL = "s75-assembler"
GIT_BUDGET_SECONDS = 10  # for all the git calls of one manifest: a hung git must not hold a build for long


def manifest_path(document: str | os.PathLike) -> Path:
    """``report.docx`` -> ``report.docx.manifest.json`` in the same folder."""
    document = Path(document)
    return document.with_name(document.name + MANIFEST_SUFFIX)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --- what goes into a manifest ---------------------------------------------------


def _agreement_root(path: str | os.PathLike) -> Path:
    """The agreement directory, whether ``path`` names it or its agreement.yaml."""
    path = Path(path)
    if path.name in ("agreement.yaml", "agreement.yml") and not path.is_dir():
        path = path.parent
    return path.resolve()


def agreement_files(root: Path) -> dict[str, str]:
    """relative path -> SHA-256 of agreement.yaml and every schedule file the loader reads."""
    source = DirectorySource(root)
    files = {FRAMEWORK: sha256_bytes(source.read_framework())}
    for name in source.list_schedules():
        files[f"{SCHEDULES}/{name}"] = sha256_bytes(source.read_schedule(name))
    return dict(sorted(files.items()))


def library_files() -> dict[str, str]:
    """relative path -> SHA-256 of the clause library and the Word template the build used."""
    folder = clauses_dir()
    files = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix in (".clause", ".yaml"):
            files[f"clauses/{path.relative_to(folder).as_posix()}"] = sha256_file(path)
    files["templates/reference.docx"] = sha256_bytes(reference_template().read_bytes())
    return files


def layer_record(layers) -> list[dict]:
    """The manifest's record of the layers a build used: each path as agreement.yaml writes it, and its files."""
    return [{"path": layer.written, "files": dict(layer.files)} for layer in layers]


def layer_files(root: Path, written: str) -> dict[str, str]:
    """file name -> SHA-256 of the files of the layer ``written`` from the agreement at ``root``, now."""
    folder = DirectorySource(root).folder(written)
    return {name: sha256_bytes(folder.read(name)) for name in folder.names() if is_layer_file(name)}


def _git(root: Path, deadline: float, *args: str) -> str | None:
    left = deadline - time.monotonic()
    if left <= 0:
        return None
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                              timeout=left, check=False)
    except (OSError, subprocess.SubprocessError):  # no git, or it hung
        return None
    return done.stdout if done.returncode == 0 else None


def git_state(root: Path, leave_out: tuple[Path, ...] = (), also: tuple[str, ...] = ()) -> dict:
    """{"commit", "clean", "path"}: all None when git is absent or ``root`` is not in a repository.

    ``clean`` says whether the agreement directory holds no uncommitted change
    (other changes in the repository do not alter what the agreement builds);
    ``leave_out`` are the build's own outputs, which may lie inside it;
    ``also`` are further inputs (house clause layers) as paths from it.
    ``path`` is the directory relative to the repository's top, so that
    ``commit:path`` names the exact inputs. Git gets GIT_BUDGET_SECONDS in
    all; what it has not answered by then is recorded as unknown (None).
    """
    deadline = time.monotonic() + GIT_BUDGET_SECONDS
    commit = _git(root, deadline, "rev-parse", "--verify", "HEAD")
    top = _git(root, deadline, "rev-parse", "--show-toplevel")
    if commit is None or top is None:
        return {"commit": None, "clean": None, "path": None}
    top_dir = Path(top.strip()).resolve()
    try:
        path = root.resolve().relative_to(top_dir).as_posix()
        path = "" if path == "." else path  # the top itself: "commit:" in git's spelling
    except ValueError:
        path = None
    excluded = []
    for item in leave_out:
        try:
            excluded.append(f":(exclude,top){Path(item).resolve().relative_to(top_dir).as_posix()}")
        except ValueError:
            continue  # outside the repository: git status does not see it anyway
    status = _git(root, deadline, "status", "--porcelain", "--untracked-files=normal", "--", ".", *also, *excluded)
    return {"commit": commit.strip(), "clean": None if status is None else status.strip() == "", "path": path}


def make_manifest(agreement: str | os.PathLike, output: str | os.PathLike, document_sha256: str, *,
                  final: bool = True, schedule: str = "", compliance_annex: bool = False, layers=()) -> dict:
    """The manifest of the document whose bytes hash to ``document_sha256``, to be written to ``output``.

    The hash is of the bytes this build wrote, never of the file on disk,
    which another build may have replaced since. ``layers`` are the clause
    library layers the build read (``Library.layers``).
    """
    root = _agreement_root(agreement)
    output = Path(output)
    layers = layer_record(layers)
    return {
        "manifest_version": MANIFEST_VERSION,
        "tool": {"name": TOOL, "version": __version__},
        "agreement": {"directory": str(root), "from_document": _relative(root, output.resolve().parent),
                      "files": agreement_files(root)},
        "library": library_files(),
        "layers": layers,
        "build": {"final": final, "schedule": schedule, "compliance_annex": compliance_annex},
        "git": git_state(root, leave_out=(output, manifest_path(output)), also=tuple(l["path"] for l in layers)),
        "output": {"file": output.name, "sha256": document_sha256},
    }


def _relative(path: Path, start: Path) -> str | None:
    """``path`` relative to ``start`` (POSIX separators), or None where there is no such path (another drive)."""
    try:
        return Path(os.path.relpath(path, start)).as_posix()
    except ValueError:
        return None


def manifest_bytes(agreement: str | os.PathLike, output: str | os.PathLike, document: bytes, **options) -> bytes:
    """The manifest file's contents for ``document`` (the bytes about to be written to ``output``)."""
    data = make_manifest(agreement, output, sha256_bytes(document), **options)
    return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


# --- verify -------------------------------------------------------------------------


@dataclass
class Verification:
    """The outcome of ``verify``: ``ok`` when the rebuilt bytes equal the document's."""

    document: Path
    findings: list[Diagnostic] = field(default_factory=list)
    rebuilt: bool = False
    note: str = ""  # how it was verified, when not from the working tree

    @property
    def ok(self) -> bool:
        return not self.findings


def _finding(file: str | os.PathLike, code: str, message: str, hint: str = "") -> Diagnostic:
    return Diagnostic(Location(str(file)), ERROR, code, message, hint)


def read_manifest(document: Path) -> dict:
    """The manifest beside ``document``; BuildError S75-MANIFEST if it is missing, damaged or not s75's."""
    path = manifest_path(document)
    try:
        data = json.loads(_read_small_file(path, MAX_MANIFEST_BYTES).decode("utf-8"))
    except FileNotFoundError:
        raise BuildError(_finding(path, "S75-MANIFEST", f"there is no manifest {path.name} beside {document.name}",
                                  "only a --final build writes a manifest; rebuild with --final"))
    except RecursionError:
        raise BuildError(_finding(path, "S75-MANIFEST", f"the manifest {path.name} cannot be read: it is nested "
                                  "too deeply to be one s75 wrote",
                                  "rebuild the document with --final to write a new manifest"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise BuildError(_finding(path, "S75-MANIFEST", f"the manifest {path.name} cannot be read: {exc}",
                                  "rebuild the document with --final to write a new manifest"))
    problem = _manifest_problem(data)
    if problem:
        raise BuildError(_finding(path, "S75-MANIFEST", f"the manifest {path.name} is not one s75 wrote: {problem}",
                                  "rebuild the document with --final to write a new manifest"))
    return data


MAX_MANIFEST_BYTES = 16 * 1024 * 1024


def _read_small_file(path: Path, limit: int) -> bytes:
    """An ordinary file's bytes; ValueError for a FIFO, device or folder, or one over ``limit`` bytes."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with open(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError("it is not an ordinary file")
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"it is over {limit // (1024 * 1024)} MiB, far larger than any s75 writes")
    return data


def _manifest_problem(data) -> str:
    """What is wrong with the shape of a parsed manifest, or "" (every field verify reads, with its type)."""

    def hashes(value) -> bool:
        return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())

    if not isinstance(data, dict) or data.get("manifest_version") != MANIFEST_VERSION:
        return f"manifest_version {MANIFEST_VERSION} expected"
    agreement, output, build = data.get("agreement"), data.get("output"), data.get("build")
    tool, git = data.get("tool", {}), data.get("git") or {}
    checks = [
        (isinstance(agreement, dict) and hashes(agreement.get("files"))
         and isinstance(agreement.get("directory"), str)
         and isinstance(agreement.get("from_document"), (str, type(None))), "agreement"),
        (isinstance(output, dict) and isinstance(output.get("sha256"), str), "output"),
        (isinstance(build, dict) and isinstance(build.get("final", True), bool)
         and isinstance(build.get("schedule", ""), (str, type(None)))
         and isinstance(build.get("compliance_annex", False), bool), "build"),
        (hashes(data.get("library", {})), "library"),
        (isinstance(data.get("layers", []), list)
         and all(isinstance(layer, dict) and isinstance(layer.get("path"), str) and hashes(layer.get("files"))
                 for layer in data.get("layers", [])), "layers"),
        (isinstance(tool, dict) and isinstance(tool.get("version"), (str, type(None))), "tool"),
        (isinstance(git, dict) and isinstance(git.get("commit"), (str, type(None)))
         and isinstance(git.get("path"), (str, type(None))) and isinstance(git.get("clean"), (bool, type(None))),
         "git"),
    ]
    wrong = [name for ok, name in checks if not ok]
    return f"its {', '.join(wrong)} {'entry is' if len(wrong) == 1 else 'entries are'} malformed" if wrong else ""


def _compare_hashes(recorded: dict, current: dict, shown, what: str, code: str) -> list[Diagnostic]:
    findings = []
    for name in sorted(set(recorded) | set(current)):
        if name not in current:
            findings.append(_finding(shown(name), code, f"{what} {name} was used for the build but is gone now"))
        elif name not in recorded:
            findings.append(_finding(shown(name), code, f"{what} {name} is new since the build"))
        elif recorded[name] != current[name]:
            findings.append(_finding(shown(name), code, f"{what} {name} has changed since the build "
                                     f"(sha256 {recorded[name][:12]}... then, {current[name][:12]}... now)"))
    return findings


def _current_agreement_files(root: Path) -> tuple[dict[str, str], list[Diagnostic]]:
    try:
        return agreement_files(root), []
    except S75Error as exc:
        return {}, list(exc.diagnostics)


def verify(document: str | os.PathLike) -> Verification:
    """Check a final document against its manifest: hashes first, then a rebuild byte for byte."""
    document = Path(document)
    result = Verification(document)
    files.settle([document, manifest_path(document)])  # a build killed mid-commit is undone first
    if not os.path.lexists(document):
        raise BuildError(_finding(document, "S75-NOTFOUND", f"the document {document} does not exist"))
    original = read_docx_file(document)
    manifest = read_manifest(document)
    recorded_output = manifest["output"]["sha256"]
    actual_output = sha256_bytes(original)
    if actual_output != recorded_output:
        result.findings.append(_finding(document, "S75-VERIFY-DOCUMENT",
                                        f"{document.name} has changed since it was built (sha256 "
                                        f"{recorded_output[:12]}... recorded, {actual_output[:12]}... now)",
                                        "it was edited or replaced after the build"))

    root = _recorded_agreement(document, manifest)
    if not root.is_dir():
        result.findings.append(_finding(root, "S75-VERIFY-INPUT",
                                        f"the agreement directory {root} recorded in the manifest does not exist",
                                        "keep the agreement where it was, or beside the document as it was then"))
        return result
    current, problems = _current_agreement_files(root)
    result.findings += problems
    result.findings += _compare_hashes(manifest["agreement"]["files"], current, lambda n: root / n,
                                       "input file", "S75-VERIFY-INPUT")
    for layer in manifest.get("layers") or []:
        result.findings += _compare_layer(root, layer)
    recorded_library = manifest.get("library") or {}
    if recorded_library:
        result.findings += _compare_hashes(recorded_library, library_files(), lambda n: n,
                                           "clause library file", "S75-VERIFY-LIBRARY")
    version = manifest.get("tool", {}).get("version")
    if version != __version__:
        result.findings.append(_finding(document, "S75-VERIFY-TOOL",
                                        f"built with s75 {version}, verifying with s75 {__version__}",
                                        f"verify with s75 {version}"))
    if any(d.code != "S75-VERIFY-DOCUMENT" for d in result.findings):
        if all(d.code == "S75-VERIFY-INPUT" for d in result.findings):
            _verify_from_commit(document, manifest, root, result)
        return result  # the inputs differ: a rebuild from them could only differ too, and would not say why

    rebuilt = rebuild_bytes(root, manifest["build"])
    result.rebuilt = True
    if rebuilt != original:
        result.findings += describe_difference(document, original, rebuilt)
    elif result.findings:  # edited after the build, yet equal to the rebuild: the manifest is stale
        result.findings = [_finding(document, "S75-VERIFY-DOCUMENT",
                                    f"{document.name} matches a rebuild but not the hash in its manifest",
                                    "the manifest is out of date; rebuild with --final --force")]
    return result


def _compare_layer(root: Path, layer: dict) -> list[Diagnostic]:
    """A house clause layer's files now against the manifest: they are inputs, versioned with the agreement."""
    written = layer["path"]
    try:
        current = layer_files(root, written)
    except S75Error as exc:
        return [replace(d, code="S75-VERIFY-INPUT") for d in exc.diagnostics]
    recorded = {f"{written}/{name}": sha for name, sha in layer["files"].items()}
    current = {f"{written}/{name}": sha for name, sha in current.items()}
    return _compare_hashes(recorded, current, lambda name: Path(os.path.normpath(root / name)),
                           "house clause file", "S75-VERIFY-INPUT")


def _recorded_agreement(document: Path, manifest: dict) -> Path:
    """The agreement directory: where it was relative to the document if it is there (a moved or
    cloned folder), else the absolute path recorded."""
    relative = manifest["agreement"].get("from_document")
    if isinstance(relative, str):
        beside = (document.resolve().parent / relative).resolve()
        if beside.is_dir():
            return beside
    return Path(manifest["agreement"]["directory"])


def _verify_from_commit(document: Path, manifest: dict, root: Path, result: Verification) -> None:
    """The working tree's inputs changed: rebuild from the commit recorded, if the tree was clean then.

    When those bytes match, the document is verified against the commit, and
    the changed files are only news (``result.note``).
    """
    git = manifest.get("git") or {}
    commit, path = git.get("commit"), git.get("path")
    if not (git.get("clean") and isinstance(commit, str) and isinstance(path, str)):
        return
    try:
        rebuilt = rebuild_bytes(GitSource(commit, path, cwd=root if root.is_dir() else document.parent,
                                          display=f"{commit[:12]}:{path}"), manifest["build"])
    except S75Error:
        return  # the commit is not in this clone, or no longer builds: the input findings stand
    if rebuilt == read_docx_file(document):
        result.rebuilt = True
        result.note = (f"rebuilt from commit {commit[:12]} ({path or '.'}), as recorded; "
                       f"the working tree has changed since: " + "; ".join(d.message for d in result.findings))
        result.findings = []


def rebuild_bytes(source, options: dict) -> bytes:
    """The document the recorded options produce from ``source`` now, in memory (nothing is written).

    ``source`` is an agreement directory or any agreement source (e.g. a commit).
    """
    if isinstance(source, (str, os.PathLike)):
        source = DirectorySource(source)
    assembled = assemble_source(source, final=bool(options.get("final", True)),
                                schedule=str(options.get("schedule") or ""),
                                compliance_annex=bool(options.get("compliance_annex", False)))
    return render_docx_bytes(assembled.document)


def _paragraph_texts(data: bytes) -> list[str]:

    document = docx.Document(io.BytesIO(data))
    texts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            texts += [cell.text for cell in row.cells]
    return texts


def describe_difference(document: Path, original: bytes, rebuilt: bytes) -> list[Diagnostic]:
    """Which parts of the package differ, and the first paragraph that reads differently."""
    findings = []
    try:
        with open_package(original, str(document)) as old, zipfile.ZipFile(io.BytesIO(rebuilt)) as new:
            old_parts, new_parts = set(old.namelist()), set(new.namelist())
            changed = sorted(name for name in old_parts & new_parts if old.read(name) != new.read(name))
            changed += sorted(f"{name} (only in the document)" for name in old_parts - new_parts)
            changed += sorted(f"{name} (only in the rebuild)" for name in new_parts - old_parts)
    except LoadError as exc:
        return [replace(exc.diagnostics[0], location=Location(str(document)), code="S75-VERIFY-BYTES")]
    except (zipfile.BadZipFile, EOFError, zlib.error, NotImplementedError, RuntimeError):
        return [_finding(document, "S75-VERIFY-BYTES", f"{document.name} is not a Word document s75 can read "
                         "(not a zip package, damaged, or over the size limits)")]
    findings.append(_finding(document, "S75-VERIFY-BYTES",
                             f"the rebuilt document differs from {document.name} in "
                             f"{', '.join(changed) if changed else 'its zip packaging'}",
                             "the inputs are unchanged, so the clause library, template or tool behaves "
                             "differently now"))
    try:
        before, after = _paragraph_texts(original), _paragraph_texts(rebuilt)
    except Exception:  # noqa: BLE001 - a damaged document: the part list above says enough
        return findings
    for number, (old_text, new_text) in enumerate(zip(before, after), start=1):
        if old_text != new_text:
            findings.append(_finding(document, "S75-VERIFY-TEXT",
                                     f"paragraph {number} reads {_short(old_text)} in the document "
                                     f"but {_short(new_text)} when rebuilt"))
            break
    else:
        if len(before) != len(after):
            findings.append(_finding(document, "S75-VERIFY-TEXT",
                                     f"the document has {len(before)} paragraphs and cells, the rebuild {len(after)}"))
    return findings


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")
