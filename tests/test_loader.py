"""The safe YAML loader, by value: each bad input pins its code, line and column."""

from __future__ import annotations

import os
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assembler.diagnostics import LoadError, Location
from assembler.source.yamlfile import CODES, MAX_DEPTH, load_yaml_bytes
from assembler.source.folder import DirectorySource, load_agreement, load_yaml_file

NAME = "agreements/x/schedules/bcf.yaml"


def problems(raw: bytes) -> list[tuple[str, int, int]]:
    """(code, line, column) of every diagnostic; the file must not load."""
    loaded, diagnostics = load_yaml_bytes(raw, NAME)
    assert loaded is None
    assert all(d.location.file == NAME and d.code in CODES for d in diagnostics)
    return [(d.code, d.location.line, d.location.column) for d in diagnostics]


def only(raw: bytes):
    """The single diagnostic of a bad file."""
    loaded, diagnostics = load_yaml_bytes(raw, NAME)
    assert loaded is None
    assert len(diagnostics) == 1, [d.format() for d in diagnostics]
    return diagnostics[0]


def load(raw: bytes):
    loaded, diagnostics = load_yaml_bytes(raw, NAME)
    assert diagnostics == [], [d.format() for d in diagnostics]
    return loaded


# --- good files -----------------------------------------------------------


def test_plain_data_and_yaml_1_2_core_types():
    loaded = load(
        b"name: Better Care Fund\n"
        b"start: 2017-04-01\n"
        b"pooled: NO\n"
        b"agreed: Yes\n"
        b"switch: on\n"
        b"final: True\n"
        b"draft: FALSE\n"
        b"version: 1.10\n"
        b"amount: 1000000\n"
        b"scaled: 1e3\n"
        b"time: 12:30\n"
        b"quoted: 'NO'\n"
        b"empty:\n"
        b"tilde: ~\n"
        b"parties:\n  - name: council\n  - name: ccg\n"
    )
    assert loaded.data == {
        "name": "Better Care Fund",
        "start": "2017-04-01",
        "pooled": "NO",
        "agreed": "Yes",
        "switch": "on",
        "final": True,
        "draft": False,
        "version": 1.1,
        "amount": 1000000,
        "scaled": 1000.0,
        "time": "12:30",
        "quoted": "NO",
        "empty": None,
        "tilde": None,
        "parties": [{"name": "council"}, {"name": "ccg"}],
    }
    assert loaded.display == NAME


def test_timestamps_stay_text():
    data = load(b"a: 2017-04-01\nb: 2001-12-14t21:59:43.10-05:00\n").data
    assert data == {"a": "2017-04-01", "b": "2001-12-14t21:59:43.10-05:00"}


@pytest.mark.parametrize("text, how, plain", [
    ("1_240_000", "with underscores", "1240000"),
    ("0x20B70", "in hexadecimal", "134000"),
    ("0o17", "in octal", "15"),
    ("0b101", "in binary", "5"),
    ("0123", "with a leading zero", "123"),
])
def test_numbers_in_odd_forms_are_marked_for_the_schema_stage(text, how, plain):
    loaded = load(f"title: x\namount: {text}\nquoted: '{text}'\n".encode())
    assert loaded.data == {"title": "x", "amount": text, "quoted": text}
    assert dict(loaded.source.odd_numbers) == {("amount",): (how, plain)}
    # as a key it cannot wait for the schema stage: the file is refused here
    found = problems(f"{text}: x\n".encode())
    assert found == [("S75-NUMBER", 1, 1)]


def test_raw_text_of_no_and_1_10_is_kept():
    loaded = load(b"pooled: NO\nversion: 1.10\nquoted: \"1.10\"\n")
    assert loaded.data["pooled"] == "NO"
    assert loaded.source.raw(("pooled",)) == ("NO", "plain")
    assert loaded.data["version"] == 1.1
    assert loaded.source.raw(("version",)) == ("1.10", "plain")
    assert loaded.source.raw(("quoted",)) == ("1.10", "double")
    assert loaded.source.raw(()) is None


def test_allowed_explicit_tags():
    data = load(b"a: !!str 12\nb: !!int '7'\nc: !!bool 'true'\nd: !!null ''\ne: !!float 1\n").data
    assert data == {"a": "12", "b": 7, "c": True, "d": None, "e": 1.0}


