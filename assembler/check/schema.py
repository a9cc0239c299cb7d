"""Shape checks: the JSON Schemas, with their errors put in a commissioner's words.

Shape (types, required keys, enums, patterns, unknown keys) is checked here
and only here. Each jsonschema error becomes one Diagnostic pointing at the
YAML line, with a hint where one helps ("Did you mean 'icb'?", "put 1.10 in
quotes").
"""

from __future__ import annotations

import copy
import difflib
import json
import re
from dataclasses import dataclass, replace
from functools import lru_cache

from jsonschema import Draft202012Validator, FormatChecker, validators
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource

from assembler.recent import Recent
from assembler.diagnostics import ERROR, Diagnostic
from assembler.source.yamlfile import YamlFile, odd_number_words
from assembler.resources import schemas_dir

SCHEMA_FILES = {
    "framework": "framework.schema.json",
    "schedule": "schedule.schema.json",
}
_COMMON = "common.schema.json"


@lru_cache(maxsize=None)
def load_schema(name: str) -> dict:
    """The parsed JSON Schema ``framework``, ``schedule`` or ``common``."""
    filename = SCHEMA_FILES.get(name, f"{name}.schema.json")
    return json.loads((schemas_dir() / filename).read_text(encoding="utf-8"))


def _ecma_pattern(validator, pattern: str, instance, schema):
    """``pattern`` as JSON Schema (ECMA-262) means it: ``$`` is the end of the text.

    Python's ``$`` also matches before a final line break, so 'bcf\\n' passed
    the key pattern here while editors refused it.
    """
    if isinstance(instance, str) and not _ecma(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


@lru_cache(maxsize=256)
def _ecma(pattern: str) -> re.Pattern:
    return re.compile(re.sub(r"(?<!\\)\$", r"\\Z", pattern))


# JSON Schema counts 1500000.0 as an integer; for money that would let an
# inexact YAML float through, so only true integers are integers here.
_StrictIntegers = validators.extend(
    Draft202012Validator,
    validators={"pattern": _ecma_pattern},
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _, value: isinstance(value, int) and not isinstance(value, bool)),
)


@lru_cache(maxsize=None)
def inlined_schema(name: str) -> dict:
    """The schema ``name`` with every $ref replaced by what it names (see _inline_refs)."""
    return _inline_refs(load_schema(name), load_schema(name))


@lru_cache(maxsize=None)
def _validator(name: str):
    registry = Registry().with_resource(_COMMON, Resource.from_contents(load_schema("common")))
    schema = inlined_schema(name)
    return _StrictIntegers(schema, registry=registry, format_checker=FormatChecker())


_VALUE_HELP = "x-s75-value-help"  # not a JSON Schema keyword: jsonschema ignores it


def _value_help(schema) -> str:
    """The help for a value that is wrong in itself (type, empty, other): its type's, if it has one."""
    if not isinstance(schema, dict):
        return ""
    return schema.get(_VALUE_HELP, schema.get("description", ""))


def _inline_refs(node, doc: dict, seen: tuple[str, ...] = ()):
    """``node`` with each $ref replaced by its target, as _resolve merges them.

    Validation then never looks a reference up: jsonschema resolving them
    on every use was a third of the time spent checking shape. A reference
    that leads back to itself is left for jsonschema to follow.
    """
    if isinstance(node, list):
        return [_inline_refs(item, doc, seen) for item in node]
    if not isinstance(node, dict):
        return node
    followed = _follow(node["$ref"], doc) if isinstance(node.get("$ref"), str) and node["$ref"] not in seen else None
    if followed is not None:
        found, target_doc = followed
        merged = _merged(node, found)
        if "description" in found:  # what a value's own error shows, as when jsonschema followed the $ref
            merged[_VALUE_HELP] = found["description"]
        return _inline_refs(merged, target_doc, seen + (node["$ref"],))
    return {key: _inline_refs(value, doc, seen) for key, value in node.items()}


