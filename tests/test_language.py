"""The clause language at load and at render: findings at the clause line that caused them, and only them.

Uses a copy of the real clause library, edited the way an author might get
it wrong; the line numbers asserted are those of the edited file.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assembler.build.pipeline import assemble_source
from assembler.diagnostics import BuildError
from assembler.engine import language
from assembler.engine.library import load_library
from assembler.resources import clauses_dir
from assembler.source.folder import DirectorySource
from tests.conftest import BASE, edit, s75


@pytest.fixture
def clauses(tmp_path) -> Path:
    target = tmp_path / "clauses"
    shutil.copytree(clauses_dir(), target)
    return target


def _line(path: Path, text: str) -> int:
    """The 1-based line of ``path`` that holds ``text`` (exactly once)."""
    lines = [n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1) if text in line]
    assert len(lines) == 1, (text, lines)
    return lines[0]


def _findings(call) -> list[tuple[str, str, int]]:
    with pytest.raises(BuildError) as caught:
        call()
    return [(d.code, Path(d.location.file).name, d.location.line) for d in caught.value.diagnostics]


def _assemble(folder: Path):
    return assemble_source(DirectorySource(str(BASE)), library=load_library(folder))


# --- at load --------------------------------------------------------------------


def test_load_reports_every_name_outside_the_language_at_its_line(clauses):
    termination = clauses / "termination.clause"
    edit(termination, "heading: Termination and default\n",
         "heading: Termination and default\napplies:\n  - any_pooled_fund\n  - not pooled_fund\n  - any_pooled_funds\n")
    edit(termination, "- {#scheme} A [[Partner]] may withdraw",
         "- {{ agreement.title|moneys }}.\n::contributions\n::tables\n- {#scheme} A [[Partner]] may withdraw")
    edit(clauses / "notices.clause", "::notices", "::notices\n{{ lawz('x') }}")
    found = _findings(lambda: load_library(clauses))
    assert ("S75-CLAUSE", "termination.clause", _line(termination, "- not pooled_fund")) in found  # schedule-only
    assert ("S75-CLAUSE", "termination.clause", _line(termination, "- any_pooled_funds")) in found  # unknown
    assert ("S75-CLAUSE", "termination.clause", _line(termination, "|moneys")) in found
    assert ("S75-CLAUSE", "termination.clause", _line(termination, "::contributions")) in found  # needs a schedule
    assert ("S75-CLAUSE", "termination.clause", _line(termination, "::tables")) in found
    assert ("S75-CLAUSE", "notices.clause", _line(clauses / "notices.clause", "lawz(")) in found
    assert len(found) == 6, found
    assert ("S75-CLAUSE", "termination.clause", 4) not in found  # "- any_pooled_fund" is a body condition


def test_a_schedule_only_condition_in_a_body_clause_is_refused_not_silently_dropped(clauses):
    edit(clauses / "termination.clause", "heading: Termination and default\n",
         "heading: Termination and default\napplies: [has_lines]\n")
    with pytest.raises(BuildError) as caught:
        load_library(clauses)
    [problem] = caught.value.diagnostics
    assert "'has_lines' is a schedule condition" in problem.message and problem.location.line == 3
    assert "did you mean" not in problem.hint


def test_unknown_names_get_a_suggestion(clauses):
    edit(clauses / "termination.clause", "heading: Termination and default\n",
         "heading: Termination and default\napplies: [any_pooled_fnd]\n")
    with pytest.raises(BuildError) as caught:
        load_library(clauses)
    assert caught.value.diagnostics[0].hint == "did you mean 'any_pooled_fund'?"


def test_needs_are_checked_at_load(clauses):
    termination = clauses / "termination.clause"
    edit(termination, "  - agreement.pooled_schedules\n",
         "  - agreement.pooled_schedules\n  - agreement.finance.audit\n  - schedule.aims\n")
    found = _findings(lambda: load_library(clauses))
    assert found == [("S75-CLAUSE", "termination.clause", _line(termination, "- agreement.finance.audit")),
                     ("S75-CLAUSE", "termination.clause", _line(termination, "- schedule.aims"))]


def test_the_real_library_loads_clean():
    library = load_library()
    assert "termination" in library.clauses


# --- at render --------------------------------------------------------------------


def test_a_bad_value_is_reported_at_its_line_without_follow_on_errors(clauses):
    termination = clauses / "termination.clause"
    edit(termination, "  <<termination.notice>>. This [[Agreement]] then continues for the other",
         "  <<termination.notice>>. This {{ agreement.no_such_value }} then continues for the other")
    found = _findings(lambda: _assemble(clauses))
    assert found == [("S75-CLAUSE-DATA", "termination.clause", _line(termination, "no_such_value"))]


def test_a_template_error_is_reported_at_its_line(clauses):
    termination = clauses / "termination.clause"
    edit(termination, "    or\n", "    or {{ agreement.title|money }}\n")
    found = _findings(lambda: _assemble(clauses))
    assert found == [("S75-CLAUSE", "termination.clause", _line(termination, "|money }}"))]


def test_a_structural_error_is_reported_at_its_paragraph(clauses):
    termination = clauses / "termination.clause"
    edit(termination, "- {#scheme} A [[Partner]] may withdraw",
         "\n{% if true %}\n{% endif %}\nstray words\n- {#scheme} A [[Partner]] may withdraw")
    found = _findings(lambda: _assemble(clauses))
    assert found == [("S75-CLAUSE", "termination.clause", _line(termination, "stray words"))]


def test_a_broken_reference_is_reported_where_it_is_written(clauses):
    termination = clauses / "termination.clause"
    edit(termination, "  <<termination.notice>>. This [[Agreement]] then continues for the other",
         "  <<termination.nowhere>>. This [[Agreement]] then continues for the other")
    found = _findings(lambda: _assemble(clauses))
    assert found == [("S75-XREF", "termination.clause", _line(termination, "{#scheme}"))]  # the paragraph's marker


def test_every_paragraph_keeps_its_clause_line():
    document = assemble_source(DirectorySource(str(BASE))).document
    termination = clauses_dir() / "termination.clause"
    paras = {b.key: b for s in document.sections for b in s.blocks if getattr(b, "key", "")}
    assert paras["termination.scheme"].source.line == _line(termination, "{#scheme}")
    assert paras["termination.default"].source.line == _line(termination, "{#default}")
    assert Path(paras["termination.default"].source.file).name == "termination.clause"


# --- engine bugs are not clause errors --------------------------------------------


def _buggy_sentence_filter(monkeypatch):
    """|sentence implemented by a function of our own that raises TypeError for a float: an engine bug."""
    from assembler.model import Money

    broken = tuple(language.Filter(f.name, f.meaning, Money.parse) if f.name == "sentence" else f
                   for f in language.FILTERS)
    monkeypatch.setattr("assembler.engine.library.FILTERS", broken)


def test_an_engine_type_error_propagates_as_a_bug(clauses, monkeypatch):
    _buggy_sentence_filter(monkeypatch)
    edit(clauses / "termination.clause", "    or\n", "    or {{ 0.5|sentence }}\n")
    with pytest.raises(Exception) as caught:  # Money.parse refuses the float, or the first clause's text
        _assemble(clauses)
    assert isinstance(caught.value, (TypeError, ArithmeticError)) and not isinstance(caught.value, BuildError)


def test_a_type_error_in_the_template_itself_is_the_clause_authors(clauses):
    termination = clauses / "termination.clause"
    edit(termination, "    or\n", "    or {{ 'a' + 1 }}\n")
    assert _findings(lambda: _assemble(clauses)) == [("S75-CLAUSE", "termination.clause", _line(termination, "'a' + 1"))]


def test_debug_shows_the_traceback_of_a_bug(monkeypatch, capsys):
    def broken(*_args, **_kwargs):
        raise TypeError("engine bug")

    monkeypatch.setattr("assembler.cli.agreement.render_text", broken)
    code, out, err = s75(capsys, monkeypatch, "text", str(BASE))
    assert code == 1 and "[S75-INTERNAL] unexpected TypeError: engine bug" in out and "Traceback" not in err
    code, out, err = s75(capsys, monkeypatch, "--debug", "text", str(BASE))
    assert code == 1 and "Traceback (most recent call last)" in err and "engine bug" in err
    monkeypatch.setenv("S75_DEBUG", "1")
    code, out, err = s75(capsys, monkeypatch, "text", str(BASE))
    assert "Traceback (most recent call last)" in err
