#!/usr/bin/env python3
"""How fast is s75, stage by stage, against what the hardware and the file format allow?

Plain Python, no test framework. For every example agreement under
``agreements/`` and for synthetic agreements made from each (its schedules
copied, with distinct keys, to 1, 10, 20, 50 and 200 schedules) it reports:

- the median of ``--runs`` runs (at least 7) of each stage in one process:
  load, validate, plan and render, number and cross-reference, write;
- the total in-process build (``assembler.build.output.build``), warm;
- the floor: python-docx opening and saving the very document produced;
- peak memory (the child's VmHWM) and the time of one build in a fresh process;

then, end to end as users run it (start-up included), ``s75 --help``,
``s75 validate`` and ``s75 build`` as subprocesses, all examples built by one
``s75 build A B C`` against one process per agreement, and PDF conversion
of several documents in one LibreOffice process against one each.

It prints a table and writes JSON (``--json``, default
benchmarks/results/latest.json). Run from anywhere:

    python benchmarks/bench.py                 # everything, 7 runs
    python benchmarks/bench.py --quick         # 3 runs, sizes 1/20/200, no PDF
    python benchmarks/bench.py --only inproc   # or: cli, pdf

The numbers are wall-clock seconds from ``time.perf_counter``; peak memory
is the VmHWM of a fresh process that runs one build (Linux).
"""

from __future__ import annotations

import argparse
import copy
import gc
import io
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_SIZES = (1, 10, 20, 50, 200)
SERIES_SCHEDULES = (200, 800, 2000)  # --only series: schedules, one fresh process per build
SERIES_LINES = (1000, 4000, 10000)  # --only series: lines in one scheme
TARGETS = {
    "series_2000_over_200": 11.0,   # t(2000 schedules) / t(200 schedules): linear cost
    "series_10k_over_1k": 11.0,     # t(10,000 scheme lines) / t(1,000 scheme lines)
    "peak_mb_2000": 1024.0,         # peak memory building 2,000 schedules
    "build_over_floor": 3.0,        # in-process build of the largest example, x its open-and-save floor
    "help_s": 0.2,                  # s75 --help, wall
    "validate_s": 0.4,              # s75 validate of one agreement, wall
    "scaling_200_over_20": 11.0,    # t(200 schedules) / t(20 schedules)
    "peak_mb_200": 300.0,           # peak memory building 200 schedules
}


# --- helpers -------------------------------------------------------------------


def timed(fn, runs: int, setup=None) -> dict:
    """Median (and min, max) seconds of ``fn`` over ``runs`` runs; ``setup`` is untimed."""
    times = []
    for _ in range(runs):
        arg = setup() if setup is not None else None
        gc.collect()
        start = time.perf_counter()
        fn(arg) if setup is not None else fn()
        times.append(time.perf_counter() - start)
    return {"median": statistics.median(times), "min": min(times), "max": max(times), "runs": runs}


def timed_alternately(first, second, runs: int) -> tuple[dict, dict]:
    """``timed`` of two functions, their runs taking turns, so a busy spell of a shared machine slows both."""
    times: tuple[list, list] = ([], [])
    for _ in range(runs):
        for fn, out in zip((first, second), times):
            gc.collect()
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return tuple({"median": statistics.median(t), "min": min(t), "max": max(t), "runs": runs} for t in times)


def run_process(command: list[str], cwd: Path, env: dict | None = None) -> tuple[float, int, float, str]:
    """(wall seconds, exit code, ru_maxrss in MB, output) of one subprocess.

    On Linux the child's ru_maxrss counts this process's pages at fork, so it
    is no measure of the child; peak memory comes from the child's VmHWM instead.
    """
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=env or _child_env())
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    return wall, proc.returncode, usage.ru_maxrss / 1024, text


