#!/usr/bin/env python3
"""Fuzz load -> validate -> build with random documents and mutated example agreements.

    python scripts/fuzz.py                    # 2,000 examples
    python scripts/fuzz.py --examples 20000 --seed 7 --timeout 20
    python scripts/fuzz.py --minutes 30

Each example starts from one of the example agreements (agreements/*,
tests/cases/base and the valid cases laid over it) and applies one to three
mutations: delete a key or list item, change a value's type, swap two
values, duplicate a schedule, damage the text (delete, repeat or swap lines,
insert odd characters, truncate), replace a file with a random document,
put a huge or oddly written number where one was, or hide Unicode direction
and format characters (raw or as escapes) in a value. The result goes
through the loader, the validator and, when it validates, the assembler and
the Word writer. One example in seven is instead a .docx s75 built with one
part made hostile (list numbers of 10**12, non-numeric levels, entities,
300,000-deep nesting, random bytes, a zip bomb's recorded size, the package
cut short), given to textconv and the package checks.

The only exception allowed to escape is the project's own S75Error, and
every agreement that validates must build. The report counts the examples
run, the agreements that validated and built, the tracebacks (other
exceptions, and valid agreements that did not build) and the hangs (an
example running longer than --timeout seconds). Exit 0 only when there are
no tracebacks and no hangs.

tests/test_fuzz.py drives the same functions with hypothesis for a bounded
run in CI.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import random
import re
import signal
import sys
import time
import traceback
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from assembler.diagnostics import S75Error  # noqa: E402

Files = dict  # relative path ("agreement.yaml", "schedules/x.yaml") -> bytes

ODD_TEXT = ["\t", "\x00", "\x0b", "\x0c", "\u00a0", "\ufeff", "\u200f", "\u202e", "😀",
            "&", "&amp;", "<w:p>", "]]>", "{{ 7*7 }}", "{% if x %}", "[[Agreement]]", "<<termination>>",
            "[__blank__]", "*", "&anchor ", "!!python/object:os.system ", "? ", "- ", ": ", " #", "'", '"',
            "\\", "|", ">", "---\n", "...\n", "%YAML 1.1\n", "\r", "\r\n", "\u2028", "\x85", "1.10", "NO",
            "0x1F", "1e3", "2017-13-45", "tbc", "~", "null", "-.inf", "12:30", "0777", "x" * 500]


# --- the seed corpus ---------------------------------------------------------------


def read_agreement(folder: Path) -> Files:
    files = {"agreement.yaml": (folder / "agreement.yaml").read_bytes()}
    for path in sorted((folder / "schedules").glob("*.y*ml")) if (folder / "schedules").is_dir() else []:
        files[f"schedules/{path.name}"] = path.read_bytes()
    return files


def seed_corpus() -> list[Files]:
    """Every example agreement, the test base and each valid case laid over the base."""
    seeds = [read_agreement(p) for p in sorted((ROOT / "agreements").iterdir()) if (p / "agreement.yaml").is_file()]
    base_dir = ROOT / "tests" / "cases" / "base"
    base = read_agreement(base_dir)
    seeds.append(base)
    valid = ROOT / "tests" / "cases" / "valid"
    for case in sorted(valid.iterdir()) if valid.is_dir() else []:
        files = dict(base)
        for path in sorted(case.rglob("*")):
            rel = path.relative_to(case).as_posix()
            if path.is_file() and rel not in ("expect.yaml", "DELETE"):
                files[rel] = path.read_bytes()
        delete = case / "DELETE"
        if delete.exists():
            for rel in delete.read_text(encoding="utf-8").split():
                files.pop(rel, None)
        seeds.append(files)
    return seeds


# --- an agreement held in memory ---------------------------------------------------


class MemorySource:
    """An AgreementSource over a dict of files, so an example never touches the disk."""

    def __init__(self, files: Files, display: str = "fuzz"):
        self.files = files
        self.display = display

    def read_framework(self) -> bytes:
        from assembler.source.folder import load_error

        if "agreement.yaml" not in self.files:
            raise load_error(f"{self.display}/agreement.yaml", "S75-NOTFOUND", "agreement.yaml is missing")
        return self.files["agreement.yaml"]

    def list_schedules(self) -> list[str]:
        return sorted(name.split("/", 1)[1] for name in self.files if name.startswith("schedules/"))

    def read_schedule(self, name: str) -> bytes:
        return self.files[f"schedules/{name}"]


# --- mutations -----------------------------------------------------------------------


def _paths(node, prefix=()):
    """Every path into a plain YAML value (the root excluded)."""
    out = []
    stack = [(node, prefix)]
    while stack:
        value, path = stack.pop()
        items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        for key, child in items:
            out.append(path + (key,))
            stack.append((child, path + (key,)))
    return out


def _get(node, path):
    for key in path:
        node = node[key]
    return node


def random_scalar(rng: random.Random):
    choice = rng.randrange(12)
    if choice == 0:
        return rng.randint(-10**12, 10**12)
    if choice == 1:
        return rng.choice([0, 1, 2, 10, 1500000, -1, 10**30])
    if choice == 2:
        return rng.random() * rng.choice([1, 1000, 1e9])
    if choice == 3:
        return rng.choice([True, False])
    if choice == 4:
        return None
    if choice == 5:
        return rng.choice(["council", "ccg", "trust", "icb", "board", "pooled_fund", "lead_commissioning",
                           "integrated_provision", "aligned_budget", "scheme", "s256", "revenue", "capital",
                           "draft", "final", "tbc", "annual", "monthly", "own_overspend", "common_seal"])
    if choice == 6:
        return rng.choice(["2017-04-01", "2022-07-01", "2017-18", "2030-31", "1999-02-29", "2017-04-31", "2019-20"])
    if choice == 7:
        return "".join(rng.choice(ODD_TEXT) for _ in range(rng.randint(1, 4)))
    if choice == 8:
        return "".join(chr(rng.randint(32, 0x2FFF)) for _ in range(rng.randint(0, 20)))
    if choice == 9:
        return rng.choice(["1250000.50", "1.10", "NO", "0", "", " ", "1_000_000"])
    return "".join(rng.choice("abcdefghij klmnop-_") for _ in range(rng.randint(1, 30)))


def random_value(rng: random.Random, depth: int = 0):
    """A random plain YAML value: scalars, lists and mappings, a few levels deep."""
    kind = rng.randrange(6) if depth < 4 else 0
    if kind == 4:
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    if kind == 5:
        keys = ["key", "title", "kind", "parties", "partners", "lines", "contributions", "name", "type",
                "management", "host_partner", "commencement", "term", "status", "version", "aims", "2017-18"]
        return {rng.choice(keys) if rng.random() < 0.8 else str(random_scalar(rng)): random_value(rng, depth + 1)
                for _ in range(rng.randint(0, 5))}
    return random_scalar(rng)


def dump(data) -> bytes:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1000).encode("utf-8")


def _structural(rng: random.Random, files: Files) -> str:
    """Delete a key, change a type, swap two values, or duplicate a list item, in one file."""
    name = rng.choice(sorted(files))
    try:
        data = yaml.safe_load(files[name])
    except (yaml.YAMLError, ValueError):  # ValueError: PyYAML will not read a 5,000-digit number
        return _textual(rng, files)
    paths = _paths(data)
    if not paths:
        files[name] = dump(random_value(rng))
        return f"replace {name}"
    path = rng.choice(paths)
    parent, key = _get(data, path[:-1]), path[-1]
    op = rng.randrange(4)
    if op == 0:
        del parent[key]
        what = "delete"
    elif op == 1:
        parent[key] = random_value(rng, depth=2) if rng.random() < 0.3 else random_scalar(rng)
        what = "retype"
    elif op == 2:
        other = rng.choice(paths)
        try:
            a, b = _get(data, path), _get(data, other)
            other_parent = _get(data, other[:-1])
            if path[: len(other)] == other or other[: len(path)] == path:
                raise KeyError  # one contains the other
            parent[key], other_parent[other[-1]] = b, a
        except (KeyError, IndexError, TypeError):
            parent[key] = random_scalar(rng)
        what = "swap"
    else:
        if isinstance(parent, list):
            parent.insert(key, parent[key])
        else:
            parent[key] = [parent[key], parent[key]]
        what = "duplicate"
    files[name] = dump(data)
    return f"{what} {name}:{'/'.join(map(str, path))}"


def _duplicate_schedule(rng: random.Random, files: Files) -> str:
    schedules = sorted(n for n in files if n.startswith("schedules/"))
    if not schedules:
        return _structural(rng, files)
    name = rng.choice(schedules)
    new = name.replace(".y", f"-copy{rng.randint(1, 99)}.y", 1)
    raw = files[name]
    if rng.random() < 0.5:  # a copy with its own key: should be a valid extra schedule
        try:
            data = yaml.safe_load(raw)
            if isinstance(data, dict) and isinstance(data.get("key"), str):
                data["key"] = data["key"] + "-copy"
                raw = dump(data)
        except (yaml.YAMLError, ValueError):  # ValueError: PyYAML will not read a 5,000-digit number
            pass
    files[new] = raw
    return f"duplicate {name} as {new}"


def _textual(rng: random.Random, files: Files) -> str:
    """Damage the text of one file: lines deleted, repeated or swapped, odd characters, truncation."""
    name = rng.choice(sorted(files))
    text = files[name].decode("utf-8", "replace")
    lines = text.split("\n")
    op = rng.randrange(6)
    i = rng.randrange(len(lines))
    if op == 0:
        del lines[i]
    elif op == 1:
        lines.insert(i, lines[i])
    elif op == 2:
        j = rng.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
    elif op == 3:
        at = rng.randint(0, len(lines[i]))
        lines[i] = lines[i][:at] + rng.choice(ODD_TEXT) + lines[i][at:]
    elif op == 4:
        lines[i] = " " * rng.randint(0, 6) + lines[i].lstrip()
    else:
        text = text[: rng.randint(0, len(text))]
        files[name] = text.encode("utf-8", "surrogatepass")
        return f"truncate {name}"
    encoded = "\n".join(lines).encode("utf-8", "surrogatepass")
    if rng.random() < 0.05:
        encoded = rng.choice([b"\xef\xbb\xbf" + encoded, "\n".join(lines).encode("utf-16", "surrogatepass"),
                              encoded.replace(b"e", b"\xe9", 1)])
    files[name] = encoded
    return f"text op {op} on {name} line {i + 1}"


def _random_document(rng: random.Random, files: Files) -> str:
    if rng.random() < 0.5:
        files["agreement.yaml"] = dump(random_value(rng))
        return "random agreement.yaml"
    name = f"schedules/random{rng.randint(1, 9)}.yaml"
    files[name] = dump(random_value(rng))
    return f"random {name}"


HUGE_NUMBERS = ["1" * 29, "9" * 16, "999999999999999", "1000000000000000", "1" + "0" * 5000, "1" * 120,
                "'" + "1" * 29 + ".99'", "'999999999999999.99'", "'1000000000000000.00'", "1e999", "-1" + "0" * 40,
                "0x20B70", "1_000", "017", "'1\n'", '"1\n"', ".inf", "12345678901234567890123456789.5"]
UNICODE_CONTROLS = ["\u202e", "\u202d", "\u202a", "\u2066", "\u2067", "\u2068", "\u2069", "\u200b", "\u200c",
                    "\u200d", "\u200e", "\u200f", "\u2060", "\ufeff", "\u00ad", "\u061c", "\u180e", "\u034f",
                    "\U000e0001", "\u2028", "\u0085"]


def _huge_number(rng: random.Random, files: Files) -> str:
    """Put a huge, long or oddly written number where a number (usually money) was."""
    name = rng.choice(sorted(files))
    text = files[name].decode("utf-8", "replace")
    spots = [m for m in re.finditer(r"(?m)(:[ \t]+)(-?[0-9][0-9.]*)[ \t]*$", text)]
    if not spots:
        return _textual(rng, files)
    spot = rng.choice(spots)
    value = rng.choice(HUGE_NUMBERS)
    files[name] = (text[:spot.start(2)] + value + text[spot.end(2):]).encode("utf-8")
    return f"huge number {value[:20]!r} in {name}"


def _unicode_control(rng: random.Random, files: Files) -> str:
    """Put invisible direction or format characters (raw or as a YAML escape) into a name or text value."""
    name = rng.choice(sorted(files))
    text = files[name].decode("utf-8", "replace")
    spots = [m for m in re.finditer(r"(?m)^([ \t-]*[A-Za-z_]+:[ \t]+)([A-Za-z][^\n#:]*)$", text)]
    if not spots:
        return _textual(rng, files)
    spot = rng.choice(spots)
    value = spot.group(2)
    chars = "".join(rng.choice(UNICODE_CONTROLS) for _ in range(rng.randint(1, 3)))
    at = rng.randint(0, len(value))
    if rng.random() < 0.5:  # as escapes inside double quotes, the way a hostile file hides them
        escapes = "".join(f"\\U{ord(c):08x}" for c in chars) if rng.random() < 0.9 else "\\U00110000"
        new = '"' + value[:at].replace('"', "'").replace("\\", "/") + escapes + value[at:].replace('"', "'").replace("\\", "/") + '"'
    else:
        new = value[:at] + chars + value[at:]
    files[name] = (text[:spot.start(2)] + new + text[spot.end(2):]).encode("utf-8", "surrogatepass")
    return f"unicode controls {chars!r} in {name}"


MUTATIONS = [(_structural, 6), (_textual, 3), (_duplicate_schedule, 1), (_random_document, 1), (_huge_number, 2),
             (_unicode_control, 2)]


# --- hostile .docx parts (for textconv, verify and a build over an existing file) ----------

DOCX_PARTS = ["word/document.xml", "word/numbering.xml", "word/styles.xml", "docProps/core.xml"]


def hostile_docx(rng: random.Random, base: bytes) -> tuple[bytes, str]:
    """``base`` (a .docx s75 built) with one part made hostile: huge list numbers, bad levels, a
    zip bomb's recorded size, entities, deep nesting, random bytes, or the package cut short."""
    op = rng.randrange(8)
    if op == 7:
        return base[: rng.randint(0, len(base))], "truncated package"
    out = io.BytesIO()
    part = rng.choice(DOCX_PARTS)
    with zipfile.ZipFile(io.BytesIO(base)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            blob = src.read(info.filename)
            if info.filename == part:
                blob = _hostile_part(rng, op, blob)
            dst.writestr(info, blob)
    data = out.getvalue()
    if op == 6:  # a zip bomb's recorded size: claim the part unpacks to gigabytes
        cd = data.rfind(b"PK\x01\x02")
        data = data[: cd + 24] + (0xFFFFFFF0).to_bytes(4, "little") + data[cd + 28:]
    return data, f"op {op} on {part}"


def _hostile_part(rng: random.Random, op: int, blob: bytes) -> bytes:
    if op == 0:
        value = rng.choice([b"100000000", b"1000000000000", b"-7", b"x", b"99999999999999999999999", b""])
        return re.sub(rb'(w:(?:start|startOverride) w:val=")[^"]*', rb"\g<1>" + value, blob)
    if op == 1:
        value = rng.choice([b"one", b"-1", b"9", b"99999999999", b"", b"1.5"])
        return re.sub(rb'(w:ilvl(?: w:val)?=")[^"]*', rb"\g<1>" + value, blob)
    if op == 2:
        return (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
                + blob.split(b"?>", 1)[-1].replace(b"<w:t>", b"<w:t>&b;", 5))
    if op == 3:
        depth = rng.choice([100, 10_000, 300_000])
        return blob.replace(b"</w:body>", b"<w:p>" * depth + b"</w:p>" * depth + b"</w:body>", 1)
    if op == 4:
        at = rng.randint(0, len(blob))
        return blob[:at] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 50))) + blob[at:]
    if op == 5:
        return re.sub(rb'w:numFmt w:val="[^"]*"', rb'w:numFmt w:val="' +
                      rng.choice([b"upperRoman", b"lowerLetter", b"bullet", b"none", b"x"]) + b'"', blob)
    return blob


