"""The schemas are the commissioner's help text: every field has a title and a description,
and every example file points its editor at the right schema."""

from __future__ import annotations

import re

import pytest

from assembler.check.schema import _resolve, load_schema
from conftest import EXAMPLES


def _fields(schema, path=""):
    schema = _resolve(schema)
    for name, sub in schema.get("properties", {}).items():
        resolved = _resolve(sub)
        yield f"{path}{name}", resolved
        yield from _fields(resolved, f"{path}{name}.")
        items = _resolve(resolved.get("items", {}))
        yield from _fields(items, f"{path}{name}[].")


@pytest.mark.parametrize("which", ["framework", "schedule"])
def test_every_field_has_a_title_and_a_description(which):
    schema = load_schema(which)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    bare = [name for name, sub in _fields(schema) if not (sub.get("title") and sub.get("description"))]
    assert not bare, f"fields without help text: {bare}"


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_every_example_file_names_its_schema(example):
    for path in [example / "agreement.yaml", *sorted((example / "schedules").glob("*.yaml"))]:
        first = path.read_text(encoding="utf-8").splitlines()[0]
        match = re.fullmatch(r"# yaml-language-server: \$schema=(\S+)", first)
        assert match, f"{path}: first line must point at the schema"
        target = (path.parent / match.group(1)).resolve()
        expected = "framework.schema.json" if path.name == "agreement.yaml" else "schedule.schema.json"
        assert target.name == expected and target.is_file(), f"{path}: {match.group(1)}"


def test_hints_come_from_the_type_for_a_bad_value_and_from_the_field_for_a_missing_key(tmp_path):
    """A bad value's hint is its type's help (``text``); a missing key's hint is the field's own description."""
    import shutil

    from assembler.source.folder import DirectorySource
    from assembler.check.validate import validate_source
    from conftest import BASE, edit

    root = tmp_path / "agreement"
    shutil.copytree(BASE, root)
    text_help = load_schema("common")["$defs"]["text"]["description"]
    title_help = _resolve(load_schema("framework")["properties"]["title"])["description"]
    assert text_help != title_help
    edit(root / "agreement.yaml", "\ntitle: Northbridge Health and Care Partnership Agreement\n", "\ntitle: [a list]\n")
    found = {d.code: d.hint for d in validate_source(DirectorySource(str(root))).diagnostics}
    assert found["S75-TYPE"] == text_help
    edit(root / "agreement.yaml", "\ntitle: [a list]\n", "\n")
    found = {d.code: d.hint for d in validate_source(DirectorySource(str(root))).diagnostics}
    assert found["S75-REQUIRED"] == f"add title: — {title_help}"