def timed_process(command: list[str], runs: int, cwd: Path, ok=(0,)) -> dict:
    walls = []
    for _ in range(runs):
        wall, code, _, text = run_process(command, cwd)
        if code not in ok:
            raise SystemExit(f"bench: {' '.join(command)} exited {code}:\n{text}")
        walls.append(wall)
    return {"median": statistics.median(walls), "min": min(walls), "max": max(walls), "runs": runs,
            "command": " ".join(_short(c) for c in command)}


def _short(part: str) -> str:
    for base, name in ((str(ROOT) + os.sep, ""), (tempfile.gettempdir() + os.sep, "$TMP/")):
        if part.startswith(base):
            return name + part[len(base):]
    return part


def s75_command(override: str | None = None) -> list[str]:
    """How to run s75: ``--s75`` if given, else ``python -m assembler`` on this checkout.

    The checkout rather than an installed console script, so the figures are
    for the code being measured; the console script imports the same modules.
    """
    if override:
        return override.split()
    return [sys.executable, "-m", "assembler"]


def _child_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f}" if seconds >= 0.1 else f"{seconds * 1000:.1f}"


# --- example and synthetic agreements ------------------------------------------


def examples() -> list[Path]:
    return sorted(p for p in (ROOT / "agreements").iterdir() if (p / "agreement.yaml").is_file())


_KEY = re.compile(r"^key:[ \t]*(\S+)[ \t]*$", re.MULTILINE)
_TITLE = re.compile(r"^title:[ \t]*([^'\"|>\n][^\n]*?)[ \t]*$", re.MULTILINE)
_ORDER = re.compile(r"^order:[ \t]*\d+[ \t]*$", re.MULTILINE)


def synthesise(example: Path, count: int, into: Path) -> Path:
    """A copy of ``example`` with ``count`` schedules: its own schedules in turn, each copy renamed.

    The first copy of each schedule is the example's own file; copy i of
    schedule ``bcf`` after that gets key ``bcf-i``, title ``<title> (i)`` and
    order i. Everything else (lines, money, sign-off) is as in the example, so
    each schedule costs the same whatever the count.
    """
    sources = sorted((example / "schedules").glob("*.yaml"))
    if not sources:
        raise SystemExit(f"bench: {example} has no schedules to copy")
    target = into / f"{example.name}-x{count}"
    (target / "schedules").mkdir(parents=True)
    shutil.copy2(example / "agreement.yaml", target / "agreement.yaml")
    for i in range(1, count + 1):
        source = sources[(i - 1) % len(sources)]
        text = source.read_text(encoding="utf-8")
        if i <= len(sources):
            (target / "schedules" / source.name).write_text(text, encoding="utf-8")
            continue
        key = _KEY.search(text)
        if key is None:
            raise SystemExit(f"bench: no top-level 'key:' line in {source}")
        new_key = f"{key.group(1)}-{i}"
        text = text[:key.start()] + f"key: {new_key}" + text[key.end():]
        text = _TITLE.sub(lambda m: f"title: {m.group(1)} ({i})", text, count=1)
        text = _ORDER.sub(f"order: {i}", text, count=1) if _ORDER.search(text) else text.replace(
            f"key: {new_key}", f"key: {new_key}\norder: {i}", 1)
        (target / "schedules" / f"{new_key}.yaml").write_text(text, encoding="utf-8")
    return target


