"""Reviewing changes: versions from git, semantic diff, redline, deed of variation,
textconv and the pre-commit hook, on real git repositories made for each test."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from assembler.review import diff as semantic
from assembler.engine import tree
from assembler.engine.library import load_library
from assembler.diagnostics import LoadError, UsageError
from assembler.word.read import accept_changes, count_changes, document_lines, reject_changes, textconv
from assembler.source.git import GitSource, source_for
from assembler.source.folder import DirectorySource, load_agreement
from assembler.engine.number import number_document
from assembler.review.redline import render_redline_bytes
from assembler.review.variation import build_deed
from assembler.review.versions import load_version
from assembler.word.writer import render_docx_bytes
from conftest import BASE, FIXTURE_LIBRARY, ROOT, edit

LINE = re.compile(r"^.+:\d+:\d+: (error|warning) \[S75-[A-Z0-9-]+\] .+")
OLD, NEW = "HEAD~1:agreements/x", "agreements/x"


def git(repo: Path, *args: str) -> str:
    env = dict(os.environ, GIT_AUTHOR_DATE="2018-01-01T00:00:00Z", GIT_COMMITTER_DATE="2018-01-01T00:00:00Z")
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, env=env, check=True)
    return done.stdout


def s75(repo: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-m", "assembler", *args], capture_output=True, text=True, cwd=repo, env=env)


def _second_version(folder: Path) -> None:
    """Change a contribution, add a schedule, change a value a clause prints."""
    edit(folder / "schedules" / "pool.yaml", "council: 400000", "council: 450000")
    edit(folder / "schedules" / "pool.yaml", "2017-18: 1500000", "2017-18: 1550000")
    edit(folder / "agreement.yaml", "dispute_resolution:", "termination:\n  notice_months: 9\ndispute_resolution:")
    added = (folder / "schedules" / "lead.yaml").read_text(encoding="utf-8")
    for old, new in (("key: lead", "key: dementia"), ("Carers' Support Services", "Dementia Advisers"),
                     ("Carers' support contract", "Dementia adviser service"), ("ccg: 300000", "ccg: 210000")):
        added = added.replace(old, new)
    (folder / "schedules" / "dementia.yaml").write_text(added, encoding="utf-8")


def two_commit_repo(tmp_path: Path, change=_second_version) -> Path:
    """A git repository holding agreements/x in two commits (HEAD~1 and HEAD); ``change`` makes the second."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    git(root, "config", "user.email", "reviewer@example.org")
    git(root, "config", "user.name", "Reviewer")
    git(root, "config", "commit.gpgsign", "false")
    shutil.copytree(BASE, root / "agreements" / "x")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "first version")
    change(root / "agreements" / "x")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "second version")
    return root


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return two_commit_repo(tmp_path)


@pytest.fixture
def fixture_library():
    return load_library(FIXTURE_LIBRARY)


# --- versions from git ----------------------------------------------------------------


def test_git_source_reads_the_committed_files(repo):
    old = GitSource("HEAD~1", "agreements/x", cwd=repo)
    new = GitSource("HEAD", "agreements/x", cwd=repo)
    disk = DirectorySource(repo / "agreements" / "x")
    assert old.display == "HEAD~1:agreements/x"
    assert old.list_schedules() == ["lead.yaml", "pool.yaml"]
    assert new.list_schedules() == disk.list_schedules() == ["dementia.yaml", "lead.yaml", "pool.yaml"]
    assert new.read_framework() == disk.read_framework()
    assert new.read_schedule("pool.yaml") == disk.read_schedule("pool.yaml")
    assert b"council: 400000" in old.read_schedule("pool.yaml")
    files, diagnostics = load_agreement(old)
    assert not diagnostics
    assert files.framework.display == "HEAD~1:agreements/x/agreement.yaml"


