"""Microsoft's Open XML SDK validator, for checking that Word will open what we write.

LibreOffice forgives a misplaced or unknown element; Word refuses the whole
document ("Word found unreadable content"). The Open XML SDK's
``OpenXmlValidator`` checks a package against the schemas Word is built on, so
it catches those mistakes without Word.

The SDK (DocumentFormat.OpenXml 2.8.1) and a self-contained .NET 8 runtime
come in the ``python-redlines-ooxmlpowertools`` wheel; ``pythonnet`` hosts
that runtime in Python. Nothing needs installing beyond ``pip install
'.[test]'``: the first use unpacks the wheel's runtime into a cache folder
laid out as a .NET install (see ``runtime_root``).

A process can load only one .NET runtime, and loading it costs about a
second, so validation runs in a child process that loads it once for every
file it is given::

    python tests/support/ooxml_sdk.py FILE.docx...   (or python -m tests.support.ooxml_sdk)

prints ``{"FILE.docx": ["error", ...], ...}`` as JSON and exits 0 when every
file is valid, 1 when one is not, 3 when the validator cannot be loaded.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

WHEEL = "python-redlines-ooxmlpowertools"
FRAMEWORK = "Microsoft.NETCore.App"
UNAVAILABLE = 3  # the child's exit code when the validator cannot be loaded


class ValidatorUnavailable(RuntimeError):
    """The Open XML SDK validator cannot be loaded (packages missing, or the runtime would not start)."""


def missing_packages() -> list[str]:
    """The validator's packages that are not installed (a quick check, without starting .NET)."""
    from importlib.util import find_spec

    modules = {WHEEL: "python_redlines_ooxmlpowertools", "pythonnet": "pythonnet"}
    return [package for package, module in modules.items() if find_spec(module) is None]


def validate_docx(path: str | os.PathLike) -> list[str]:
    """The schema errors Word's SDK finds in one .docx; an empty list means valid."""
    return validate_docx_files([path])[str(path)]


def validate_docx_files(paths: list[str | os.PathLike]) -> dict[str, list[str]]:
    """Validate several files with one runtime load (in a child process); errors by path as given.

    Raises ValidatorUnavailable if the validator cannot be loaded.
    """
    paths = [str(p) for p in paths]
    done = subprocess.run([sys.executable, __file__, *paths], capture_output=True, text=True, timeout=600)
    if done.returncode == UNAVAILABLE:
        raise ValidatorUnavailable(done.stderr.strip())
    if done.returncode not in (0, 1):
        raise RuntimeError(f"the Open XML SDK validator crashed (exit {done.returncode}):\n{done.stderr}")
    return json.loads(done.stdout)


# --- the child process ------------------------------------------------------------------