def synthesise_lines(example: Path, count: int, into: Path) -> Path:
    """A copy of ``example`` whose first scheme with contribution lines has ``count`` lines.

    Line i is the scheme's line (i mod n) renamed "<name> (i)"; the stated
    totals are left out, since the lines now add up to something else.
    """
    import yaml

    target = into / f"{example.name}-lines{count}"
    shutil.copytree(example, target)
    for path in sorted((target / "schedules").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        lines = data.get("lines") if isinstance(data, dict) else None
        if not lines:
            continue
        data["lines"] = [dict(copy.deepcopy(lines[i % len(lines)]), name=f"{lines[i % len(lines)]['name']} ({i + 1})")
                         for i in range(count)]  # copies: shared objects would be dumped as anchors, which s75 refuses
        data.get("contributions", {}).pop("stated_totals", None)
        path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
        return target
    raise SystemExit(f"bench: no schedule of {example} has contribution lines")


def series_section(example: Path, workdir: Path, runs: int) -> dict:
    """Build time (in a fresh process, start-up excluded) and peak memory at growing sizes.

    Each size is built ``runs`` times, the sizes taking turns, and the
    fastest run counts: on a shared machine the slower runs measure the
    other users. CPU seconds are kept beside the wall-clock ones, since
    they depend far less on what else the machine is doing.
    """
    out: dict = {"example": example.name, "runs": runs, "schedules": {}, "lines": {}}
    for kind, sizes, make in (("schedules", SERIES_SCHEDULES, synthesise), ("lines", SERIES_LINES, synthesise_lines)):
        paths = {n: make(example, n, workdir / "series") for n in sizes}
        measured: dict[int, list[dict]] = {n: [] for n in sizes}
        for run in range(runs):
            for n in sizes:
                print(f"bench: series {kind} {n} (run {run + 1} of {runs}) ...", file=sys.stderr, flush=True)
                measured[n].append(fresh_process(paths[n], workdir))
        for n, results in measured.items():
            out[kind][n] = {"build_s": min(r["build_s"] for r in results),
                            "cpu_s": min(r["cpu_s"] for r in results),
                            "peak_mb": max(r["peak_mb"] for r in results),
                            "all_build_s": [r["build_s"] for r in results]}
    first, last = SERIES_SCHEDULES[0], SERIES_SCHEDULES[-1]
    out["t_last_over_first_schedules"] = out["schedules"][last]["build_s"] / out["schedules"][first]["build_s"]
    first, last = SERIES_LINES[0], SERIES_LINES[-1]
    out["t_last_over_first_lines"] = out["lines"][last]["build_s"] / out["lines"][first]["build_s"]
    for kind in ("schedules", "lines"):
        sizes = list(out[kind])
        out[f"cpu_last_over_first_{kind}"] = out[kind][sizes[-1]]["cpu_s"] / out[kind][sizes[0]]["cpu_s"]
    return out


def schedule_count(path: Path) -> int:
    return len(list((path / "schedules").glob("*.yaml")))


# --- in-process stages ----------------------------------------------------------


def inproc(path: Path, runs: int, workdir: Path) -> dict:
    """Each stage in this process (warm: the first build has already run)."""
    import docx

    from assembler.engine.assemble import render_document, resolve_document
    from assembler.build.output import build
    from assembler.source.folder import DirectorySource, load_agreement
    from assembler.check.validate import validate_files
    from assembler.word.writer import write_docx

    output = workdir / f"{path.name}.docx"
    first = time.perf_counter()
    result = build(str(path), output, force=True)
    first = time.perf_counter() - first
    if result.validation.errors:
        raise SystemExit(f"bench: {path} does not validate")
    agreement = result.validation.agreement
    document = result.document
    data = output.read_bytes()

    def load():
        return load_agreement(DirectorySource(path))

    stages = {
        "load": timed(load, runs),
        "validate": timed(lambda loaded: validate_files(*loaded), runs, setup=load),
        "render": timed(lambda: render_document(agreement), runs),
        "number_xref": timed(resolve_document, runs, setup=lambda: render_document(agreement)),
        "write": timed(lambda: write_docx(document, workdir / "stage.docx"), runs),
    }
    def open_and_save():
        docx.Document(io.BytesIO(data)).save(io.BytesIO())

    total, floor = timed_alternately(lambda: build(str(path), output, force=True), open_and_save, runs)
    same = output.read_bytes() == data and (workdir / "stage.docx").read_bytes() == data
    paragraphs = len(docx.Document(io.BytesIO(data)).paragraphs)
    return {
        "stages": stages, "total": total, "first_build_in_process": first, "floor": floor,
        "total_over_floor": total["min"] / floor["min"], "stage_sum": sum(s["median"] for s in stages.values()),
        "docx_bytes": len(data), "paragraphs": paragraphs, "reproducible": same,
    }


def child_build(path: str, output: str) -> None:
    """Run in a fresh process: one build, then report its time and peak memory as JSON."""
    start = time.perf_counter()
    from assembler.build.output import build
    imported = time.perf_counter()
    cpu = time.process_time()
    build(path, Path(output), force=True)
    done = time.perf_counter()
    print(json.dumps({"import_s": imported - start, "build_s": done - imported, "cpu_s": time.process_time() - cpu,
                      "peak_mb": _peak_mb()}))


def _peak_mb() -> float:
    """This process's peak resident memory: VmHWM, which (unlike ru_maxrss) starts afresh at exec."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fresh_process(path: Path, workdir: Path) -> dict:
    wall, code, peak, text = run_process(
        [sys.executable, __file__, "--child-build", str(path), str(workdir / f"{path.name}-child.docx")], ROOT)
    if code != 0:
        raise SystemExit(f"bench: child build of {path} failed:\n{text}")
    reported = json.loads(text.strip().splitlines()[-1])
    return {"wall_s": wall, "peak_mb": reported["peak_mb"], "import_s": reported["import_s"],
            "build_s": reported["build_s"], "cpu_s": reported["cpu_s"]}


# --- end to end -----------------------------------------------------------------


def cli_section(paths: list[Path], runs: int, workdir: Path, s75: list[str]) -> dict:
    out = {"command": " ".join(_short(c) for c in s75)}
    out["help"] = timed_process(s75 + ["--help"], runs, workdir)
    out["validate"] = {p.name: timed_process(s75 + ["validate", str(p)], runs, workdir) for p in paths}
    out["build"] = {p.name: timed_process(s75 + ["build", str(p), "-o", str(workdir / f"{p.name}.docx"), "--force"],
                                          runs, workdir) for p in paths}
    many = workdir / "many"
    many.mkdir(exist_ok=True)
    out["build_all_one_process"] = timed_process(
        s75 + ["build", *map(str, paths), "--outdir", str(many), "--force"], runs, workdir)
    walls = []
    for _ in range(runs):
        walls.append(sum(run_process(s75 + ["build", str(p), "-o", str(many / f"{p.name}.docx"), "--force"],
                                     workdir)[0] for p in paths))
    out["build_all_process_each"] = {"median": statistics.median(walls), "min": min(walls), "runs": runs,
                                     "command": f"{len(paths)} x s75 build PATH -o FILE"}
    return out


def pdf_section(paths: list[Path], runs: int, workdir: Path, s75: list[str]) -> dict:
    from assembler.build.output import build
    from assembler.word.pdf import convert_to_pdf, find_soffice

    if find_soffice() is None:
        return {"skipped": "LibreOffice (soffice) not found"}
    docs = []
    for p in paths:
        target = workdir / "pdf-in" / f"{p.name}.docx"
        target.parent.mkdir(exist_ok=True)
        build(str(p), target, force=True)
        docs.append(target)
    one = timed(lambda: convert_to_pdf(docs, workdir / "pdf-one"), runs)
    each = timed(lambda: [convert_to_pdf([d], workdir / "pdf-each") for d in docs], runs)
    cli_one = timed_process(s75 + ["build", *map(str, paths), "--outdir", str(workdir / "cli-one"), "--pdf", "--force"],
                            runs, workdir)
    walls = []
    for _ in range(runs):
        walls.append(sum(run_process(s75 + ["build", str(p), "--outdir", str(workdir / "cli-each"), "--pdf", "--force"],
                                     workdir)[0] for p in paths))
    return {"documents": len(docs), "convert_one_process": one, "convert_process_each": each,
            "cli_one_process": cli_one,
            "cli_process_each": {"median": statistics.median(walls), "min": min(walls), "runs": runs}}


# --- report ---------------------------------------------------------------------


def machine() -> dict:
    cpu = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    from importlib import metadata

    versions = {}
    for name in ("PyYAML", "jsonschema", "Jinja2", "python-docx", "docxtpl", "lxml"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    import yaml
    versions["yaml_libyaml"] = bool(getattr(yaml, "__with_libyaml__", False))
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True, check=False).stdout.strip()
    except OSError:
        commit = ""
    return {"cpus": os.cpu_count(), "cpu": cpu, "python": platform.python_version(),
            "platform": platform.platform(), "versions": versions, "commit": commit}


def print_report(report: dict) -> None:
    rows = report.get("inproc", [])
    if rows:
        print("\nIn process (median ms of %d runs; warm)" % rows[0]["total"]["runs"])
        head = ("agreement", "sch", "load", "valid", "render", "num+xref", "write", "build", "floor",
                "x floor", "ms/sch", "fresh", "peak MB")
        print("%-30s %4s %7s %7s %7s %8s %7s %7s %6s %7s %6s %7s %7s" % head)
        for r in rows:
            s = r["stages"]
            print("%-30s %4d %7s %7s %7s %8s %7s %7s %6s %7.1f %6s %7s %7.0f" % (
                r["name"][:30], r["schedules"], ms(s["load"]["median"]), ms(s["validate"]["median"]),
                ms(s["render"]["median"]), ms(s["number_xref"]["median"]), ms(s["write"]["median"]),
                ms(r["total"]["median"]), ms(r["floor"]["median"]), r["total_over_floor"],
                ms(r["total"]["median"] / r["schedules"]), ms(r["fresh"]["wall_s"]), r["fresh"]["peak_mb"]))
        print("  build = whole in-process build; floor = python-docx opening and saving that .docx (their runs"
              " alternate); x floor = fastest build / fastest floor; fresh = one build in a new process"
              " (start-up included)")
    scaling = report.get("scaling", {})
    if scaling:
        print("\nScaling (in-process build)")
        for name, s in scaling.items():
            per = ", ".join(f"{n}: {ms(t / n)}" for n, t in s["per_size"].items())
            ratio = s.get("t200_over_t20")
            print(f"  {name}: ms per schedule {per}" + (f"; t(200)/t(20) = {ratio:.2f}" if ratio else ""))
    series = report.get("series")
    if series:
        print(f"\nSize series from {series['example']} (build in a fresh process, fastest of {series['runs']} "
              "runs: wall s, CPU s, peak MB)")
        for kind in ("schedules", "lines"):
            row = ", ".join(f"{n}: {r['build_s']:.2f} s / {r['cpu_s']:.2f} s CPU / {r['peak_mb']:.0f} MB"
                            for n, r in series[kind].items())
            print(f"  {kind:<9} {row}; t(last)/t(first) = {series['t_last_over_first_' + kind]:.2f} "
                  f"(CPU {series['cpu_last_over_first_' + kind]:.2f})")
    cli = report.get("cli")
    if cli:
        print(f"\nEnd to end, as users run it ({cli['command']}; median s of {cli['help']['runs']} runs)")
        print(f"  s75 --help                      {cli['help']['median']:.3f}")
        for name, r in cli["validate"].items():
            print(f"  s75 validate {name:<19} {r['median']:.3f}")
        for name, r in cli["build"].items():
            print(f"  s75 build {name:<22} {r['median']:.3f}")
        n = len(cli["build"])
        print(f"  s75 build all {n} in one process    {cli['build_all_one_process']['median']:.3f}")
        print(f"  s75 build, one process each       {cli['build_all_process_each']['median']:.3f}")
    pdf = report.get("pdf")
    if pdf and "skipped" not in pdf:
        print(f"\nPDF of {pdf['documents']} documents (median s of {pdf['convert_one_process']['runs']} runs)")
        print(f"  convert_to_pdf, one soffice for all   {pdf['convert_one_process']['median']:.2f}")
        print(f"  convert_to_pdf, one soffice each      {pdf['convert_process_each']['median']:.2f}")
        print(f"  s75 build ... --pdf, one process      {pdf['cli_one_process']['median']:.2f}")
        print(f"  s75 build --pdf, one process each     {pdf['cli_process_each']['median']:.2f}")
    elif pdf:
        print(f"\nPDF: {pdf['skipped']}")
    targets = report.get("targets", [])
    if targets:
        print("\nTargets")
        for t in targets:
            print(f"  [{'met' if t['met'] else 'MISSED'}] {t['target']}: {t['measured']}")


def check_targets(report: dict) -> list[dict]:
    out = []
    rows = [r for r in report.get("inproc", []) if r["kind"] == "example"]
    if rows:
        largest = max(rows, key=lambda r: r["docx_bytes"])
        out.append({"target": f"in-process build of the largest example ({largest['name']}) within "
                              f"{TARGETS['build_over_floor']:g}x its open-and-save floor",
                    "measured": f"{largest['total_over_floor']:.1f}x (fastest of {largest['total']['runs']}: "
                                f"{ms(largest['total']['min'])} ms vs {ms(largest['floor']['min'])} ms)",
                    "met": largest["total_over_floor"] <= TARGETS["build_over_floor"]})
    cli = report.get("cli")
    if cli:
        out.append({"target": f"s75 --help under {TARGETS['help_s']} s", "measured": f"{cli['help']['median']:.3f} s",
                    "met": cli["help"]["median"] < TARGETS["help_s"]})
        worst = max(cli["validate"].items(), key=lambda kv: kv[1]["median"])
        out.append({"target": f"s75 validate of one agreement under {TARGETS['validate_s']} s",
                    "measured": f"{worst[1]['median']:.3f} s (slowest: {worst[0]})",
                    "met": worst[1]["median"] < TARGETS["validate_s"]})
    series = report.get("series")
    if series:
        last = series["schedules"][SERIES_SCHEDULES[-1]]
        out.append({"target": f"t({SERIES_SCHEDULES[-1]} schedules)/t({SERIES_SCHEDULES[0]}) at most "
                              f"{TARGETS['series_2000_over_200']:g}",
                    "measured": f"{series['t_last_over_first_schedules']:.2f}",
                    "met": series["t_last_over_first_schedules"] <= TARGETS["series_2000_over_200"]})
        out.append({"target": f"t({SERIES_LINES[-1]} scheme lines)/t({SERIES_LINES[0]}) at most "
                              f"{TARGETS['series_10k_over_1k']:g}",
                    "measured": f"{series['t_last_over_first_lines']:.2f}",
                    "met": series["t_last_over_first_lines"] <= TARGETS["series_10k_over_1k"]})
        out.append({"target": f"peak memory at {SERIES_SCHEDULES[-1]} schedules under {TARGETS['peak_mb_2000']:g} MB",
                    "measured": f"{last['peak_mb']:.0f} MB", "met": last["peak_mb"] < TARGETS["peak_mb_2000"]})
    for name, s in report.get("scaling", {}).items():
        if s.get("t200_over_t20") is not None:
            out.append({"target": f"{name}: t(200)/t(20) at most {TARGETS['scaling_200_over_20']:g}",
                        "measured": f"{s['t200_over_t20']:.2f}",
                        "met": s["t200_over_t20"] <= TARGETS["scaling_200_over_20"]})
        if s.get("peak_mb_200") is not None:
            out.append({"target": f"{name}: peak memory at 200 schedules under {TARGETS['peak_mb_200']:g} MB",
                        "measured": f"{s['peak_mb_200']:.0f} MB",
                        "met": s["peak_mb_200"] < TARGETS["peak_mb_200"]})
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per measurement (default 7)")
    parser.add_argument("--pdf-runs", type=int, default=3, help="runs per PDF measurement (default 3)")
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)),
                        help="schedule counts of the synthetic agreements (default 1,10,20,50,200)")
    parser.add_argument("--only", choices=["inproc", "cli", "pdf", "series"], action="append",
                        help="run only these sections (repeatable)")
    parser.add_argument("--example", action="append", help="only examples whose directory name contains this")
    parser.add_argument("--synthetic-from", action="append", metavar="NAME",
                        help="make synthetic agreements only from examples whose name contains this (default: all)")
    parser.add_argument("--series-from", default="portsmouth-bcf-2017", metavar="NAME",
                        help="the example the size series (--only series) grows (default portsmouth-bcf-2017)")
    parser.add_argument("--series-runs", type=int, default=3,
                        help="builds of each size in the size series; the fastest counts (default 3)")
    parser.add_argument("--quick", action="store_true", help="3 runs, sizes 1,20,200, no PDF")
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "latest.json",
                        help="where to write the JSON (default benchmarks/results/latest.json)")
    parser.add_argument("--s75", help="command to run s75 with (default: python -m assembler on this checkout)")
    parser.add_argument("--child-build", nargs=2, metavar=("PATH", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_build:
        child_build(*args.child_build)
        return 0
    if args.quick:
        args.runs, args.sizes = 3, "1,20,200"
        args.only = args.only or ["inproc", "cli"]
    sections = set(args.only or ["inproc", "cli", "pdf", "series"])
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    chosen = [p for p in examples() if not args.example or any(e in p.name for e in args.example)]

    report: dict = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": machine(),
                    "runs": args.runs, "sizes": sizes, "targets_set": TARGETS,
                    "command": "python benchmarks/bench.py " + " ".join(argv if argv is not None else sys.argv[1:])}
    from assembler.diagnostics import S75Error

    with tempfile.TemporaryDirectory(prefix="s75-bench-") as tmp:
        workdir = Path(tmp)
        if "inproc" in sections:
            report["inproc"], report["scaling"] = [], {}
            for example in chosen:
                grow = not args.synthetic_from or any(e in example.name for e in args.synthetic_from)
                agreements = [("example", example)] + [
                    ("synthetic", synthesise(example, n, workdir / "synthetic")) for n in (sizes if grow else [])]
                per_size = {}
                for kind, path in agreements:
                    name = path.name
                    print(f"bench: {name} ...", file=sys.stderr, flush=True)
                    row = {"name": name, "kind": kind, "schedules": schedule_count(path)}
                    try:
                        row.update(inproc(path, args.runs, workdir))
                    except S75Error as exc:
                        print(f"bench: {name} does not build, left out:\n{exc}", file=sys.stderr)
                        report.setdefault("left_out", []).append({"name": name, "error": str(exc)})
                        continue
                    row["fresh"] = fresh_process(path, workdir)
                    report["inproc"].append(row)
                    if kind == "synthetic":
                        per_size[row["schedules"]] = row["total"]["median"]
                        if row["schedules"] == 200:
                            report["scaling"].setdefault(example.name, {})["peak_mb_200"] = row["fresh"]["peak_mb"]
                if not per_size:
                    continue
                scaling = report["scaling"].setdefault(example.name, {})
                scaling["per_size"] = per_size
                if 20 in per_size and 200 in per_size:
                    scaling["t200_over_t20"] = per_size[200] / per_size[20]
        if "series" in sections:
            source = next((p for p in examples() if args.series_from in p.name), None)
            if source is None:
                raise SystemExit(f"bench: no example named like {args.series_from}")
            report["series"] = series_section(source, workdir, args.series_runs)
        if "cli" in sections:
            print("bench: command line ...", file=sys.stderr, flush=True)
            report["cli"] = cli_section(chosen, args.runs, workdir, s75_command(args.s75))
        if "pdf" in sections:
            print("bench: PDF ...", file=sys.stderr, flush=True)
            report["pdf"] = pdf_section(chosen, args.pdf_runs, workdir, s75_command(args.s75))
    report["targets"] = check_targets(report)
    print_report(report)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1, default=str) + "\n", encoding="utf-8")
    print(f"\nwrote {_short(str(args.json))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