def test_reading_git_never_touches_the_working_tree(repo):
    (repo / "agreements" / "x" / "agreement.yaml").write_text("title: half-edited\n", encoding="utf-8")
    before = git(repo, "status", "--porcelain")
    version = load_version("HEAD:agreements/x", load_library(FIXTURE_LIBRARY), cwd=repo)
    assert version.document.title == "Northbridge Health and Care Partnership Agreement"
    assert git(repo, "status", "--porcelain") == before
    assert (repo / "agreements" / "x" / "agreement.yaml").read_text(encoding="utf-8") == "title: half-edited\n"


def test_source_for_chooses_directory_or_git(repo):
    assert isinstance(source_for("agreements/x", cwd=repo), DirectorySource)
    assert isinstance(source_for("HEAD~1:agreements/x", cwd=repo), GitSource)
    assert isinstance(source_for("HEAD:./agreements/x", cwd=repo), GitSource)
    # A Windows path is a path, never a revision named "C".
    assert isinstance(source_for("C:\\agreements\\x", cwd=repo), DirectorySource)
    assert isinstance(source_for("C:/agreements/x", cwd=repo), DirectorySource)
    odd = repo / "odd:name"
    shutil.copytree(BASE, odd)
    assert isinstance(source_for("odd:name", cwd=repo), DirectorySource)
    with pytest.raises(UsageError) as error:
        source_for("nosuch:agreements/x", cwd=repo)
    assert error.value.diagnostics[0].code == "S75-REV"
    with pytest.raises(UsageError):
        source_for(":agreements/x", cwd=repo)


def test_a_missing_path_at_a_revision_is_a_diagnostic(repo):
    files, diagnostics = load_agreement(GitSource("HEAD", "agreements/nothing", cwd=repo))
    assert files.framework is None
    assert [d.code for d in diagnostics] == ["S75-NOTFOUND"]
    with pytest.raises(LoadError):
        GitSource("HEAD~1", "agreements/x", cwd=repo).read_schedule("dementia.yaml")


def test_a_revision_reads_the_same_from_a_subdirectory(repo):
    """git lists a tree relative to the current directory unless told otherwise; the source must not."""
    from_top = s75(repo, "diff", OLD, NEW, "--format", "json")
    inside = repo / "agreements" / "x" / "schedules"
    for old in (OLD, "HEAD~1:../"):
        from_inside = s75(inside, "diff", old, "..", "--format", "json")
        assert from_inside.returncode == from_top.returncode == 0, from_inside.stdout + from_inside.stderr
        assert json.loads(from_inside.stdout)["money"] == json.loads(from_top.stdout)["money"] != []


def test_text_of_a_git_version(repo):
    old, new = s75(repo, "text", OLD), s75(repo, "text", NEW)
    assert old.returncode == new.returncode == 0, old.stdout + old.stderr
    assert "Dementia Advisers" not in old.stdout and "Dementia Advisers" in new.stdout
    assert old.stdout.count("£400,000") > new.stdout.count("£400,000")


def test_bad_revisions_and_paths_are_one_clean_line(repo):
    result = s75(repo, "diff", "nosuch:agreements/x", NEW)
    assert result.returncode == 2
    assert len(result.stdout.splitlines()) == 1 and LINE.match(result.stdout), result.stdout + result.stderr
    assert "[S75-REV]" in result.stdout and "Traceback" not in result.stderr
    result = s75(repo, "diff", "HEAD:agreements/missing", NEW)
    assert result.returncode == 1
    assert all(LINE.match(line) for line in result.stdout.splitlines()), result.stdout
    assert "[S75-NOTFOUND]" in result.stdout and "Traceback" not in result.stderr
    result = s75(repo, "redline", OLD, NEW, "-o", "out.pdf")
    assert result.returncode == 2 and "[S75-OUTPUT]" in result.stdout
    result = s75(repo, "redline", OLD, NEW, "-o", "out.docx", "--date", "2018-02-30")
    assert result.returncode == 2 and "[S75-DATE]" in result.stdout


