"""The validation stage's shortcuts find exactly what the long way found.

Each check below skips work when a cheap test shows it cannot find anything, or reads the files' strings once
for every rule. These tests pin the cases where a shortcut that folded, stopped or shared differently would
miss or invent a finding.
"""

from decimal import Decimal, Inexact, Rounded

import pytest

from assembler.check import prose, requirements
from assembler.check.consistency import found, strings
from assembler.check.rules import Context, _invisible_problem, _strings
from assembler.model import Money
from assembler.source.folder import DirectorySource, load_agreement
from assembler.source.yamlfile import load_yaml_bytes


def _sentence_starts(text: str) -> list[tuple[str, bool]]:
    return [(phrase, starts) for _, phrase, starts in prose._runs(text)]


def test_a_run_starts_a_sentence_after_a_stop_colon_bracket_or_quote_and_any_spaces():
    assert _sentence_starts("Reports go to:\u00a0 Joint Board") == [("Reports", True), ("Joint Board", True)]
    assert _sentence_starts("agreed.\n\tJoint Board") == [("Joint Board", True)]
    assert _sentence_starts("(Joint Board) and \u201cPool Fund\u201d") == [("Joint Board", True), ("Pool Fund", True)]
    assert _sentence_starts("  Joint Board") == [("Joint Board", True)]


def test_a_run_inside_a_sentence_does_not_start_one():
    assert _sentence_starts("the Joint Board. met, the Pool Fund") == [("Joint Board", False), ("Pool Fund", False)]
    assert _sentence_starts("a.b Joint Board") == [("Joint Board", False)]


def _periods(text: str) -> list[str]:
    return [p.text for p in prose.periods(None, [(("purpose",), text)])]


def test_periods_are_found_in_any_case_of_their_unit():
    assert _periods("within SIX WEEKS and 3 Months, 10 working days, one Year") == [
        "SIX WEEKS", "3 Months", "10 working days", "one Year"]
    assert _periods("within 2 wee\u212as") == ["2 wee\u212as"]  # KELVIN SIGN: the pattern folds it to k
    assert _periods("within six weekly reviews") == []


def test_found_keeps_every_phrase_in_text_order_and_only_whole_words():
    phrases = ["monthly", "each month", "quarterly"]
    assert found(phrases, "Quarterly, and then MONTHLY and each month") == [
        (0, "quarterly"), (20, "monthly"), (32, "each month")]
    assert found(phrases, "reviewed quarterly") == [(9, "quarterly")]  # the last phrase alone
    assert found(phrases, "bi-monthly and quarterly-ish") == []
    assert found([], "monthly") == []


def _file(text: str):
    doc, problems = load_yaml_bytes(text.encode(), "x.yaml")
    assert not problems
    return doc


def test_the_context_reads_each_file_once_and_gives_every_rule_the_same_strings():
    framework = _file("title: Joint Board\nparties:\n  - {key: a, name: Alpha Council}\n")
    schedule = _file("kind: scheme\nnotes: [one, two]\n")
    ctx = Context(framework, (schedule,))
    for doc in (framework, schedule):
        assert ctx.strings(doc) == _strings(doc.data)
        assert ctx.texts(doc) == strings(doc.data)
    assert ctx.strings(schedule) is ctx.strings(schedule)
    assert ("parties", 0, "name") in [path for path, _ in ctx.texts(framework)]
    assert ("parties",) not in [path for path, _ in ctx.texts(framework)]  # a key is a string, not a text


def test_the_context_refuses_a_file_that_is_not_its_own():
    framework = _file("title: T\n")
    other = _file("title: U\n")
    ctx = Context(framework, ())
    try:
        ctx.strings(other)
    except KeyError:
        return
    raise AssertionError("a file from elsewhere must not be read as one of the agreement's own")


def test_invisible_formatting_is_still_found_in_text_that_is_nearly_all_ascii():
    assert "U+202E" in _invisible_problem("pay the \u202eCouncil", is_name=False)
    assert "never closed" in _invisible_problem("a \u2066b", is_name=False)
    assert _invisible_problem("plain text", is_name=False) == ""


def test_requirement_findings_read_what_is_missing_as_the_full_check_does():
    seen_missing = False
    for folder in ("agreements/portsmouth-framework-2022", "tests/cases/invalid/r4-consultation-missing",
                   "tests/cases/invalid/r4-improvement-missing"):
        files, _ = load_agreement(DirectorySource(folder))
        schedules = tuple(files.schedules)
        pairs = list(requirements.applicable(files.framework, schedules))
        checks = list(requirements.applicable_checks(files.framework, schedules))
        assert [(c.requirement, c.doc) for c in checks] == pairs
        assert [requirements.missing(r, d, files.framework) for r, d in pairs] == [c.missing for c in checks]
        seen_missing = seen_missing or any(c.missing for c in checks)
    assert seen_missing  # the invalid cases lack something, so both ways were compared on it


def test_a_word_is_name_like_by_its_capitals_digits_or_acronym_parts():
    assert not any(prose._name_like(w) for w in ("Partner", "Board", "A", "Partner's", "Caf\u00e9"))
    assert all(prose._name_like(w) for w in ("NHS", "SystmOne", "Ab2", "NHS-funded", "Non-Executive", "GPs", "A1"))


def test_plain_scalars_still_read_as_null_bool_and_numbers_whatever_they_start_with():
    doc = _file("v: [~, null, Null, NULL, true, True, FALSE, false, -1, +2, 3, .5, -.inf, .NaN, 0, 1e3, 4.5]\n"
                "t: [Portsmouth, no, yes, on, tbc, '1', 2022-04-01, x1]\n")
    assert doc.data["v"][:8] == [None, None, None, None, True, True, False, False]
    assert all(not isinstance(v, str) for v in doc.data["v"])
    assert all(isinstance(t, str) for t in doc.data["t"])


def test_money_adds_exactly_beyond_the_default_precision_and_refuses_to_round():
    big = Money(Decimal("9" * 30))
    assert (big + Money(Decimal("1"))).amount == Decimal("1" + "0" * 30)  # 28 digits would round this
    with pytest.raises((Inexact, Rounded)):
        Money(Decimal("1" + "0" * 60)) + Money(Decimal("0.1"))
    assert (Money(None) + big).is_tbc
