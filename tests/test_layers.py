"""House clause library layers: replacement, addition, outline changes, guard rails, located errors,
manifests and verify, and the review commands across git revisions where only the wording changed."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path

import pytest

from assembler.build.output import build
from assembler.build.pipeline import assemble_source, check_source
from assembler.build.provenance import read_manifest, verify
from assembler.diagnostics import ValidationFailed
from assembler.engine.text import render_text
from assembler.review.versions import load_version
from assembler.source.folder import DirectorySource
from assembler.word.read import accept_changes, count_changes, document_lines, reject_changes
from conftest import BASE, ROOT, edit
from test_review import git, s75

WAIVER = """key: waiver
heading: Waiver
---
- {#no-waiver} No failure or delay in exercising a right under this [[Agreement]]
  waives it.
- {#written-waiver} A [[Partner]] waives a right only in a signed letter from its
  chief executive.
"""

PUBLICITY = """key: publicity
heading: Publicity
---
- {#consult} A [[Partner]] must consult the others before any press release about
  this [[Agreement]].
"""


def _agreement(tmp_path: Path, layers="house") -> Path:
    """The small valid agreement at tmp/agreements/x naming ``layers`` (a folder under tmp/agreements)."""
    folder = tmp_path / "agreements" / "x"
    shutil.copytree(BASE, folder)
    written = f"../{layers}" if isinstance(layers, str) else [f"../{name}" for name in layers]
    with open(folder / "agreement.yaml", "a", encoding="utf-8") as handle:
        handle.write(f"clause_library: {json.dumps(written)}\n")
    return folder


def _layer(tmp_path: Path, files: dict[str, str], name: str = "house") -> Path:
    folder = tmp_path / "agreements" / name
    folder.mkdir(parents=True, exist_ok=True)
    for file, text in files.items():
        (folder / file).write_text(text, encoding="utf-8")
    return folder


def _text(folder: Path) -> str:
    """The assembled text with its line wrapping undone, so a sentence is found wherever it wraps."""
    text = render_text(assemble_source(DirectorySource(folder)).document)
    return re.sub(r"(?<=\S)\n +", " ", text)


def _findings(folder: Path) -> list[tuple[str, str, int, str]]:
    """(code, file relative to the agreements folder, line, message) of every error."""
    validation = check_source(DirectorySource(folder))
    top = folder.parent
    return [(d.code, os.path.relpath(d.location.file, top), d.location.line, d.message) for d in validation.errors]


def _headings(text: str) -> list[str]:
    return re.findall(r"^\d+\. ([A-Z][A-Z ,-]+)$", text, re.M)


# --- replacement, addition, outline --------------------------------------------------------


def test_a_layer_clause_replaces_the_built_in_one_with_the_same_key(tmp_path):
    folder = _agreement(tmp_path)
    _layer(tmp_path, {})  # an empty layer changes nothing
    plain = _text(folder)
    assert "does not waive that right or remedy" in plain
    _layer(tmp_path, {"waiver.clause": WAIVER})
    text = _text(folder)
    assert "A Partner waives a right only in a signed letter from its chief executive." in text
    assert "does not waive that right or remedy" not in text
    assert _headings(text) == _headings(plain)  # same place, same number


def test_a_layer_adds_a_clause_where_its_outline_puts_it(tmp_path):
    folder = _agreement(tmp_path)
    _layer(tmp_path, {"publicity.clause": PUBLICITY,
                      "outline.yaml": "body:\n  - insert: publicity\n    after: confidentiality\n"})
    headings = _headings(_text(folder))
    assert headings[headings.index("CONFIDENTIALITY") + 1] == "PUBLICITY"
    assert "A Partner must consult the others before any press release" in _text(folder)


def test_a_layer_outline_moves_and_removes_by_key(tmp_path):
    folder = _agreement(tmp_path)
    _layer(tmp_path, {"outline.yaml": (
        "body:\n  - remove: waiver\n  - move: governing-law\n    before: notices\n"
        "schedules:\n  scheme:\n    - move: scheme-duration\n      after: scheme-overview\n")})
    text = _text(folder)
    headings = _headings(text)
    assert "WAIVER" not in headings
    assert headings[headings.index("GOVERNING LAW AND JURISDICTION") + 1] == "NOTICES"
    # Each scheme schedule: the scheme first, then its duration, then the rest as before.
    assert headings.count("DURATION, REVIEW, VARIATION AND TERMINATION") == 2
    for at in [i for i, h in enumerate(headings) if h == "THE SCHEME"]:
        assert headings[at + 1] == "DURATION, REVIEW, VARIATION AND TERMINATION"
        assert headings[at + 2] == "AIMS AND OUTCOMES"


def test_a_layer_keeps_the_parts_of_the_outline_it_cannot_change(tmp_path):
    """Generated schedules and the execution page come through a layer as they were."""
    folder = _agreement(tmp_path)
    _layer(tmp_path, {})
    layered = assemble_source(DirectorySource(folder))
    from assembler.engine.library import default_library

    base = default_library().outline
    assert layered.library.outline == base
    plain = render_text(assemble_source(DirectorySource(BASE)).document)
    assert render_text(layered.document) == plain


def test_later_layers_go_over_earlier_ones(tmp_path):
    folder = _agreement(tmp_path, ["house", "team"])
    _layer(tmp_path, {"waiver.clause": WAIVER})
    _layer(tmp_path, {"waiver.clause": WAIVER.replace("chief executive", "monitoring officer")}, "team")
    text = _text(folder)
    assert "A Partner waives a right only in a signed letter from its monitoring officer." in text
    assert "chief executive." not in text
    library = assemble_source(DirectorySource(folder)).library
    assert [layer.written for layer in library.layers] == ["../house", "../team"]
    assert library.origins["waiver"].endswith("agreements/team")


# --- guard rails ------------------------------------------------------------------------------


def test_a_clause_a_requirement_relies_on_cannot_be_removed(tmp_path):
    folder = _agreement(tmp_path)
    _layer(tmp_path, {"outline.yaml": "# the house drops it\nbody:\n  - remove: liabilities\n"})
    found = _findings(folder)
    assert [(c, f, l) for c, f, l, _ in found] == [("S75-LAYER-REQUIRED", "house/outline.yaml", 3)]
    assert "reg 4(3)" in found[0][3] and "replace it but not remove it" in found[0][3]
    with pytest.raises(ValidationFailed):
        assemble_source(DirectorySource(folder))


def test_a_replacement_must_keep_the_paragraph_a_requirement_names(tmp_path):
    folder = _agreement(tmp_path)
    text = (ROOT / "clauses" / "liabilities.clause").read_text(encoding="utf-8")
    assert "{#functions-unaffected}" in text
    _layer(tmp_path, {"liabilities.clause": text.replace("{#functions-unaffected} ", "")})
    found = _findings(folder)
    required = [f for f in found if f[0] == "S75-LAYER-REQUIRED"]
    assert [(f[1], f[2]) for f in required] == [("house/liabilities.clause", 1)]
    assert "S75-R4-LIABILITY" in required[0][3] and "{#functions-unaffected}" in required[0][3]
    # The clauses that refer to that paragraph are each named, at the replacing file.
    refs = [f for f in found if f[0] == "S75-LAYER-REF"]
    assert [(f[1], f[2]) for f in refs] == [("house/liabilities.clause", 1)]
    assert "commissioning-arrangements.clause" in refs[0][3] and "recitals.clause" in refs[0][3]


def test_the_replacing_clause_is_what_compliance_traces(tmp_path):
    folder = _agreement(tmp_path)
    text = (ROOT / "clauses" / "liabilities.clause").read_text(encoding="utf-8")
    _layer(tmp_path, {"liabilities.clause": text.replace("{#functions-unaffected} ", "{#functions-unaffected} In every case, ")})
    assembled = assemble_source(DirectorySource(folder))
    from assembler.build.compliance import compliance_rows

    rows = {r.code: r for r in compliance_rows(assembled.validation, assembled.document)}
    number = rows["S75-R4-LIABILITY"].clause
    assert number.startswith("clause ")
    paragraph = number.removeprefix("clause ")
    assert re.search(rf"^{re.escape(paragraph)} In every case, ", render_text(assembled.document), re.M)


def test_replacing_a_clause_without_an_anchor_others_use_names_each_reference(tmp_path):
    folder = _agreement(tmp_path)
    text = (ROOT / "clauses" / "termination.clause").read_text(encoding="utf-8")
    assert "{#consequences}" in text
    _layer(tmp_path, {"termination.clause": text.replace("{#consequences}", "{#effects}")})
    found = _findings(folder)
    own = text[:text.index("<<termination.consequences>>")].count("\n") + 1
    # The clauses that refer to the lost paragraph, named at the replacing file; and the replacement's own reference.
    assert [(c, f, l) for c, f, l, _ in found] == [("S75-LAYER-REF", "house/termination.clause", 1),
                                                   ("S75-LAYER-REF", "house/termination.clause", own)]
    message = found[0][3]
    assert "{#consequences}" in message
    assert "capital-expenditure.clause:" in message and "commencement-duration.clause:" in message


def test_removing_a_clause_others_refer_to_is_refused_at_the_removal(tmp_path):
    folder = _agreement(tmp_path)
    _layer(tmp_path, {"outline.yaml": "body:\n  - remove: governing-law\n"})
    found = _findings(folder)
    assert found and all((c, f, l) == ("S75-LAYER-REF", "house/outline.yaml", 2) for c, f, l, _ in found)
    assert any("dispute-resolution.clause" in m for *_, m in found)


# --- errors located in the layer's files -----------------------------------------------------


def test_errors_name_the_layer_file_and_line(tmp_path):
    folder = _agreement(tmp_path)
    _layer(tmp_path, {
        "publicity.clause": PUBLICITY.replace("---\n", "applies: [any_moon]\n---\n").replace(
            "this [[Agreement]].", "this [[Agreement]] and any [[Press Office]]."),
        "outline.yaml": "body:\n  - insert: publicity\n    after: confidentiality\n  - move: nowhere\n    after: waiver\n",
    })
    found = {(c, f, l) for c, f, l, _ in _findings(folder)}
    assert found == {("S75-CLAUSE", "house/publicity.clause", 3),  # applies:
                     ("S75-LAYER", "house/outline.yaml", 4)}  # move: nowhere
    # With those fixed, the term nobody defines is found where it is used.
    _layer(tmp_path, {
        "publicity.clause": PUBLICITY.replace("this [[Agreement]].", "this [[Agreement]]\n  and any [[Press Office]]."),
        "outline.yaml": "body:\n  - insert: publicity\n    after: confidentiality\n"})
    assert [(c, f, l) for c, f, l, _ in _findings(folder)] == [("S75-LAYER-TERM", "house/publicity.clause", 6)]


def test_a_layer_clause_is_held_to_the_clause_language_where_the_merged_outline_uses_it(tmp_path):
    """The registry check every built-in clause passes at load, run on the layer's clause at its own lines:
    a schedule condition on a body clause, a need it never reads, and a value the agreement never has."""
    folder = _agreement(tmp_path)
    _layer(tmp_path, {
        "publicity.clause": PUBLICITY.replace("---\n", "applies:\n  - pooled_fund\nneeds:\n  - agreement.term\n---\n"),
        "outline.yaml": "body:\n  - insert: publicity\n    after: confidentiality\n",
    })
    found = [(c, f, l) for c, f, l, _ in _findings(folder)]
    assert found == [("S75-CLAUSE", "house/publicity.clause", 4), ("S75-CLAUSE", "house/publicity.clause", 6)], found
    messages = " ".join(m for *_, m in _findings(folder))
    assert "'pooled_fund' is a schedule condition" in messages and "never reads it" in messages
    _layer(tmp_path, {"publicity.clause": PUBLICITY.replace(
        "this [[Agreement]].", "this [[Agreement]] {{ agreement.press_office }}.")})
    assert [(c, f, l) for c, f, l, _ in _findings(folder)] == [("S75-CLAUSE", "house/publicity.clause", 5)]


def test_the_yaml_free_text_is_checked_against_the_terms_the_layer_defines(tmp_path):
    """Validation's defined-term discipline reads the merged library: a term only the house layer
    defines, written in lower case in the YAML, is marked as the built-in terms are."""
    folder = _agreement(tmp_path)
    agreement = folder / "agreement.yaml"
    agreement.write_text(agreement.read_text(encoding="utf-8").replace(
        "purpose: Oversees the Schemes and the Pooled Fund.",
        "purpose: Oversees the Schemes, the Pooled Fund and any press protocol."), encoding="utf-8")
    _layer(tmp_path, {
        "publicity.clause": PUBLICITY.replace("---\n", "defines:\n  Press Protocol: the protocol for publicity.\n---\n")
        .replace("press release about", "press release under the [[Press Protocol]] about"),
        "outline.yaml": "body:\n  - insert: publicity\n    after: confidentiality\n",
    })
    warnings = [d for d in check_source(DirectorySource(folder)).diagnostics if d.code == "S75-TERM-CASE"]
    assert [d.message for d in warnings] == ["'press protocol' is the defined term 'Press Protocol' in lower case"]
    assert warnings[0].location.file.endswith("agreement.yaml")


def test_an_added_clause_must_be_placed(tmp_path):
    folder = _agreement(tmp_path)
    _layer(tmp_path, {"publicity.clause": PUBLICITY})
    assert [(c, f, l) for c, f, l, _ in _findings(folder)] == [("S75-LAYER", "house/publicity.clause", 1)]


def test_a_missing_layer_is_reported_where_agreement_yaml_names_it(tmp_path):
    folder = _agreement(tmp_path, ["house", "nope"])
    _layer(tmp_path, {"waiver.clause": WAIVER})
    found = _findings(folder)
    lines = (folder / "agreement.yaml").read_text(encoding="utf-8").splitlines()
    assert [(c, f) for c, f, _, _ in found] == [("S75-NOTFOUND", "x/agreement.yaml")]
    assert "clause_library" in lines[found[0][2] - 1]


def test_a_layer_file_that_is_a_symbolic_link_is_refused(tmp_path):
    folder = _agreement(tmp_path)
    secret = tmp_path / "elsewhere.clause"
    secret.write_text(WAIVER, encoding="utf-8")
    layer = _layer(tmp_path, {})
    (layer / "waiver.clause").symlink_to(secret)
    assert [(c, f) for c, f, _, _ in _findings(folder)] == [("S75-PATH", "house/waiver.clause")]


def test_an_absolute_layer_path_is_refused(tmp_path):
    folder = tmp_path / "agreements" / "x"
    shutil.copytree(BASE, folder)
    with open(folder / "agreement.yaml", "a", encoding="utf-8") as handle:
        handle.write("clause_library: /etc\n")
    found = _findings(folder)
    assert [(f, l) for _, f, l, _ in found] == [("x/agreement.yaml", 98)]


# --- s75 library show / diff ---------------------------------------------------------------


def test_library_show_lists_each_clause_with_its_layer(tmp_path, capsys, monkeypatch):
    from conftest import s75 as run

    folder = _agreement(tmp_path)
    _layer(tmp_path, {"waiver.clause": WAIVER, "publicity.clause": PUBLICITY,
                      "outline.yaml": "body:\n  - insert: publicity\n    after: confidentiality\n"})
    code, out, err = run(capsys, monkeypatch, "library", "show", str(folder), "--format", "json")
    assert code == 0, out + err
    data = json.loads(out)
    assert [l["path"] for l in data["layers"]] == ["../house"]
    body = [e for e in data["clauses"] if e["section"] == "body"]
    keys = [e["key"] for e in body]
    assert keys[keys.index("confidentiality") + 1] == "publicity"
    by_key = {e["key"]: e for e in body}
    assert by_key["waiver"]["change"] == "replaces the built-in clause"
    assert by_key["waiver"]["source"].endswith("house/waiver.clause")
    assert by_key["publicity"]["change"] == "added"
    assert by_key["notices"]["source"] == "built-in" and by_key["notices"]["change"] == ""
    code, out, _ = run(capsys, monkeypatch, "library", "show", str(folder))
    assert re.search(r"^  waiver +\S*house/waiver.clause \(replaces the built-in clause\)$", out, re.M)


def test_library_diff_shows_changed_words_added_clauses_and_outline_moves(tmp_path, capsys, monkeypatch):
    from conftest import s75 as run

    folder = _agreement(tmp_path)
    _layer(tmp_path, {"waiver.clause": WAIVER, "publicity.clause": PUBLICITY, "outline.yaml": (
        "body:\n  - insert: publicity\n    after: confidentiality\n  - remove: severance\n"
        "schedules:\n  scheme:\n    - move: scheme-duration\n      after: scheme-overview\n")})
    code, out, err = run(capsys, monkeypatch, "library", "diff", str(folder))
    assert code == 0, out + err
    assert "waiver: Waiver (built-in waiver.clause replaced by" in out
    assert ("~ {#written-waiver}: A [-waiver is effective-]{+[[Partner]] waives a right+} only [-if it is-] in "
            "[-writing and-]{+a+} signed [-by an authorised officer") in out
    assert "publicity: Publicity (added by" in out
    assert "+ {#consult}: A [[Partner]] must consult the others before any press release" in out
    assert "  body: publicity inserted after confidentiality" in out
    assert "  body: severance removed" in out
    assert "  schedules: scheme: scheme-duration moved after scheme-overview" in out
    # Untouched clauses are not listed.
    assert "notices:" not in out


def test_library_commands_report_layer_errors_as_lines(tmp_path, capsys, monkeypatch):
    from conftest import FINDING_LINE, s75 as run

    folder = _agreement(tmp_path)
    _layer(tmp_path, {"outline.yaml": "body:\n  - remove: liabilities\n"})
    code, out, _ = run(capsys, monkeypatch, "library", "show", str(folder))
    assert code == 1
    assert re.match(FINDING_LINE, out.splitlines()[0]) and "S75-LAYER-REQUIRED" in out


# --- provenance ---------------------------------------------------------------------------------


HOUSE = {"waiver.clause": WAIVER, "publicity.clause": PUBLICITY,
         "outline.yaml": "body:\n  - insert: publicity\n    after: confidentiality\n"}


def _final_with_layer(tmp_path: Path) -> tuple[Path, Path]:
    """A final agreement (the small one, status final) and its house layer; (agreement, layer)."""
    folder = _agreement(tmp_path)
    edit(folder / "agreement.yaml", "status: draft", "status: final")
    return folder, _layer(tmp_path, HOUSE)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_manifest_records_each_layer_file_and_verify_rebuilds_with_them(tmp_path):
    folder, layer = _final_with_layer(tmp_path)
    (layer / "README.md").write_text("Notes for the legal team: not an input.\n", encoding="utf-8")
    out = tmp_path / "out" / "northbridge.docx"
    out.parent.mkdir()
    build(str(folder), out, final=True)
    manifest = read_manifest(out)
    assert manifest["layers"] == [{"path": "../house", "files": {
        name: _sha(layer / name) for name in ("outline.yaml", "publicity.clause", "waiver.clause")}}]
    assert verify(out).ok
    # A change to the house wording is a change of input, named by its file.
    edit(layer / "publicity.clause", "press release", "press statement")
    result = verify(out)
    assert not result.ok
    assert [(d.code, Path(d.location.file).name) for d in result.findings] == [("S75-VERIFY-INPUT", "publicity.clause")]
    assert "house clause file ../house/publicity.clause has changed" in result.findings[0].message
    # Put back, it verifies again: the rebuild read the layer.
    edit(layer / "publicity.clause", "press statement", "press release")
    assert verify(out).ok


def test_verify_rebuilds_with_the_layer_so_a_doctored_manifest_is_caught(tmp_path):
    """The rebuild itself reads the layer: with the recorded hashes made to match an edited layer,
    the bytes differ and verify says so."""
    folder, layer = _final_with_layer(tmp_path)
    out = tmp_path / "northbridge.docx"
    build(str(folder), out, final=True)
    edit(layer / "publicity.clause", "press release", "press statement")
    manifest_file = out.with_name(out.name + ".manifest.json")
    manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    manifest["layers"][0]["files"]["publicity.clause"] = _sha(layer / "publicity.clause")
    manifest_file.write_text(json.dumps(manifest), encoding="utf-8")
    result = verify(out)
    assert not result.ok and result.rebuilt
    assert "S75-VERIFY-BYTES" in {d.code for d in result.findings}


def test_the_git_state_covers_the_layer_and_verify_rebuilds_from_the_commit(tmp_path):
    """A layer outside the agreement's folder is an input too: an uncommitted change to it makes the
    build unclean, and after the build verify falls back to the committed layer."""
    folder, layer = _final_with_layer(tmp_path)
    for args in (("init", "-q"), ("config", "user.email", "r@example.org"), ("config", "user.name", "R"),
                 ("config", "commit.gpgsign", "false"), ("add", "-A"), ("commit", "-q", "-m", "signed")):
        git(tmp_path, *args)
    out = tmp_path / "signed.docx"
    edit(layer / "publicity.clause", "press release", "press statement")
    build(str(folder), out, final=True, force=True)
    assert read_manifest(out)["git"]["clean"] is False  # built from an uncommitted house clause
    edit(layer / "publicity.clause", "press statement", "press release")
    build(str(folder), out, final=True, force=True)
    assert read_manifest(out)["git"]["clean"] is True
    # The house wording changes after signing: the committed layer still rebuilds the signed bytes.
    edit(layer / "waiver.clause", "chief executive", "monitoring officer")
    result = verify(out)
    assert result.ok, [d.format() for d in result.findings]
    assert "rebuilt from commit" in result.note and "waiver.clause" in result.note


def test_a_layer_at_a_revision_is_read_from_git_with_the_same_checks(tmp_path):
    """From REV:PATH the layer is the committed one: a committed symbolic link is refused, and a path
    that leaves the repository is refused, each where it is named."""
    from assembler.source.git import GitSource

    repo = tmp_path / "repo"
    folder = _agreement(repo, ["house", "../../outside"])
    layer = _layer(repo, {"publicity.clause": PUBLICITY})
    (repo / "secret.clause").write_text(WAIVER, encoding="utf-8")
    (layer / "waiver.clause").symlink_to("../../secret.clause")
    for args in (("init", "-q"), ("config", "user.email", "r@example.org"), ("config", "user.name", "R"),
                 ("config", "commit.gpgsign", "false"), ("add", "-A"), ("commit", "-q", "-m", "one")):
        git(repo, *args)
    with pytest.raises(ValidationFailed) as caught:
        assemble_source(GitSource("HEAD", "agreements/x", cwd=repo))
    found = sorted((d.code, d.location.file, d.message) for d in caught.value.diagnostics)
    assert [(c, f) for c, f, _ in found] == [("S75-PATH", "HEAD:agreements/house/waiver.clause"),
                                             ("S75-PATH", "HEAD:agreements/x/agreement.yaml")]
    assert "symbolic link" in found[0][2] and "outside the git repository" in found[1][2]


# --- review across git revisions -------------------------------------------------------------------


def _repo(tmp_path: Path, with_clauses: bool) -> Path:
    """A repository with agreements/x; its house layer agreements/house (or, with_clauses, the
    built-in clauses/ at its top) holds the one wording that changes between HEAD~1 and HEAD."""
    root = tmp_path / "repo"
    root.mkdir()
    for args in (("init", "-q"), ("config", "user.email", "r@example.org"), ("config", "user.name", "R"),
                 ("config", "commit.gpgsign", "false")):
        git(root, *args)
    if with_clauses:
        shutil.copytree(BASE, root / "agreements" / "x")
        shutil.copytree(ROOT / "clauses", root / "clauses")
        wording = root / "clauses" / "waiver.clause"
    else:
        _agreement(root)
        _layer(root, {"waiver.clause": WAIVER})
        wording = root / "agreements" / "house" / "waiver.clause"
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "first")
    text = wording.read_text(encoding="utf-8")
    wording.write_text(re.sub(r"(chief executive|an authorised officer of the \[\[Partner\]\] giving it)\.",
                              "its Chief Legal Adviser.", text), encoding="utf-8")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "only the wording changes")
    return root


@pytest.mark.parametrize("with_clauses", [False, True], ids=["house-layer", "built-in-clauses"])
def test_review_commands_see_a_wording_change_between_revisions(tmp_path, with_clauses):
    repo = _repo(tmp_path, with_clauses)
    old, new = "HEAD~1:agreements/x", "HEAD:agreements/x"
    assert git(repo, "diff", "--stat", "HEAD~1", "HEAD", "--", "agreements/x") == ""  # the agreement did not change

    result = s75(repo, "diff", old, new, "--exit-code")
    assert result.returncode == 1, result.stdout + result.stderr
    # Only the waiver clause changed, and the new words are shown (however the diff groups them).
    assert "Waiver" in result.stdout and "Adviser" in result.stdout and "Legal" in result.stdout
    assert not re.search(r"^~ clause (?!\d+ Waiver)", result.stdout, re.M)

    before, after = load_version(old, cwd=repo), load_version(new, cwd=repo)
    assert "Chief Legal Adviser" not in " ".join(render_text(before.document).split())
    assert "Chief Legal Adviser" in " ".join(render_text(after.document).split())

    redline = tmp_path / "redline.docx"
    result = s75(repo, "redline", old, new, "-o", str(redline))
    assert result.returncode == 0, result.stdout + result.stderr
    data = redline.read_bytes()
    assert count_changes(data)["ins"] > 0
    from assembler.word.writer import render_docx_bytes

    assert document_lines(accept_changes(data), skip_toc=True) == document_lines(render_docx_bytes(after.document), skip_toc=True)
    assert document_lines(reject_changes(data), skip_toc=True) == document_lines(render_docx_bytes(before.document), skip_toc=True)

    deed = tmp_path / "deed.docx"
    result = s75(repo, "variation", old, new, "-o", str(deed))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Chief Legal Adviser" in " ".join(document_lines(deed.read_bytes()))


def test_a_directory_version_still_uses_the_installed_library(tmp_path):
    """Only a git revision reads clauses/ from the repository; the working tree uses what is installed."""
    repo = _repo(tmp_path, with_clauses=True)
    text = render_text(load_version("agreements/x", cwd=repo).document)
    assert "Chief Legal Adviser" not in " ".join(text.split())


# --- the example: Southampton's house layer, as LibreOffice shows it ---------------------------------


def test_the_southampton_house_wording_is_what_libreoffice_shows(tmp_path):
    """The example layer's replaced clause, added clause and moved schedule part, read back from the PDF."""
    from test_examples import _need_libreoffice

    _need_libreoffice()
    import subprocess

    from assembler.word.pdf import convert_to_pdf

    out = tmp_path / "southampton.docx"
    build(str(ROOT / "agreements" / "southampton-bcf-2017"), out)
    pdf = convert_to_pdf([out], tmp_path)[0]
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True).stdout
    flat = " ".join(text.split())
    # The house dispute ladder: officers first, then an expert for money, and its own defined term.
    assert "must be decided by an independent chartered accountant" in flat
    assert "“Financial Dispute” means a Dispute only about an amount of money" in flat
    # ...or a share of one, so a dispute about a share of an overspend goes to the expert too (review A r5).
    assert "or a Partner’s share of an amount, that a Partner must contribute, pay or bear" in flat
    assert "including a share of an Overspend or an Underspend" in flat
    # Headings as LibreOffice lays them out (the capitals are the heading style's, not the text's).
    headings = re.findall(r"^\s*(\d+)\.\s+([A-Z][A-Za-z ,]+?)\s*$", text, re.M)
    at = [i for i, (_, h) in enumerate(headings) if h == "Confidentiality"][-1]
    assert headings[at + 1] == (str(int(headings[at][0]) + 1), "Publicity and communications")
    # In the scheme schedule, Performance now follows Aims and outcomes.
    at = [i for i, (_, h) in enumerate(headings) if h == "Aims and outcomes"][-1]
    assert headings[at + 1] == (str(int(headings[at][0]) + 1), "Performance")


def test_the_southampton_ladder_passes_over_a_step_already_taken():
    """A Board deadlock referred as a Dispute does not start again with the officers (review r6 A, Southampton 3)."""
    text = " ".join(_text(ROOT / "agreements" / "southampton-bcf-2017").split())
    operational = re.search(r"(\d+\.\d+) Within five Working Days after the notice, the officers", text).group(1)
    steps = re.search(r"(\d+\.\d+) If the Dispute is not resolved within ten Working Days", text).group(1)
    assert (f"The meeting under clause {operational}, and any step under clause {steps}, is passed over if the "
            "persons who would meet have already considered the Dispute and failed to resolve it, including as "
            "members of a Governance Body that has referred it for resolution") in text