def test_an_invalid_version_reports_its_findings_with_the_revision(repo):
    edit(repo / "agreements" / "x" / "agreement.yaml", "kind: unitary_council", "kind: unitary_councl")
    git(repo, "commit", "-q", "-am", "broken")
    result = s75(repo, "diff", "HEAD:agreements/x", "HEAD~1:agreements/x")
    assert result.returncode == 1
    assert result.stdout.startswith("HEAD:agreements/x/agreement.yaml:"), result.stdout
    assert "[S75-ENUM]" in result.stdout


# --- semantic diff ----------------------------------------------------------------------


def test_diff_by_key_with_money(repo, fixture_library):
    old = load_version(OLD, fixture_library, cwd=repo)
    new = load_version(NEW, fixture_library, cwd=repo)
    result = semantic.diff_documents(old.document, new.document, old.agreement, new.agreement, OLD, NEW)
    added = [s for s in result.schedules if s.kind == "added"]
    assert [(s.key, s.new_number) for s in added] == [("dementia", "1")]
    renumbered = {s.key: (s.old_number, s.new_number) for s in result.schedules if s.kind == "renumbered"}
    assert renumbered["pool"] == ("2", "3")
    termination = next(c for c in result.clauses if c.key == "termination")
    assert termination.kind == "changed" and not termination.moved
    assert [(w.old, w.new) for w in termination.blocks[0].words if w.op != "equal"] == [("6", "9")]
    money = {(m.schedule, m.line, m.partner): m for m in result.money}
    line = money[("pool", "Community equipment", "Council")]
    assert (line.old, line.new, line.difference) == ("£400,000", "£450,000", "+£50,000")
    assert money[("pool", "Total", "Council")].difference == "+£50,000"
    assert money[("dementia", "Dementia adviser service", "CCG")].old is None
    assert not any(m.schedule == "lead" for m in result.money)


def test_diff_command_text_and_json(repo):
    result = s75(repo, "diff", OLD, NEW, "--clauses", str(FIXTURE_LIBRARY))
    assert result.returncode == 0, result.stdout + result.stderr
    text = result.stdout
    assert "+ Schedule 1 (Dementia Advisers): added" in text
    assert "> Schedule 2 \u2192 3 (Community Equipment and Reablement): renumbered" in text
    assert "Either Partner may end this Agreement on [-6-]{+9+} months' notice." in text
    assert "  Schedule 3 (Community Equipment and Reablement)\n" in text
    assert re.search(r"  2017-18 Community equipment / Council\s+£400,000 \u2192\s+£450,000\s+\+£50,000", text)
    assert re.search(r"  2017-18 Council\s+£\S+ \u2192\s+£\S+\s+\+£\S+", text)  # the partner's total, all schedules
    assert re.search(r"whole agreement\s+£\S+ \u2192\s+£\S+\s+\+£\S+", text)
    data = json.loads(s75(repo, "diff", OLD, NEW, "--format", "json", "--clauses", str(FIXTURE_LIBRARY)).stdout)
    assert {"old", "new", "fields", "schedules", "clauses", "money"} <= set(data)
    assert {"schedule": "pool", "year": "2017-18", "line": "Community equipment", "partner": "Council",
            "old": "£400,000", "new": "£450,000", "difference": "+£50,000",
            "old_amount": "400000", "new_amount": "450000", "difference_amount": "50000",
            "schedule_number": "3", "schedule_title": "Community Equipment and Reablement"} in data["money"]
    same = s75(repo, "diff", "HEAD:agreements/x", NEW, "--exit-code", "--clauses", str(FIXTURE_LIBRARY))
    assert same.returncode == 0 and "no changes" in same.stdout
    differs = s75(repo, "diff", OLD, NEW, "--exit-code", "--clauses", str(FIXTURE_LIBRARY))
    assert differs.returncode == 1


def _doc(*clauses: tuple[str, str]) -> tree.Document:
    blocks: list[tree.Block] = []
    for key, text in clauses:
        blocks += [tree.Para([], level=1, key=key, heading=key.title()), tree.Para([tree.Text(text)], level=2)]
    document = tree.Document("T", "S", "1", "draft", "", [], [tree.Section("body", "Agreed terms", blocks, key="body")])
    number_document(document)
    return document