def _follow(ref: str, doc: dict | None = None) -> tuple[dict, dict] | None:
    """(the schema ``ref`` names, the document holding it): in common.schema.json or, for
    "#/...", in ``doc``; None for anything else."""
    target, _, pointer = ref.partition("#")
    target_doc = load_schema("common") if target == _COMMON else doc if not target else None
    if target_doc is None:
        return None
    found = target_doc
    for part in filter(None, pointer.split("/")):
        found = found[part]
    return found, target_doc


def _merged(node: dict, found: dict) -> dict:
    """A $ref's target with the referring node's own keywords (title, description) over it."""
    merged = dict(found)
    merged.update({k: v for k, v in node.items() if k != "$ref"})
    return merged


def human_path(path) -> str:
    """("parties", 0, "kind") -> "parties[1].kind" (1-based for people)."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part + 1}]"
        else:
            text += ("." if text else "") + str(part)
    return text or "(top level)"


MAX_PER_CODE = 20  # shape findings of one code listed per file; the rest are counted in one line
MAX_EXPLAINED = 500  # schema errors put into words per file; further ones are only counted


def check_shape(doc: YamlFile, schema_name: str) -> list[Diagnostic]:
    """Every shape problem in one file, each located and explained."""
    return list(shape(doc, schema_name).findings)


@dataclass(frozen=True)
class Shape:
    """A file's shape findings, and the data the rules may still read.

    ``usable`` is the file itself when its shape is right; when the only
    problems are amounts of money that are not amounts and unknown keys, it is
    a copy with those amounts read as tbc and those keys left out, so that a
    bad amount does not hide a bad party name on the same line (each mistake
    is reported in the same run). ``stand_ins`` are the paths read as tbc: a
    later finding there is about the stand-in, not the file. Otherwise None.
    """

    findings: list[Diagnostic]
    usable: YamlFile | None
    stand_ins: tuple[tuple, ...] = ()


_RECENT = Recent(256)  # shapes of recently loaded files (see Recent)


def shape(doc: YamlFile, schema_name: str) -> Shape:
    """The file's shape findings, one per mistake, and what the rules may read (see Shape).

    A file loaded from the same bytes as a recent one (same digest, name and
    path) has the same shape: it is checked once.
    """
    if not doc.digest:
        return _shape(doc, schema_name)
    return _RECENT.get((doc.digest, doc.display, doc.path, schema_name), lambda: _shape(doc, schema_name))


def _shape(doc: YamlFile, schema_name: str) -> Shape:
    errors = list(_validator(schema_name).iter_errors(doc.data))
    odd = doc.source.odd_numbers
    formats = {tuple(e.absolute_path) for e in errors if e.validator == "format"}
    findings = [_diag(doc, path, "S75-NUMBER", *odd_number_words(doc.source.raw(path)[0], how, plain))
                for path, (how, plain) in odd.items()]
    explained = unexplained = 0
    for error in errors:
        path = tuple(error.absolute_path)
        if path in odd or (error.validator == "pattern" and path in formats):
            continue  # said already: an odd number by S75-NUMBER, a malformed date by its format
        if explained >= MAX_EXPLAINED:
            unexplained += 1
            continue
        explained += 1
        findings.extend(_explain(error, doc))
    findings = _capped(doc, findings, unexplained)
    if not errors:
        return Shape(findings, doc)
    repaired = _repaired(doc.data, errors)
    if repaired is None or any(True for _ in _validator(schema_name).iter_errors(repaired[0])):
        return Shape(findings, None)
    return Shape(findings, replace(doc, data=repaired[0]), repaired[1])


def _repaired(data, errors) -> tuple[object, tuple[tuple, ...]] | None:
    """A copy of ``data`` with bad amounts read as tbc and unknown keys left out; None if
    another kind of problem means the rules cannot read the file."""
    data = copy.deepcopy(data)
    stand_ins = []
    for error in errors:
        path = tuple(error.absolute_path)
        schema = _resolve(error.schema)
        if error.validator == "anyOf" and _is_money(schema) and path:
            parent = _at_path(data, path[:-1])
            parent[path[-1]] = "tbc"
            stand_ins.append(path)
        elif error.validator == "additionalProperties" and isinstance(error.instance, dict):
            node = _at_path(data, path)
            for key in [k for k in node if k not in schema.get("properties", {})]:
                del node[key]
        else:
            return None
    return data, tuple(stand_ins)


def _at_path(data, path):
    for part in path:
        data = data[part]
    return data


def _capped(doc: YamlFile, findings: list[Diagnostic], unexplained: int) -> list[Diagnostic]:
    """At most MAX_PER_CODE findings of each code, then one line counting the rest.

    A file of 100,000 wrong list items once printed 190,000 lines (78 MB);
    the first few of each kind say what to fix, and a count says how much is left.
    """
    kept: list[Diagnostic] = []
    hidden: dict[str, tuple[int, Diagnostic]] = {}
    counts: dict[str, int] = {}
    for finding in findings:
        counts[finding.code] = counts.get(finding.code, 0) + 1
        if counts[finding.code] <= MAX_PER_CODE:
            kept.append(finding)
        else:
            count, first = hidden.get(finding.code, (0, finding))
            hidden[finding.code] = (count + 1, first)
    for count, first in hidden.values():
        kept.append(replace(first, message=f"{count:,} more problem(s) with this code from here on are not listed",
                            hint="fix the ones listed and run again"))
    if unexplained:
        kept.append(Diagnostic(doc.source.locate(()), ERROR, "S75-SCHEMA",
                               f"{unexplained:,} further shape problem(s) in this file are not listed",
                               "fix the ones listed and run again"))
    return kept


# --- turning jsonschema errors into diagnostics --------------------------


def _is_money(schema: dict) -> bool:
    return isinstance(schema, dict) and any(
        isinstance(s, dict) and s.get("const") == "tbc" for s in schema.get("anyOf", [])
    )


def _is_percentage(schema: dict) -> bool:
    return _is_money(schema) and schema.get("title") == "Percentage"


def property_names(name: str) -> set[str]:
    """Every property name anywhere in the schema ``name``: the fields its YAML may carry."""
    return _properties(load_schema(name))


def _properties(schema) -> set[str]:
    schema = _resolve(schema)
    names = set(schema.get("properties", {}))
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            names |= _properties(schema[key])
    for sub in list(schema.get("properties", {}).values()) + schema.get("anyOf", []) + schema.get("oneOf", []):
        names |= _properties(sub)
    return names


def _resolve(schema):
    """Follow a $ref into common.schema.json (one level is all we use)."""
    followed = _follow(schema["$ref"]) if isinstance(schema, dict) and "$ref" in schema else None
    return _merged(schema, followed[0]) if followed is not None else schema


def _diag(doc: YamlFile, path, code: str, message: str, hint: str = "", at_key: bool = False) -> Diagnostic:
    location = doc.source.key_location(tuple(path)) if at_key else doc.source.locate(tuple(path))
    return Diagnostic(location, ERROR, code, message, hint)



def _explain(error: ValidationError, doc: YamlFile) -> list[Diagnostic]:
    path = tuple(error.absolute_path)
    where = human_path(path)
    schema = _resolve(error.schema)
    kind = error.validator

    if kind == "required":
        missing = [k for k in error.validator_value if not isinstance(error.instance, dict) or k not in error.instance]
        out = []
        props = schema.get("properties", {}) if isinstance(schema, dict) else {}
        for key in missing:
            described = _resolve(props.get(key, {}))
            hint = described.get("description", "") if isinstance(described, dict) else ""
            label = f"{where}." if path else ""
            out.append(_diag(doc, path, "S75-REQUIRED", f"missing required key '{label}{key}'",
                             f"add {key}: — {hint}" if hint else f"add {key}:", at_key=True))
        return out

    if kind == "additionalProperties" and isinstance(error.instance, dict):
        known = sorted(schema.get("properties", {}))
        out = []
        for key in error.instance:
            if key in known:
                continue
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"Did you mean '{close[0]}'?" if close else f"allowed keys here: {', '.join(known)}"
            out.append(_diag(doc, path + (key,), "S75-UNKNOWN-KEY",
                             f"unknown key '{key}' in {where}", hint, at_key=True))
        return out

    if kind == "anyOf" and _is_percentage(schema):
        return [_percentage_error(doc, path, error.instance)]

    if kind == "anyOf" and _is_money(schema):
        return [_money_error(doc, path, error.instance)]

    if kind in ("anyOf", "oneOf"):
        return _explain_choice(error, doc, path, where, schema)

    if kind == "type":
        return [_type_error(doc, path, where, error)]

    if kind in ("enum", "const"):
        options = error.validator_value if kind == "enum" else [error.validator_value]
        close = difflib.get_close_matches(str(error.instance), [str(o) for o in options], n=1)
        hint = f"Did you mean '{close[0]}'?" if close else "choose one of: " + ", ".join(map(str, options))
        if isinstance(error.instance, bool) and any(isinstance(o, str) for o in options):
            hint = _quote_hint(doc, path) or hint
        return [_diag(doc, path, "S75-ENUM", f"{where}: {error.instance!r} is not one of {', '.join(map(str, options))}", hint)]

    if kind == "format":
        return [_diag(doc, path, "S75-FORMAT", f"{where}: {error.instance!r} is not a valid {error.validator_value}",
                      "write dates as YYYY-MM-DD, e.g. 2017-04-01, and check the day exists")]

    if kind == "pattern":
        return [_pattern_error(doc, path, where, error, schema)]

    if kind == "propertyNames":
        name = error.instance
        return [_diag(doc, path + (name,), "S75-PATTERN", f"{where}: key {name!r} is not allowed here",
                      _pattern_hint(_resolve(error.validator_value)), at_key=True)]

    if kind in ("minItems", "minLength", "minProperties"):
        return [_diag(doc, path, "S75-EMPTY-VALUE", f"{where} must not be empty", _value_help(schema))]

    if kind == "uniqueItems":
        return [_diag(doc, path, "S75-DUPLICATE", f"{where} lists the same item twice", "remove the repeated item")]

    return [_diag(doc, path, "S75-SCHEMA", f"{where}: {error.message}", _value_help(schema))]


def _quote_hint(doc: YamlFile, path) -> str:
    raw = doc.source.raw(tuple(path))
    if raw and raw[1] == "plain":
        return f"YAML reads {raw[0]} as {'true/false' if raw[0].lower() in _BOOL_WORDS else 'a number'}; write '{raw[0]}' in quotes"
    return ""


_BOOL_WORDS = {"true", "false"}  # YAML 1.2: only these (in any of three cases) are true/false
# What YAML 1.1 tools read as true/false and YAML 1.2, as s75 and editors read it, as text.
_OLD_BOOL_WORDS = {"yes", "no", "on", "off", "y", "n"}


def _type_error(doc: YamlFile, path, where: str, error: ValidationError) -> Diagnostic:
    expected = error.validator_value
    expected_list = expected if isinstance(expected, list) else [expected]
    value = error.instance
    if "string" in expected_list and isinstance(value, (bool, int, float)) and not isinstance(value, type(None)):
        hint = _quote_hint(doc, path)
        if hint:
            return _diag(doc, path, "S75-QUOTE", f"{where} must be text, but YAML read {value!r}", hint)
    if expected_list == ["boolean"] and isinstance(value, str) and value.lower() in _OLD_BOOL_WORDS:
        return _diag(doc, path, "S75-TYPE", f"{where} must be true or false, not the text {value!r}",
                     "write true or false: YAML reads yes, no, on and off as text")
    names = {"object": "a mapping of keys", "array": "a list", "string": "text", "integer": "a whole number",
             "boolean": "true or false", "number": "a number", "null": "empty"}
    wanted = " or ".join(names.get(t, t) for t in expected_list)
    return _diag(doc, path, "S75-TYPE", f"{where} must be {wanted}, not {_describe(value)}",
                 _value_help(_resolve(error.schema)))


def _describe(value) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return f"{value!r} (true/false)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    return f"{value!r}"


def _as_written(doc: YamlFile, path, value) -> str:
    """A number as the user typed it (YAML would show 1250000.5 for '1250000.50')."""
    raw = doc.source.raw(tuple(path))
    return raw[0] if raw else repr(value)


def _money_error(doc: YamlFile, path, value) -> Diagnostic:
    where = human_path(path)
    if isinstance(value, float):
        shown = _as_written(doc, path, value)
        return _diag(doc, path, "S75-FLOAT-MONEY", f"{where}: {shown} is a decimal number, which is not exact",
                     f"write whole pounds (1250000) or put pence in quotes: '{shown}'")
    if (isinstance(value, int) and not isinstance(value, bool) and value < 0) or (
            isinstance(value, str) and value.startswith("-") and value[1:].replace(".", "", 1).isdigit()):
        return _diag(doc, path, "S75-NEGATIVE", f"{where} is {value}: an amount of money cannot be negative",
                     "write the amount itself; a smaller contribution is written as the smaller figure, not as a deduction")
    if (isinstance(value, int) and not isinstance(value, bool) and value > 0) or (
            isinstance(value, str) and re.fullmatch(r"[0-9]+(\.[0-9]{1,2})?", value)):
        return _diag(doc, path, "S75-TYPE", f"{where} is more than the largest amount s75 accepts "
                     f"(£999,999,999,999,999.99)", "check the figure: it has more than fifteen digits of pounds")
    hint = "write whole pounds (1250000), a quoted amount with pence ('1250000.50') or tbc"
    if isinstance(value, str) and any(ch.isdigit() for ch in value) and any(ch in value for ch in ",:_ £"):
        hint = f"write the amount in plain digits, without commas, spaces, £ or ':' ({_digits(value)}); " + hint
    return _diag(doc, path, "S75-TYPE", f"{where}: {value!r} is not an amount of money", hint)


def _percentage_error(doc: YamlFile, path, value) -> Diagnostic:
    where = human_path(path)
    if isinstance(value, float):
        shown = _as_written(doc, path, value)
        return _diag(doc, path, "S75-TYPE", f"{where}: {shown} is an unquoted decimal, which is not exact",
                     f"write a whole number (40) or put the decimal in quotes: '{shown}'")
    return _diag(doc, path, "S75-TYPE", f"{where}: {value!r} is not a percentage from 0 to 100",
                 "write a whole number (40), a decimal in quotes with up to four places ('33.33'), or tbc")


def _digits(text: str) -> str:
    """``text`` with the separators people put in amounts taken out: '1,240,000' -> '1240000'."""
    return "".join(ch for ch in text if ch.isdigit() or ch == ".")


def _explain_choice(error, doc, path, where, schema) -> list[Diagnostic]:
    if isinstance(schema, dict) and all(set(s) == {"required"} for s in schema.get(error.validator, [])):
        options = [" and ".join(s["required"]) for s in schema[error.validator]]
        return [_diag(doc, path, "S75-REQUIRED", f"{where} needs exactly one of: {', '.join(options)}",
                      schema.get("description", ""), at_key=True)]
    best = best_match(error.context) if error.context else None
    if best is not None:
        return _explain(best, doc)
    return [_diag(doc, path, "S75-SCHEMA", f"{where}: {error.message}")]


def _pattern_hint(schema) -> str:
    pattern = schema.get("pattern", "") if isinstance(schema, dict) else ""
    if "[0-9]{4}-[0-9]{2}$" in pattern and "[0-9]{2}-" not in pattern.replace("{4}-[0-9]{2}$", ""):
        return "write a financial year as 2017-18"
    if "[0-9]{4}-[0-9]{2}-[0-9]{2}" in pattern:
        return "write dates as YYYY-MM-DD, e.g. 2017-04-01"
    if pattern.startswith("^[a-z]"):
        return "use a short lower-case key such as council or ccg: letters, digits, - and _"
    if "@" in pattern:
        return "write an email address such as name@example.nhs.uk"
    return schema.get("description", "") if isinstance(schema, dict) else ""


def _pattern_error(doc, path, where, error, schema) -> Diagnostic:
    return _diag(doc, path, "S75-PATTERN", f"{where}: {error.instance!r} is not in the expected form",
                 _pattern_hint(schema))
