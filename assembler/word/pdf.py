"""Turn built .docx files into PDF with LibreOffice, in one headless run, contents page filled in.

LibreOffice is slow to start, so every document of a batch goes through one
LibreOffice process. ``soffice --convert-to pdf`` would leave the contents
page as Word's unfilled field, so the conversion is driven through UNO
(uno_contents.py): each document's indexes are updated, then it is stored as
PDF and, when asked, the page numbers LibreOffice gave the contents entries
are written into s75's own .docx.
LibreOffice's Python bridge is the system Python's (Debian's python3-uno),
not this program's, so that step runs as a script under that Python. Each
run gets its own throwaway user profile: two builds at once would otherwise
fight over the default one.
"""

from __future__ import annotations

import functools
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

from assembler.diagnostics import ERROR, BuildError, Diagnostic, Location
from assembler.word.ooxml import fill_toc_pages

TIMEOUT_SECONDS = 600
_MAC_APP = pathlib.Path("/Applications/LibreOffice.app/Contents/MacOS/soffice")
_SCRIPT = pathlib.Path(__file__).with_name("uno_contents.py")
# Pythons that may carry LibreOffice's uno bridge: S75_UNO_PYTHON if set, the
# system Python (Debian/Ubuntu python3-uno), LibreOffice's own (macOS, Windows).
_UNO_PYTHONS = ("/usr/bin/python3", "/usr/local/bin/python3",
                "/Applications/LibreOffice.app/Contents/Resources/python",
                r"C:\Program Files\LibreOffice\program\python.exe")
_UNO_HINT = ("install LibreOffice's Python bridge: on Debian/Ubuntu 'sudo apt-get install python3-uno'; "
             "or set S75_UNO_PYTHON to a Python that can 'import uno'")
_INSTALL_HINT = (
    "install LibreOffice: on Debian/Ubuntu 'sudo apt-get install libreoffice-writer-nogui', "
    "on macOS 'brew install --cask libreoffice', on Windows from libreoffice.org; "
    "then make sure 'soffice' is on PATH"
)


def find_soffice() -> str | None:
    """The LibreOffice executable on PATH (or in the usual macOS place), or None."""
    for name in ("soffice", "libreoffice"):
        found = shutil.which(name)
        if found:
            return found
    if sys.platform == "darwin" and _MAC_APP.is_file():
        return str(_MAC_APP)
    return None


@functools.lru_cache(maxsize=None)
def find_uno_python() -> str | None:
    """A Python that can import LibreOffice's ``uno`` bridge, or None."""
    candidates = [os.environ["S75_UNO_PYTHON"]] if os.environ.get("S75_UNO_PYTHON") else list(_UNO_PYTHONS)
    for python in candidates:
        if not os.path.isfile(python):
            continue
        try:
            probe = subprocess.run([python, "-c", "import uno"], capture_output=True, timeout=30, check=False)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if probe.returncode == 0:
            return python
    return None