def test_an_inserted_clause_renumbers_the_rest_without_changing_them():
    old = _doc(("alpha", "One thing."), ("beta", "Another thing."), ("gamma", "A third thing."))
    new = _doc(("alpha", "One thing."), ("new", "Something new."), ("beta", "Another thing."),
               ("gamma", "A third, changed thing."))
    result = semantic.diff_documents(old, new)
    kinds = {c.key: (c.kind, c.old_number, c.new_number, c.moved) for c in result.clauses}
    assert kinds == {"new": ("added", "", "2", False), "beta": ("moved", "2", "3", True),
                     "gamma": ("changed", "3", "4", True)}


def test_a_reference_that_only_follows_a_renumbered_clause_is_not_a_change():
    old = _doc(("alpha", "x"), ("beta", "y"))
    new = _doc(("new", "n"), ("alpha", "x"), ("beta", "y"))
    for document, number in ((old, "2.1"), (new, "3.1")):
        blocks = document.sections[0].blocks
        alpha = next(i for i, b in enumerate(blocks) if b.key == "alpha")
        blocks[alpha + 1].parts = [tree.Text("See clause "), tree.Ref("beta.1", number, number)]
    result = semantic.diff_documents(old, new)
    assert {c.key: c.kind for c in result.clauses} == {"new": "added", "alpha": "moved", "beta": "moved"}


# --- redline -----------------------------------------------------------------------------


def _body(data: bytes) -> list[str]:
    return document_lines(data, skip_toc=True)


def test_redline_accepts_to_new_and_rejects_to_old(repo, tmp_path):
    result = s75(repo, "redline", OLD, NEW, "-o", str(tmp_path / "redline.docx"), "--author", "A. Reviewer")
    assert result.returncode == 0, result.stdout + result.stderr
    data = (tmp_path / "redline.docx").read_bytes()
    old = load_version(OLD, cwd=repo)
    new = load_version(NEW, cwd=repo)
    changes = count_changes(data)
    assert changes["ins"] > 0 and changes["del"] > 0
    assert _body(accept_changes(data)) == _body(render_docx_bytes(new.document))
    assert _body(reject_changes(data)) == _body(render_docx_bytes(old.document))
    xml = _document_xml(data)
    assert 'w:author="A. Reviewer"' in xml
    assert re.search(r'w:date="(\d{4}-\d\d-\d\dT00:00:00Z)"', xml).group(1) == f"{new.document.iso_date}T00:00:00Z"
    marked = textconv(data)
    assert "[-£400,000-]{+£450,000+}" in marked
    assert "{+Dementia Advisers+}" in marked


def test_redline_is_reproducible_and_takes_a_date(repo, fixture_library):
    old = load_version(OLD, fixture_library, cwd=repo)
    new = load_version(NEW, fixture_library, cwd=repo)
    first = render_redline_bytes(old.document, new.document, "R", "2019-04-01")
    assert first == render_redline_bytes(old.document, new.document, "R", "2019-04-01")
    assert 'w:date="2019-04-01T00:00:00Z"' in _document_xml(first)
    backwards = render_redline_bytes(new.document, old.document)
    assert _body(accept_changes(backwards)) == _body(render_docx_bytes(old.document))
    assert _body(reject_changes(backwards)) == _body(render_docx_bytes(new.document))


def test_redline_of_removed_clauses_rows_and_parties(repo, fixture_library):
    folder = repo / "agreements" / "x"
    edit(folder / "schedules" / "pool.yaml", "  - pooled_fund\n", "  - pooled_fund\n")
    text = (folder / "schedules" / "pool.yaml").read_text(encoding="utf-8")
    text = text.replace("  - name: Minor adaptations\n    type: capital\n    contributions:\n      2017-18:\n"
                        "        council: 200000\n", "")
    text = text.replace("2017-18: 1550000", "2017-18: 1350000")
    (folder / "schedules" / "pool.yaml").write_text(text, encoding="utf-8")
    (folder / "schedules" / "lead.yaml").unlink()
    git(repo, "commit", "-q", "-am", "third version")
    old = load_version("HEAD~2:agreements/x", fixture_library, cwd=repo)
    new = load_version("HEAD:agreements/x", fixture_library, cwd=repo)
    data = render_redline_bytes(old.document, new.document)
    assert _body(accept_changes(data)) == _body(render_docx_bytes(new.document))
    assert _body(reject_changes(data)) == _body(render_docx_bytes(old.document))
    assert "<w:trPr><w:cantSplit/><w:del " in _document_xml(data)  # a whole row deleted