def test_explicit_bool_tag_takes_yaml_1_2_words_only():
    assert problems(b"c: !!bool yes\n") == [("S75-TAG", 1, 4)]


def test_locate_nested_value_and_key():
    loaded = load(b"name: x\nparties:\n  - name: council\n    role: host\n  - name: ccg\n")
    source = loaded.source
    assert source.locate(("parties", 1, "name")) == Location(NAME, 5, 11)
    assert source.key_location(("parties", 1, "name")) == Location(NAME, 5, 5)
    assert source.locate(("parties", 0)) == Location(NAME, 3, 5)
    assert source.locate(("parties",)) == Location(NAME, 3, 3)
    assert source.key_location(("parties",)) == Location(NAME, 2, 1)
    # unknown paths fall back to the nearest known ancestor, then to 1:1
    assert source.locate(("parties", 0, "missing", 3)) == Location(NAME, 3, 5)
    assert source.locate(("nothing",)) == Location(NAME, 1, 1)
    assert source.key_location(("parties", 0)) == Location(NAME, 3, 5)


def test_load_yaml_file_reads_from_disk(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_bytes(b"a: 1\n")
    loaded, diagnostics = load_yaml_file(path, "a.yaml")
    assert diagnostics == [] and loaded.data == {"a": 1} and loaded.path == path


# --- structure problems ----------------------------------------------------


def test_duplicate_key_reported_at_second_with_line_of_first():
    d = only(b"name: a\nparties: []\nname: b\n")
    assert (d.code, d.location.line, d.location.column) == ("S75-DUPKEY", 3, 1)
    assert "'name'" in d.message and "line 1" in d.message


def test_every_duplicate_key_is_reported():
    assert problems(b"a: 1\nb:\n  c: 1\n  c: 2\na: 3\n") == [("S75-DUPKEY", 4, 3), ("S75-DUPKEY", 5, 1)]


def test_anchor_and_alias_are_refused():
    assert problems(b"a: &base 1\nb: *base\n") == [("S75-ALIAS", 1, 4), ("S75-ALIAS", 2, 4)]


def test_billion_laughs_is_refused_fast():
    rows = [b'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for letter in "bcdefghij":
        previous = chr(ord(letter) - 1)
        rows.append(f"{letter}: &{letter} [{', '.join(['*' + previous] * 9)}]".encode())
    start = time.perf_counter()
    found = problems(b"\n".join(rows) + b"\n")
    assert time.perf_counter() - start < 2
    assert found[0] == ("S75-ALIAS", 1, 4)
    assert {code for code, _, _ in found} == {"S75-ALIAS"}


def test_deep_flow_nesting_is_a_clean_error():
    assert problems(b"[" * 10_000 + b"]" * 10_000) == [("S75-DEPTH", 1, MAX_DEPTH + 1)]


def test_deep_compact_block_nesting_is_a_clean_error():
    assert problems(b"- " * 10_000 + b"x\n") == [("S75-DEPTH", 1, 2 * MAX_DEPTH + 1)]


def test_deep_block_mapping_nesting_is_a_clean_error():
    # 1,400 levels of "a:\n  a:" is deeper than Python's recursion limit and still under 2 MiB
    raw = "".join("  " * level + "a:\n" for level in range(1_400)).encode()
    assert len(raw) < 2 * 1024 * 1024
    assert problems(raw) == [("S75-DEPTH", MAX_DEPTH + 1, 2 * MAX_DEPTH + 1)]


def test_ten_thousand_levels_of_block_mapping_is_too_big_to_read():
    # 10,000 levels of "a:\n  a:" take 100 MB of indentation: refused unread
    raw = "".join("  " * level + "a:\n" for level in range(10_000)).encode()
    assert problems(raw) == [("S75-SIZE", 1, 1)]


def test_nesting_of_fifty_levels_is_allowed():
    raw = "".join("  " * level + "a:\n" for level in range(MAX_DEPTH)) + "  " * MAX_DEPTH + "b\n"
    assert load(raw.encode()).data["a"]["a"]


def test_non_text_keys():
    found = problems(b"1: a\ntrue: b\n~: c\n? [x]\n: d\n<<: {e: 1}\n'2': fine\nyes: text in YAML 1.2\n")
    assert found == [
        ("S75-KEY", 1, 1),
        ("S75-KEY", 2, 1),
        ("S75-KEY", 3, 1),
        ("S75-KEY", 4, 3),
        ("S75-KEY", 6, 1),
    ]


def test_python_object_tag_is_refused():
    d = only(b"name: x\nrun: !!python/object:os.system 'echo'\n")
    assert (d.code, d.location.line, d.location.column) == ("S75-TAG", 2, 6)
    assert "!!python/object:os.system" in d.message


def test_unknown_tags_and_unreadable_tagged_values():
    assert problems(b"a: !custom 1\nb: !!int x\nc: !!set {x}\n") == [
        ("S75-TAG", 1, 4),
        ("S75-TAG", 2, 4),
        ("S75-TAG", 3, 4),
    ]


def test_syntax_error_at_problem_mark_in_words():
    d = only(b"name: x\ndescription: Pooled fund: adults\n")
    assert (d.code, d.location.line, d.location.column) == ("S75-YAML", 2, 25)
    assert "mapping values are not allowed here" in d.message
    assert "quotes" in d.hint


def test_unclosed_bracket():
    d = only(b"a: [1, 2\nb: 3\n")
    assert (d.code, d.location.line) == ("S75-YAML", 2)
    assert "started at line 1" in d.message


def test_empty_file():
    d = only(b"")
    assert (d.code, d.location.line, d.location.column) == ("S75-EMPTY", 1, 1)


def test_comments_only_file():
    assert problems(b"# just a note\n\n   # another\n") == [("S75-EMPTY", 1, 1)]


def test_two_documents():
    assert problems(b"a: 1\n---\nb: 2\n") == [("S75-MULTIDOC", 2, 1)]


# --- characters and encodings --------------------------------------------


def test_tab_indentation_is_reported_on_every_line():
    raw = b"parties:\n\t- council\n\t- ccg\nname:\tx\nnote: 'a\n\tb'\nbody: |\n  a\n  \tb\n"
    found = problems(raw)
    assert found == [("S75-TAB", 2, 1), ("S75-TAB", 3, 1), ("S75-TAB", 4, 6)]
    d = load_yaml_bytes(raw, NAME)[1][0]
    assert "indent with spaces" in d.hint


def test_tabs_inside_quoted_and_block_text_are_fine():
    data = load(b"note: 'a\tb'\nbody: |\n  a\n  \tb\n").data
    assert data == {"note": "a\tb", "body": "a\n\tb\n"}


def test_utf16_file():
    d = only("name: Better Care Fund\n".encode("utf-16"))
    assert (d.code, d.location.line, d.location.column) == ("S75-ENCODING", 1, 1)
    assert "UTF-16" in d.message and "UTF-8" in d.hint


def test_utf16_without_bom_is_recognised_by_its_nul_bytes():
    d = only("name: Better Care Fund\n".encode("utf-16-be"))
    assert d.code == "S75-ENCODING" and "UTF-16" in d.message


def test_latin1_byte_at_its_line_and_column():
    raw = "name: x\nhost: Conseil général\n".encode("latin-1")
    d = only(raw)
    assert (d.code, d.location.line, d.location.column) == ("S75-ENCODING", 2, 16)
    assert "0xE9" in d.message and "é" in d.message


def test_utf8_bom():
    d = only(b"\xef\xbb\xbfname: x\n")
    assert (d.code, d.location.line, d.location.column) == ("S75-BOM", 1, 1)
    assert "without BOM" in d.hint


def test_nul_byte():
    d = only(b"name: a\x00b\n")
    assert (d.code, d.location.line, d.location.column) == ("S75-CONTROL", 1, 8)
    assert "U+0000" in d.message


def test_vertical_tab_named_at_its_place():
    d = only(b"name: x\nscope: Adult social care\x0band health\n")
    assert (d.code, d.location.line, d.location.column) == ("S75-CONTROL", 2, 25)
    assert "vertical tab U+000B" in d.message and "Word" in d.message


def test_all_problems_of_a_file_are_reported_once_each():
    raw = b"a: x\x0by\nb: \x0c\nc: 1\nc: 2\n\x0b\n"
    assert problems(raw) == [
        ("S75-CONTROL", 1, 5),
        ("S75-CONTROL", 2, 4),
        ("S75-DUPKEY", 4, 1),
        ("S75-CONTROL", 5, 1),
    ]


def test_many_control_characters_are_summarised():
    found = problems(b"a: '" + b"\x0b" * 100 + b"'\n")
    assert len(found) == 21
    assert found[0] == ("S75-CONTROL", 1, 5)


def test_file_over_2_mib_via_bytes():
    assert problems(b"a: " + b"x" * (3 * 1024 * 1024) + b"\n") == [("S75-SIZE", 1, 1)]


def test_file_over_2_mib_is_never_read(tmp_path):
    path = tmp_path / "big.yaml"
    with open(path, "wb") as handle:  # sparse: 50 MB on stat, nothing on disk
        handle.truncate(50 * 1024 * 1024)
    loaded, diagnostics = load_yaml_file(path, "big.yaml")
    assert loaded is None
    assert [(d.code, d.location.line) for d in diagnostics] == [("S75-SIZE", 1)]
    assert "50.0 MiB" in diagnostics[0].message


def test_3_mb_file_on_disk(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_bytes(b"a: " + b"x" * 3_000_000 + b"\n")
    assert [d.code for d in load_yaml_file(path, "big.yaml")[1]] == ["S75-SIZE"]


# --- agreement directories -------------------------------------------------


def make_agreement(root, schedules=None):
    root.mkdir(parents=True, exist_ok=True)
    (root / "agreement.yaml").write_bytes(b"name: Framework\n")
    if schedules is not None:
        (root / "schedules").mkdir()
        for name, raw in schedules.items():
            (root / "schedules" / name).write_bytes(raw)
    return root


def test_agreement_directory_loads_framework_and_sorted_schedules(tmp_path, monkeypatch):
    make_agreement(tmp_path / "agreements" / "x", {"b.yml": b"b: 1\n", "a.yaml": b"a: 1\n", "notes.txt": b"?"})
    monkeypatch.chdir(tmp_path)
    files, diagnostics = load_agreement(DirectorySource("agreements/x/"))
    assert diagnostics == []
    assert files.root_display == "agreements/x"
    assert files.framework.data == {"name": "Framework"}
    assert files.framework.display == "agreements/x/agreement.yaml"
    assert [s.display for s in files.schedules] == [
        "agreements/x/schedules/a.yaml",
        "agreements/x/schedules/b.yml",
    ]
    assert files.schedules[0].path.resolve() == tmp_path / "agreements" / "x" / "schedules" / "a.yaml"


def test_path_of_agreement_yaml_is_accepted(tmp_path, monkeypatch):
    make_agreement(tmp_path / "x")
    monkeypatch.chdir(tmp_path)
    files, diagnostics = load_agreement(DirectorySource("x/agreement.yaml"))
    assert diagnostics == [] and files.root_display == "x" and files.schedules == ()


def test_missing_schedules_directory_means_no_schedules(tmp_path):
    files, diagnostics = load_agreement(DirectorySource(make_agreement(tmp_path / "x"), "x"))
    assert diagnostics == [] and files.schedules == ()


def test_missing_directory(tmp_path):
    files, diagnostics = load_agreement(DirectorySource(tmp_path / "nope", "agreements/nope"))
    assert [(d.code, str(d.location)) for d in diagnostics] == [("S75-NOTFOUND", "agreements/nope:1:1")]
    assert "agreement.yaml" in diagnostics[0].hint and "schedules/" in diagnostics[0].hint
    assert files.framework is None and files.schedules == ()


def test_missing_directory_raises_load_error_from_the_source(tmp_path):
    with pytest.raises(LoadError) as caught:
        DirectorySource(tmp_path / "nope", "nope").read_framework()
    assert caught.value.diagnostics[0].code == "S75-NOTFOUND"


def test_missing_agreement_yaml(tmp_path):
    (tmp_path / "x").mkdir()
    _, diagnostics = load_agreement(DirectorySource(tmp_path / "x", "x"))
    assert [(d.code, d.location.file) for d in diagnostics] == [("S75-NOTFOUND", "x/agreement.yaml")]


def test_symlinked_schedule_is_refused(tmp_path):
    outside = tmp_path / "secret.yaml"
    outside.write_bytes(b"a: 1\n")
    root = make_agreement(tmp_path / "x", {"good.yaml": b"g: 1\n"})
    (root / "schedules" / "link.yaml").symlink_to(outside)
    files, diagnostics = load_agreement(DirectorySource(root, "x"))
    assert [(d.code, str(d.location)) for d in diagnostics] == [("S75-PATH", "x/schedules/link.yaml:1:1")]
    assert [s.display for s in files.schedules] == ["x/schedules/good.yaml"]


def test_schedules_directory_outside_the_agreement_is_refused(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "a.yaml").write_bytes(b"a: 1\n")
    root = make_agreement(tmp_path / "x")
    (root / "schedules").symlink_to(elsewhere)
    _, diagnostics = load_agreement(DirectorySource(root, "x"))
    assert [(d.code, d.location.file) for d in diagnostics] == [("S75-PATH", "x/schedules")]


def test_directory_named_like_a_schedule(tmp_path):
    root = make_agreement(tmp_path / "x", {})
    (root / "schedules" / "odd.yaml").mkdir()
    _, diagnostics = load_agreement(DirectorySource(root, "x"))
    assert [(d.code, d.location.file) for d in diagnostics] == [("S75-PATH", "x/schedules/odd.yaml")]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can read anything")
def test_unreadable_schedule(tmp_path):
    root = make_agreement(tmp_path / "x", {"a.yaml": b"a: 1\n"})
    (root / "schedules" / "a.yaml").chmod(0)
    _, diagnostics = load_agreement(DirectorySource(root, "x"))
    assert [(d.code, d.location.file) for d in diagnostics] == [("S75-READ", "x/schedules/a.yaml")]


def test_problems_of_all_files_are_collected(tmp_path):
    root = make_agreement(tmp_path / "x", {"a.yaml": b"a: 1\na: 2\n", "b.yaml": b"", "c.yaml": b"c: 1\n"})
    (root / "agreement.yaml").write_bytes(b"x: &y 1\n")
    files, diagnostics = load_agreement(DirectorySource(root, "x"))
    assert [(d.code, str(d.location)) for d in diagnostics] == [
        ("S75-ALIAS", "x/agreement.yaml:1:4"),
        ("S75-DUPKEY", "x/schedules/a.yaml:2:1"),
        ("S75-EMPTY", "x/schedules/b.yaml:1:1"),
    ]
    assert files.framework is None
    assert [s.display for s in files.schedules] == ["x/schedules/c.yaml"]


# --- nothing raises --------------------------------------------------------

YAML_PIECES = list("ab1.: -[]{},#&*!|>?'\"\n\t\\%@`~0x") + ["\x0b", "\ufeff", "é", "---", "  ", "key: ", "- "]
YAMLISH = st.lists(st.sampled_from(YAML_PIECES), max_size=80).map("".join)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_raise(raw):
    loaded, diagnostics = load_yaml_bytes(raw, NAME)
    assert (loaded is None) == bool(diagnostics)
    assert all(d.code in CODES and d.location.line >= 1 and d.location.column >= 1 for d in diagnostics)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=300), YAMLISH))