def check_docx(data: bytes) -> str:
    """textconv and the package checks on a hostile .docx: S75Error is the only failure allowed."""
    from assembler.word.read import open_package, textconv

    try:
        text = textconv(data, "<fuzz.docx>")
        open_package(data).close()
    except S75Error:
        return "invalid"
    if len(text) > 50 * len(data) + 1_000_000:
        raise AssertionError(f"textconv printed {len(text):,} characters for a {len(data):,}-byte document")
    return "read"


def mutate(rng: random.Random, files: Files, count: int | None = None) -> tuple[Files, list[str]]:
    """A mutated copy of ``files`` and a description of each mutation."""
    files = dict(files)
    steps = []
    functions, weights = zip(*MUTATIONS)
    for _ in range(count or rng.randint(1, 3)):
        steps.append(rng.choices(functions, weights)[0](rng, files))
    return files, steps


# --- running one example ----------------------------------------------------------


class Hang(Exception):
    """An example ran longer than its time limit."""


class ValidButUnbuildable(Exception):
    """An agreement validated without errors but could not be built."""


@contextlib.contextmanager
def time_limit(seconds: float):
    """Raise Hang after ``seconds`` (POSIX main thread only; a no-op elsewhere)."""
    if seconds <= 0 or not hasattr(signal, "setitimer"):
        yield
        return

    def _alarm(signum, frame):
        raise Hang(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def check(files: Files, library=None, build: bool = True) -> str:
    """Load, validate and (if valid) build; return "invalid" or "built".

    S75Error from validation is fine; any other exception propagates. A
    valid agreement that fails to build raises ValidButUnbuildable.
    """
    from assembler.check.validate import validate_source

    source = MemorySource(files)
    try:
        validation = validate_source(source)
    except S75Error:
        return "invalid"
    for diagnostic in validation.diagnostics:
        text = diagnostic.format()
        if len(text.splitlines()) != 1:
            raise AssertionError(f"a finding spans several lines: {text!r}")
    if validation.agreement is None or validation.errors or not build:
        return "invalid"
    from assembler.engine.assemble import assemble
    from assembler.engine.text import render_text
    from assembler.word.writer import render_docx_bytes

    try:
        document, _ = assemble(validation.agreement, library=library)
    except S75Error as exc:
        raise ValidButUnbuildable("; ".join(d.format() for d in exc.diagnostics)) from exc
    render_text(document)
    render_docx_bytes(document)
    return "built"


def pick_library():
    """The real clause library if it loads, else the small test library (with a note why)."""
    from assembler.engine.library import default_library, load_library

    try:
        return default_library(), "clauses/"
    except S75Error as exc:
        note = f"tests/fixtures/library (clauses/ does not load: {exc.diagnostics[0].message})"
        return load_library(ROOT / "tests" / "fixtures" / "library"), note


DOCX_SHARE = 0.15  # of examples that are a hostile .docx rather than a mutated agreement


def built_seed(corpus: list[Files], library) -> bytes:
    """A .docx s75 builds from the first seed agreement that builds (the hostile .docx family's base)."""
    from assembler.check.validate import validate_source
    from assembler.engine.assemble import assemble
    from assembler.word.writer import render_docx_bytes

    for files in corpus:
        validation = validate_source(MemorySource(files))
        if validation.agreement is not None and not validation.errors:
            return render_docx_bytes(assemble(validation.agreement, library=library)[0])
    raise SystemExit("fuzz: no seed agreement builds")


# --- the long run ---------------------------------------------------------------------


@dataclass
class Report:
    examples: int = 0
    built: int = 0
    invalid: int = 0
    docx: int = 0  # hostile .docx read without error (refused ones count as invalid)
    tracebacks: dict = field(default_factory=dict)  # signature -> (count, first steps, text)
    hangs: list = field(default_factory=list)

    def add_traceback(self, exc: BaseException, steps: list[str]) -> None:
        frames = traceback.extract_tb(exc.__traceback__)
        where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"
        signature = f"{type(exc).__name__} at {where}"
        count, first, text = self.tracebacks.get(signature, (0, steps, ""))
        if not text:
            text = "".join(traceback.format_exception(exc))
        self.tracebacks[signature] = (count + 1, first, text)


def run(examples: int, seconds: float, seed: int, timeout: float, out=sys.stdout) -> Report:
    library, library_note = pick_library()
    corpus = seed_corpus()
    rng = random.Random(seed)
    report = Report()
    started = time.monotonic()
    print(f"fuzzing with seed {seed}, {len(corpus)} seed agreements, library {library_note}", file=out)
    docx_seed = None
    while report.examples < examples and (seconds <= 0 or time.monotonic() - started < seconds):
        report.examples += 1
        as_docx = rng.random() < DOCX_SHARE
        if as_docx:
            if docx_seed is None:
                docx_seed = built_seed(corpus, library)
            data, step = hostile_docx(rng, docx_seed)
            steps = [f"hostile docx: {step}"]
        else:
            files, steps = mutate(rng, rng.choice(corpus))
        try:
            with time_limit(timeout):
                outcome = check_docx(data) if as_docx else check(files, library)
        except Hang:
            report.hangs.append(steps)
            continue
        except Exception as exc:  # noqa: BLE001 - counting them is the point
            report.add_traceback(exc, steps)
            continue
        if outcome == "built":
            report.built += 1
        elif outcome == "read":
            report.docx += 1
        else:
            report.invalid += 1
        if report.examples % 500 == 0:
            print(f"  {report.examples} examples, {report.built} built, "
                  f"{sum(c for c, _, _ in report.tracebacks.values())} tracebacks, {len(report.hangs)} hangs", file=out)
    elapsed = time.monotonic() - started
    tracebacks = sum(count for count, _, _ in report.tracebacks.values())
    print(f"examples run: {report.examples} in {elapsed:.0f} s ({report.built} valid and built, "
          f"{report.docx} hostile .docx read, {report.invalid} refused with findings)", file=out)
    print(f"tracebacks: {tracebacks} ({len(report.tracebacks)} distinct)", file=out)
    print(f"hangs (over {timeout:g} s): {len(report.hangs)}", file=out)
    for signature, (count, steps, text) in sorted(report.tracebacks.items()):
        print(f"\n--- {signature}: {count} time(s); first after: {'; '.join(steps)}\n{text}", file=out)
    for steps in report.hangs[:10]:
        print(f"\n--- hang after: {'; '.join(steps)}", file=out)
    return report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=2000, help="how many examples to run (default 2000)")
    parser.add_argument("--minutes", type=float, default=0, help="stop after this long instead (0: no limit)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: from the clock)")
    parser.add_argument("--timeout", type=float, default=30, help="seconds before one example counts as a hang")
    args = parser.parse_args(argv)
    examples = args.examples if not args.minutes else 10**12
    seed = args.seed if args.seed is not None else int(time.time())
    report = run(examples, args.minutes * 60, seed, args.timeout)
    return 1 if report.tracebacks or report.hangs else 0


if __name__ == "__main__":
    sys.exit(main())