def _document_xml(data: bytes) -> str:
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.read("word/document.xml").decode("utf-8")


# --- deed of variation ------------------------------------------------------------------------


def test_deed_of_variation_wording(repo, fixture_library):
    old = load_version(OLD, fixture_library, cwd=repo)
    new = load_version(NEW, fixture_library, cwd=repo)
    deed = build_deed(old.document, new.document, old.agreement, new.agreement, date="2018-03-01",
                      effective="2018-04-01")
    from assembler.engine.text import render_text

    text = " ".join(render_text(deed).split())
    assert "Dated 1 March 2018" in text
    assert "“Effective Date” means 1 April 2018" in text
    assert "In clause 3.1, “6” is replaced by “9”." in text
    assert "In paragraph 1.1 of Schedule 2, “£1,500,000” is replaced by “£1,550,000”." in text
    assert "in the row “Community equipment”, in the column “Council”, “£400,000” is replaced by “£450,000”" in text
    assert "The schedule set out in Annex A is added to the Agreement as Schedule 1 (Dementia Advisers)." in text
    assert "Schedule 1: Dementia Advisers (added by this Deed)".upper() in text.upper()
    assert "Except as varied by this Deed, the Agreement continues in full force and effect." in text
    assert "Executed as a deed by affixing the common seal of Northbridge City Council" in text
    assert [s.kind for s in deed.sections] == ["recitals", "body", "annex", "execution"]


def test_variation_command_writes_a_docx(repo, tmp_path):
    out = tmp_path / "deed.docx"
    result = s75(repo, "variation", OLD, NEW, "-o", str(out), "--date", "2018-03-01")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = document_lines(out.read_bytes())
    assert any("of the Agreement provides that it may be varied" in line for line in lines)
    first = out.read_bytes()
    s75(repo, "variation", OLD, NEW, "-o", str(out), "--date", "2018-03-01")
    assert out.read_bytes() == first


@pytest.mark.parametrize("command", ["redline", "variation"])
def test_redline_and_deed_never_replace_a_final_agreement(repo, tmp_path, command, final_copy):
    final = tmp_path / "signed.docx"
    built = s75(repo, "build", "--final", str(final_copy), "-o", str(final))
    assert built.returncode == 0, built.stdout + built.stderr
    before = final.read_bytes()
    result = s75(repo, command, OLD, NEW, "-o", str(final))
    assert result.returncode == 2 and "[S75-OVERWRITE]" in result.stdout + result.stderr
    assert final.read_bytes() == before


@pytest.mark.skipif(shutil.which("soffice") is None and shutil.which("libreoffice") is None,
                    reason="LibreOffice is not installed")
def test_libreoffice_opens_the_redline_and_the_deed(repo, tmp_path):
    from assembler.word.pdf import convert_to_pdf

    assert s75(repo, "redline", OLD, NEW, "-o", str(tmp_path / "redline.docx")).returncode == 0
    assert s75(repo, "variation", OLD, NEW, "-o", str(tmp_path / "deed.docx")).returncode == 0
    pdfs = convert_to_pdf([tmp_path / "redline.docx", tmp_path / "deed.docx"], tmp_path)
    texts = []
    for pdf in pdfs:
        done = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True)
        texts.append(" ".join(done.stdout.split()))
    assert "Dementia Advisers" in texts[0] and "£450,000" in texts[0]
    assert "DEED OF VARIATION" in texts[1].upper() and "is replaced by" in texts[1]