def test_arbitrary_text_never_raises(text):
    loaded, diagnostics = load_yaml_bytes(text.encode("utf-8", "surrogatepass"), NAME)
    assert (loaded is None) == bool(diagnostics)
    assert len(diagnostics) == len(set(diagnostics))


# --- files loaded again, unchanged, in one process ------------------------------------


def test_the_same_bytes_are_loaded_once_and_changed_bytes_again():
    """Repeated builds take an unchanged file's data from the last load; a changed file is read afresh."""
    raw = b"key: bcf\ntitle: Better Care Fund\n"
    first, again = load(raw), load(raw)
    assert again.data is first.data and again.digest == first.digest != b""
    changed = load(raw.replace(b"Better", b"Improved"))
    assert changed.data["title"] == "Improved Care Fund" and changed.digest != first.digest
    elsewhere, _ = load_yaml_bytes(raw, "agreements/y/schedules/bcf.yaml")
    assert elsewhere.source.locate(("title",)) == Location("agreements/y/schedules/bcf.yaml", 2, 8)


def test_the_findings_of_a_file_loaded_again_are_a_fresh_list():
    raw = b"a: 1\na: 2\n"
    _, findings = load_yaml_bytes(raw, NAME)
    findings.clear()  # a caller adding to or emptying its list must not change the next load's
    assert [d.code for d in load_yaml_bytes(raw, NAME)[1]] == ["S75-DUPKEY"]
