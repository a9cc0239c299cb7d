"""Turn built .docx files into PDF with LibreOffice, in one headless run.

LibreOffice is slow to start, so every document goes through a single
``soffice --convert-to pdf`` call. Each call gets its own throwaway user
profile: two builds at once would otherwise fight over the default one.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

from assembler.diagnostics import ERROR, BuildError, Diagnostic, Location

TIMEOUT_SECONDS = 600
_MAC_APP = pathlib.Path("/Applications/LibreOffice.app/Contents/MacOS/soffice")
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


def convert_to_pdf(docx_paths: list[pathlib.Path], outdir: pathlib.Path) -> list[pathlib.Path]:
    """Convert each .docx to ``outdir/<stem>.pdf``; return the PDF paths in input order."""
    docx_paths = [pathlib.Path(p) for p in docx_paths]
    outdir = pathlib.Path(outdir)
    if not docx_paths:
        return []
    _check_inputs(docx_paths)
    soffice = find_soffice()
    if soffice is None:
        raise BuildError(_diag("soffice", "S75-PDF", "LibreOffice (soffice) is not installed or not on PATH",
                               _INSTALL_HINT))
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BuildError(_diag(str(outdir), "S75-PDF", f"cannot create {outdir}: {exc.strerror or exc}",
                               "choose an output folder you can write to")) from exc
    expected = [outdir / (p.stem + ".pdf") for p in docx_paths]
    with tempfile.TemporaryDirectory(prefix="s75-soffice-") as profile:
        command = [
            soffice,
            f"-env:UserInstallation={pathlib.Path(profile).as_uri()}",
            "--headless", "--norestore", "--nologo", "--nodefault", "--nolockcheck",
            "--convert-to", "pdf:writer_pdf_Export",
            "--outdir", str(outdir),
            *[str(p) for p in docx_paths],
        ]
        env = dict(os.environ, HOME=profile)  # nothing of the user's own setup leaks in
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_SECONDS,
                                  env=env, check=False)
        except subprocess.TimeoutExpired as exc:
            raise BuildError(_diag(str(docx_paths[0]), "S75-PDF",
                                   f"LibreOffice did not finish within {TIMEOUT_SECONDS} seconds",
                                   "close other LibreOffice windows and try again")) from exc
        except OSError as exc:
            raise BuildError(_diag(soffice, "S75-PDF", f"cannot run LibreOffice: {exc.strerror or exc}",
                                   _INSTALL_HINT)) from exc
    missing = [p for p, pdf in zip(docx_paths, expected) if not pdf.is_file()]
    if done.returncode != 0 or missing:
        detail = (done.stderr or done.stdout or "").strip().splitlines()
        raise BuildError([
            _diag(str(p), "S75-PDF", "LibreOffice did not produce a PDF"
                  + (f" (exit code {done.returncode}: {detail[-1]})" if detail else f" (exit code {done.returncode})"),
                  "open the .docx in LibreOffice to see whether it loads")
            for p in (missing or docx_paths)
        ])
    return expected


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