# --- text, textconv and git diff ------------------------------------------------------------


def test_text_is_stable_and_numbered(repo):
    first = s75(repo, "text", NEW)
    assert first.returncode == 0, first.stdout + first.stderr
    assert s75(repo, "text", NEW).stdout == first.stdout
    blocks = first.stdout.split("\n\n")
    assert any(block.startswith("1.1 ") for block in blocks)
    assert all(line.rstrip() == line for line in first.stdout.splitlines())


def test_textconv_numbers_paragraphs_as_the_engine_does(repo, tmp_path):
    new = load_version(NEW, cwd=repo)
    out = tmp_path / "x.docx"
    out.write_bytes(render_docx_bytes(new.document))
    result = s75(repo, "textconv", str(out))
    assert result.returncode == 0, result.stderr
    shown = [m.group(1) for m in re.finditer(r"^(\d+(?:\.\d+)*\.?|\([a-z]+\)) ", result.stdout, re.M)]
    expected = [b.number for s in new.document.sections if s.kind in ("body", "schedule")
                for b in s.blocks if isinstance(b, tree.Para) and b.level > 0 and b.number]
    assert shown == expected


def test_git_diff_of_built_documents_shows_text(repo, tmp_path):
    builds = repo / "builds"
    builds.mkdir()
    for rev in ("HEAD~1", "HEAD"):
        version = load_version(f"{rev}:agreements/x", cwd=repo)
        (builds / "x.docx").write_bytes(render_docx_bytes(version.document))
        if rev == "HEAD~1":
            (repo / ".gitattributes").write_text("*.docx diff=s75\n", encoding="utf-8")
            git(repo, "add", "-A")
            git(repo, "commit", "-q", "-m", "old build")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "new build")
    command = f'PYTHONPATH="{ROOT}" "{sys.executable}" -m assembler textconv'
    git(repo, "config", "diff.s75.textconv", command)
    shown = git(repo, "diff", "HEAD~1", "HEAD", "--", "builds/x.docx")
    assert "Binary files" not in shown
    assert re.search(r"^-.*£400,000", shown, re.M) and re.search(r"^\+.*£450,000", shown, re.M)
    assert re.search(r"^\+SCHEDULE 1 Dementia Advisers", shown, re.M)


def test_textconv_refuses_what_is_not_a_docx(tmp_path):
    bad = tmp_path / "x.docx"
    bad.write_text("not a zip", encoding="utf-8")
    result = s75(tmp_path, "textconv", str(bad))
    assert result.returncode == 1 and LINE.match(result.stdout) and "[S75-DOCX-READ]" in result.stdout
    result = s75(tmp_path, "textconv", str(tmp_path / "missing.docx"))
    assert result.returncode == 2 and "[S75-READ]" in result.stdout


# --- pre-commit -------------------------------------------------------------------------------


def test_validate_changed_maps_files_to_agreements(repo):
    folder = "agreements/x"
    result = s75(repo, "validate-changed", f"{folder}/agreement.yaml", f"{folder}/schedules/pool.yaml",
                 f"{folder}/schedules/lead.yaml", "README.md")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 agreement checked: 0 errors" in result.stderr
    edit(repo / folder / "schedules" / "pool.yaml", "title:", "titel:")
    result = s75(repo, "validate-changed", f"{folder}/schedules/pool.yaml")
    assert result.returncode == 1
    assert any("[S75-UNKNOWN-KEY]" in line for line in result.stdout.splitlines())
    assert s75(repo, "validate-changed").returncode == 0


def test_pre_commit_hook_definition():
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    hook = next(h for h in hooks if h["id"] == "s75-validate")
    assert hook["entry"] == "s75 validate-changed" and hook["language"] == "python"
    files = re.compile(hook["files"])
    assert files.search("agreements/x/agreement.yaml") and files.search("agreements/x/schedules/bcf.yaml")
    assert not files.search("schemas/framework.schema.json")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "## Reviewing changes" in readme and "git config diff.s75.textconv" in readme