def convert_to_pdf(docx_paths: list[pathlib.Path], outdir: pathlib.Path,
                   fill_docx: bool = False) -> list[pathlib.Path]:
    """Convert each .docx to ``outdir/<stem>.pdf`` with its contents page filled in.

    With ``fill_docx`` each .docx's contents entries also get the page numbers
    LibreOffice laid out (and Word is no longer asked to update fields), so
    the .docx and the PDF show the same contents; the rest of the .docx is
    s75's own. Returns the PDF paths in input order; a PDF of the same name
    is replaced.
    """
    docx_paths = [pathlib.Path(p) for p in docx_paths]
    outdir = pathlib.Path(outdir)
    if not docx_paths:
        return []
    _check_inputs(docx_paths)
    soffice = find_soffice()
    if soffice is None:
        raise BuildError(_diag("soffice", "S75-PDF", "LibreOffice (soffice) is not installed or not on PATH",
                               _INSTALL_HINT))
    python = find_uno_python()
    if python is None:
        raise BuildError(_diag("soffice", "S75-PDF", "LibreOffice's Python bridge (uno) is not installed, so the "
                               "contents page cannot be filled in", _UNO_HINT))
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BuildError(_diag(str(outdir), "S75-PDF", f"cannot create {outdir}: {exc.strerror or exc}",
                               "choose an output folder you can write to")) from exc
    expected = [outdir / (p.stem + ".pdf") for p in docx_paths]
    with tempfile.TemporaryDirectory(prefix="s75-soffice-") as profile:
        command = [python, str(_SCRIPT), soffice, pathlib.Path(profile).as_uri(),
                   "pdf+pages" if fill_docx else "pdf", str(outdir), *[str(p) for p in docx_paths]]
        env = dict(os.environ, HOME=profile)  # nothing of the user's own setup leaks in
        env.pop("PYTHONPATH", None)  # the system Python must not see this program's packages
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_SECONDS,
                                  env=env, check=False)
        except subprocess.TimeoutExpired as exc:
            raise BuildError(_diag(str(docx_paths[0]), "S75-PDF",
                                   f"LibreOffice did not finish within {TIMEOUT_SECONDS} seconds",
                                   "close other LibreOffice windows and try again")) from exc
        except OSError as exc:
            raise BuildError(_diag(python, "S75-PDF", f"cannot run LibreOffice's Python: {exc.strerror or exc}",
                                   _UNO_HINT)) from exc
    reasons = dict(line[len("FAILED "):].split(": ", 1) for line in done.stdout.splitlines()
                   if line.startswith("FAILED ") and ": " in line)
    missing = [p for p, pdf in zip(docx_paths, expected) if not pdf.is_file() or str(p) in reasons]
    if done.returncode != 0 or missing:
        detail = (done.stderr or done.stdout or "").strip().splitlines()
        why = f" (exit code {done.returncode}: {detail[-1]})" if detail else f" (exit code {done.returncode})"
        raise BuildError([
            _diag(str(p), "S75-PDF", "LibreOffice did not produce a PDF"
                  + (f": {reasons[str(p)]}" if str(p) in reasons else why),
                  "open the .docx in LibreOffice to see whether it loads")
            for p in (missing or docx_paths)
        ])
    if fill_docx:
        pages = dict(line.split("\t")[1:] for line in done.stdout.splitlines()
                     if line.startswith("PAGES\t") and line.count("\t") == 2)
        for docx in docx_paths:
            _fill_pages(docx, pages.get(str(docx), "").split())
    return expected


def _fill_pages(docx: pathlib.Path, pages: list[str]) -> None:
    """Write the contents' page numbers into ``docx``; leave it to Word if they do not pair up."""
    filled = fill_toc_pages(docx.read_bytes(), pages)
    if filled is None:
        return
    temporary = docx.with_name(f".{docx.name}.{os.getpid()}.pages")
    try:
        temporary.write_bytes(filled)
        os.replace(temporary, docx)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise BuildError(_diag(str(docx), "S75-PDF", f"cannot write the contents' page numbers into {docx}: "
                               f"{exc.strerror or exc}", "check the folder can be written to")) from exc


def _check_inputs(docx_paths: list[pathlib.Path]) -> None:
    """Every input must exist, and no two may share a name (their PDFs would collide)."""
    problems = [
        _diag(str(p), "S75-PDF", f"{p} does not exist", "build the .docx first")
        for p in docx_paths if not p.is_file()
    ]
    seen: dict[str, pathlib.Path] = {}
    for p in docx_paths:
        if p.stem in seen and seen[p.stem] != p:
            problems.append(_diag(str(p), "S75-PDF", f"{p.name} and {seen[p.stem]} would both become {p.stem}.pdf",
                                  "give each document a different file name"))
        seen.setdefault(p.stem, p)
    if problems:
        raise BuildError(problems)


def _diag(location: str, code: str, message: str, hint: str = "") -> Diagnostic:
    return Diagnostic(Location(location), ERROR, code, message, hint)