def cache_dir() -> Path:
    """Where the runtime is unpacked: $S75_OOXML_SDK_CACHE, else the user's cache folder."""
    if os.environ.get("S75_OOXML_SDK_CACHE"):
        return Path(os.environ["S75_OOXML_SDK_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "s75-assembler"


def runtime_root() -> Path:
    """A .NET install made from the wheel's runtime, unpacked on first use and kept.

    The wheel ships a self-contained app (the runtime and the SDK side by side
    in one folder), which hostfxr will not host as a library. Laid out as a
    framework install it will:

        host/fxr/<version>/libhostfxr.so
        shared/Microsoft.NETCore.App/<version>/   everything else, with the
            app's deps.json as the framework's, so the SDK's assemblies are
            found by name like the runtime's own
        runtimeconfig.json                        asks for that framework

    The folder is built under a temporary name and renamed into place, so a
    half-built one is never used and two test runs can race safely.
    """
    from importlib.metadata import version
    from importlib.resources import files

    binaries = Path(str(files("python_redlines_ooxmlpowertools") / "_binaries"))
    archives = sorted(binaries.glob("*.tar.gz")) + sorted(binaries.glob("*.zip"))
    if len(archives) != 1:
        raise ValidatorUnavailable(f"expected one runtime archive in {binaries}, found {archives}")
    archive = archives[0]
    platform = archive.name.split(".")[0]  # linux-x64, osx-arm64, win-x64...
    root = cache_dir() / f"ooxml-sdk-{version(WHEEL)}-{platform}"
    if (root / "runtimeconfig.json").is_file():
        return root

    root.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".unpacking-", dir=root.parent))
    try:
        unpacked = work / "unpacked"
        _unpack(archive, unpacked)
        app_config = json.loads(next(unpacked.glob("*.runtimeconfig.json")).read_text(encoding="utf-8"))
        framework = next(f for f in app_config["runtimeOptions"]["includedFrameworks"] if f["name"] == FRAMEWORK)
        fx_version = framework["version"]

        shared = work / "shared" / FRAMEWORK / fx_version
        shared.parent.mkdir(parents=True)
        unpacked.rename(shared)
        shutil.copy(next(shared.glob("*.deps.json")), shared / f"{FRAMEWORK}.deps.json")
        fxr = work / "host" / "fxr" / fx_version
        fxr.mkdir(parents=True)
        for name in ("libhostfxr.so", "libhostfxr.dylib", "hostfxr.dll"):
            if (shared / name).is_file():
                shutil.copy(shared / name, fxr / name)
        config = {"runtimeOptions": {
            "tfm": app_config["runtimeOptions"]["tfm"],
            "framework": {"name": FRAMEWORK, "version": fx_version},
            # No ICU needed: the validator does not depend on culture data.
            "configProperties": {"System.Globalization.Invariant": True},
        }}
        (work / "runtimeconfig.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
        try:
            work.rename(root)
        except OSError:
            if not (root / "runtimeconfig.json").is_file():
                raise
            # Another process finished first; use its copy.
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return root


def _unpack(archive: Path, target: Path) -> None:
    if archive.suffix == ".zip":
        with zipfile.ZipFile(archive) as z:
            z.extractall(target)
        return
    with tarfile.open(archive) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(target, filter="data")
        else:
            tar.extractall(target)


def load_validator():
    """Start .NET in this process and return a function: path -> list of error strings."""
    try:
        import pythonnet

        root = runtime_root()
        pythonnet.load("coreclr", dotnet_root=str(root), runtime_config=str(root / "runtimeconfig.json"))
        import clr

        clr.AddReference("DocumentFormat.OpenXml")
        from DocumentFormat.OpenXml import FileFormatVersions
        from DocumentFormat.OpenXml.Packaging import WordprocessingDocument
        from DocumentFormat.OpenXml.Validation import OpenXmlValidator

        validator = OpenXmlValidator(FileFormatVersions.Office2013)
    except ValidatorUnavailable:
        raise
    except Exception as exc:
        reason = " ".join(f"{type(e).__name__}: {e}" for e in (exc, exc.__cause__) if e)
        raise ValidatorUnavailable(
            f"cannot load the Open XML SDK validator ({' '.join(reason.split())}); it needs the test "
            f"extras, pip install '.[test]' (packages {WHEEL} and pythonnet), and unpacks .NET under "
            f"{cache_dir()} (delete that to unpack again)") from exc

    def validate(path: str) -> list[str]:
        try:
            document = WordprocessingDocument.Open(path, False)
        except Exception as exc:  # not a package at all: as invalid as it gets
            return [f"cannot open as a Word document: {str(exc).splitlines()[0]}"]
        try:
            return [f"{error.Part.Uri if error.Part else '(package)'} "
                    f"{error.Path.XPath if error.Path else ''}: {error.Description} [{error.Id}]"
                    for error in validator.Validate(document)]
        finally:
            document.Dispose()

    return validate


def main(paths: list[str]) -> int:
    try:
        validate = load_validator()
    except ValidatorUnavailable as exc:
        print(exc, file=sys.stderr)
        return UNAVAILABLE
    results = {path: validate(path) for path in paths}
    json.dump(results, sys.stdout, indent=2)
    print()
    return 1 if any(results.values()) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
