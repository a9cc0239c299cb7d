"""Every kind of document s75 writes passes Microsoft's Open XML SDK validator.

LibreOffice opens documents Word rejects, so the LibreOffice tests cannot
catch an element Word does not allow, or one in the wrong order; the SDK's
validator can (tests/support/ooxml_sdk.py). Documents are made through the
command line only, as users make them, and validated in one run. In CI (CI
set) a validator that cannot be loaded is a failure, not a skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from lxml import etree

from conftest import BASE, EXAMPLES, ROOT, edit
from support.ooxml_sdk import ValidatorUnavailable, missing_packages, validate_docx_files

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
AGREEMENTS = ROOT / "agreements"
OLD, NEW = "HEAD~1:agreements/x", "HEAD:agreements/x"

# Each document: its name and the s75 command that writes it (run in the
# folder _inputs makes, with "-o <name>.docx" added).
COMMANDS = {
    **{p.name: ["build", str(p)] for p in EXAMPLES},
    "final": ["build", "final-agreement", "--final"],
    "schedule-alone": ["build", str(AGREEMENTS / "portsmouth-framework-2022"), "--schedule", "bcf"],
    "compliance-annex": ["build", str(AGREEMENTS / "haringey-2016"), "--compliance-annex"],
    "redline": ["redline", OLD, NEW, "--author", "Legal Services"],
    "variation": ["variation", OLD, NEW, "--date", "2018-03-01", "--effective", "2018-04-01"],
}


def _ppr_after_run(root: etree._Element) -> None:
    """Move a paragraph's properties from first to last, after its runs (the schema wants them first)."""
    p = next(p for p in root.iter(f"{W}p") if p.find(f"{W}pPr") is not None and p.find(f"{W}r") is not None)
    p.append(p.find(f"{W}pPr"))


def _bogus_element(root: etree._Element) -> None:
    """Put an element WordprocessingML does not have at the start of the body."""
    root.find(f"{W}body").insert(0, etree.Element(f"{W}bogus"))


BREAKAGES = {"bogus-element": _bogus_element, "pPr-after-run": _ppr_after_run}


def _git(repo: Path, *args: str) -> None:
    env = dict(os.environ, GIT_AUTHOR_DATE="2018-01-01T00:00:00Z", GIT_COMMITTER_DATE="2018-01-01T00:00:00Z")
    subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)


def _inputs(repo: Path) -> None:
    """The agreements COMMANDS need, in ``repo``.

    final-agreement: the small test agreement marked final (no example is
    final; each leaves open what its source does not give). agreements/x in
    two commits, the second removing one schedule and adding another.
    """
    repo.mkdir()
    shutil.copytree(BASE, repo / "final-agreement")
    edit(repo / "final-agreement" / "agreement.yaml", "status: draft", "status: final")
    _git(repo, "init", "-q")
    _git(repo, "config", "user.email", "reviewer@example.org")
    _git(repo, "config", "user.name", "Reviewer")
    _git(repo, "config", "commit.gpgsign", "false")
    folder = repo / "agreements" / "x"
    shutil.copytree(AGREEMENTS / "portsmouth-ics-2017", folder)
    _git(repo, "add", "agreements")
    _git(repo, "commit", "-q", "-m", "first version")
    schedules = folder / "schedules"
    (schedules / "s256.yaml").unlink()
    added = (schedules / "ics.yaml").read_text(encoding="utf-8")
    for old, new in (("key: ics", "key: dementia"), ("title: Integrated Commissioning Service", "title: Dementia Advisers"),
                     ("order: 1", "order: 3")):
        assert old in added, old
        added = added.replace(old, new, 1)
    (schedules / "dementia.yaml").write_text(added, encoding="utf-8")
    _git(repo, "add", "agreements")
    _git(repo, "commit", "-q", "-m", "second version")


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"the Open XML SDK validator must run in CI: {reason}")
    pytest.skip(f"the Open XML SDK validator is not available: {reason}")


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    if missing_packages():  # say so before building anything
        _unavailable(f"not installed: {', '.join(missing_packages())} (pip install '.[test]')")
    return tmp_path_factory.mktemp("word")


@pytest.fixture(scope="module")
def built(out) -> dict[str, subprocess.CompletedProcess]:
    """Run every command in COMMANDS once; a failed build fails only its own test."""
    repo = out / "inputs"
    _inputs(repo)
    # The code under test is this working tree, whichever s75 is installed.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))

    def s75(name: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "assembler", *COMMANDS[name], "-o", str(out / f"{name}.docx")],
                              cwd=repo, env=env, capture_output=True, text=True)

    with ThreadPoolExecutor(os.cpu_count()) as pool:  # one command per core at a time
        return dict(zip(COMMANDS, pool.map(s75, COMMANDS)))


def _break(source: Path, target: Path, breakage) -> None:
    """Copy a .docx, applying ``breakage`` to its document.xml."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "word/document.xml":
                root = etree.fromstring(data)
                breakage(root)
                data = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
            zout.writestr(item, data)


@pytest.fixture(scope="module")
def findings(built, out) -> dict[str, list[str]]:
    """The validator's errors for every built document and the broken copies, from one runtime load."""
    paths = {name: out / f"{name}.docx" for name, result in built.items() if result.returncode == 0}
    if "schedule-alone" in paths:
        for name, breakage in BREAKAGES.items():
            paths[name] = out / f"broken-{name}.docx"
            _break(out / "schedule-alone.docx", paths[name], breakage)
    try:
        by_path = validate_docx_files(list(paths.values()))
    except ValidatorUnavailable as exc:
        _unavailable(str(exc))
    return {name: by_path[str(path)] for name, path in paths.items()}


@pytest.mark.parametrize("name", COMMANDS)
def test_word_schema_accepts(name, built, findings):
    result = built[name]
    assert result.returncode == 0, f"s75 {' '.join(COMMANDS[name])} failed:\n{result.stdout}{result.stderr}"
    assert findings[name] == [], "\n".join(findings[name])


@pytest.mark.parametrize("breakage", BREAKAGES)
def test_the_validator_finds_a_broken_document(breakage, findings):
    assert breakage in findings, "the schedule did not build, so there is nothing to break"
    assert findings[breakage], f"{breakage}: the validator found nothing wrong"
    assert all(error.startswith("/word/document.xml ") for error in findings[breakage])


def test_the_redline_tracks_a_removed_and_an_added_schedule(built, out):
    """Guards the input above: the redline really has a schedule deleted and one inserted."""
    assert built["redline"].returncode == 0, built["redline"].stdout + built["redline"].stderr
    with zipfile.ZipFile(out / "redline.docx") as docx:
        body = docx.read("word/document.xml").decode("utf-8")
    assert "<w:del " in body and "<w:ins " in body
    assert "Dementia Advisers" in body and "Section 256" in body
