#!/usr/bin/env python3
"""A small mutation tester: change one operator at a time and check the tests notice.

    python scripts/mutate.py assembler/engine/number.py -t tests/test_numbering.py
    python scripts/mutate.py assembler/model.py -f total money_table -t tests/test_money_tables.py -k "not slow"

Each mutant flips one thing inside a function of the module (or of the
functions named with -f): a comparison (== !=, < >=, in / not in, is /
is not), and / or, drops a ``not``, swaps + and -, changes an integer by
one, True / False, or makes a ``return`` give None. Strings are left alone
(a changed message is not a mistake the tests are meant to catch).

It runs in one process, for speed on a shared machine: the mutated module is
compiled and each changed function's code is swapped into the live function
object (so every module that imported it sees the mutant), every lru_cache
in the package is cleared, and pytest runs the chosen tests with -x. A mutant
is killed when the tests fail or take longer than --timeout seconds. The
original code is put back after each mutant. The report gives the kill rate
and each survivor's line, for a test to be written against it. A development
tool, not part of s75.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import copy
import importlib
import io
import signal
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FLIPS = {ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Lt: ast.GtE, ast.GtE: ast.Lt, ast.Gt: ast.LtE, ast.LtE: ast.Gt,
         ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
         ast.Add: ast.Sub, ast.Sub: ast.Add, ast.And: ast.Or, ast.Or: ast.And}


def mutations(tree: ast.Module, functions: set[str]):
    """(line, description, path to the node, change) for every mutation inside the chosen functions."""
    found = []

    def visit(node, inside: bool, path):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            inside = not functions or node.name in functions or inside
            body_only = True
        else:
            body_only = False
        if inside and not body_only:
            if isinstance(node, ast.Compare):
                for i, op in enumerate(node.ops):
                    if type(op) in FLIPS:
                        found.append((node.lineno, f"{type(op).__name__} -> {FLIPS[type(op)].__name__}", path, ("cmp", i)))
            elif isinstance(node, ast.BoolOp):
                found.append((node.lineno, f"{type(node.op).__name__} -> {FLIPS[type(node.op)].__name__}", path, ("op",)))
            elif isinstance(node, ast.BinOp) and type(node.op) in FLIPS:
                found.append((node.lineno, f"{type(node.op).__name__} -> {FLIPS[type(node.op)].__name__}", path, ("op",)))
            elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
                found.append((node.lineno, "drop not", path, ("not",)))
            elif isinstance(node, ast.Constant) and type(node.value) is int:
                found.append((node.lineno, f"{node.value} -> {node.value + 1}", path, ("int",)))
            elif isinstance(node, ast.Constant) and type(node.value) is bool:
                found.append((node.lineno, f"{node.value} -> {not node.value}", path, ("bool",)))
            elif isinstance(node, ast.Return) and node.value is not None and not (
                    isinstance(node.value, ast.Constant) and node.value.value is None):
                found.append((node.lineno, "return None", path, ("return",)))
        for field, value in ast.iter_fields(node):
            if body_only and field in ("decorator_list", "args", "returns"):
                continue  # defaults and annotations are evaluated once, not per call
            children = value if isinstance(value, list) else [value]
            for i, child in enumerate(children):
                if not isinstance(child, ast.AST):
                    continue
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and field == "body" and i == 0 and \
                        isinstance(child, ast.Expr) and isinstance(child.value, ast.Constant):
                    continue  # the docstring
                visit(child, inside, path + ((field, i if isinstance(value, list) else None),))

    visit(tree, False, ())
    return found


def apply(tree: ast.Module, path, change) -> ast.Module:
    tree = copy.deepcopy(tree)
    parent, node = None, tree
    for field, index in path:
        parent, node = node, getattr(node, field) if index is None else getattr(node, field)[index]
    kind = change[0]
    if kind == "cmp":
        node.ops[change[1]] = FLIPS[type(node.ops[change[1]])]()
    elif kind == "op":
        node.op = FLIPS[type(node.op)]()
    elif kind == "not":
        field, index = path[-1]
        if index is None:
            setattr(parent, field, node.operand)
        else:
            getattr(parent, field)[index] = node.operand
    elif kind == "int":
        node.value += 1
    elif kind == "bool":
        node.value = not node.value
    elif kind == "return":
        node.value = ast.Constant(None)
    return ast.fix_missing_locations(tree)


def _functions(namespace: dict, prefix: str = "") -> dict:
    """Every plain function of a module namespace (and of its classes), by qualified name."""
    found = {}
    for name, value in namespace.items():
        target = getattr(value, "__wrapped__", value)
        if isinstance(value, property):
            target = value.fget
        if isinstance(value, (classmethod, staticmethod)):
            target = value.__func__
        if hasattr(target, "__code__") and getattr(target, "__module__", None) == namespace.get("__name__", prefix):
            found[prefix + name] = target
        elif isinstance(value, type) and value.__module__ == namespace.get("__name__"):
            found.update(_functions({**vars(value), "__name__": namespace["__name__"]}, f"{prefix}{name}."))
    return found


def _clear_caches() -> None:
    for name, module in list(sys.modules.items()):
        if name.startswith("assembler") and module is not None:
            for value in vars(module).values():
                if hasattr(value, "cache_clear"):
                    value.cache_clear()


def _timeout(_signum, _frame):
    raise TimeoutError("mutant ran too long")


def run_tests(tests: list[str], timeout: float) -> bool:
    """True when the tests pass."""
    _clear_caches()
    signal.signal(signal.SIGALRM, _timeout)
    signal.alarm(int(timeout))
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            code = pytest.main(["-x", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", *tests])
    except TimeoutError:
        return False
    finally:
        signal.alarm(0)
    return code == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("module", type=Path)
    parser.add_argument("-f", "--functions", nargs="*", default=[], help="only these functions (default: all)")
    parser.add_argument("-t", "--tests", nargs="+", required=True,
                        help="pytest arguments selecting the tests (a following -k EXPR is passed on too)")
    parser.add_argument("--timeout", type=float, default=120, help="seconds per mutant before it counts as killed")
    args, more = parser.parse_known_args()
    tests = args.tests + more
    dotted = ".".join(args.module.resolve().relative_to(ROOT).with_suffix("").parts)
    module = importlib.import_module(dotted)
    live = _functions(vars(module))
    originals = {name: function.__code__ for name, function in live.items()}
    tree = ast.parse(args.module.read_text(encoding="utf-8"))
    found = mutations(tree, set(args.functions))
    started = time.monotonic()
    if not run_tests(tests, args.timeout):
        print("the tests fail on the unmutated module; nothing to measure", file=sys.stderr)
        return 2
    survivors = []
    for line, description, path, change in found:
        namespace = {"__name__": dotted, "__file__": str(args.module)}
        exec(compile(apply(tree, path, change), str(args.module), "exec"), namespace)
        changed = {name: f.__code__ for name, f in _functions(namespace).items()
                   if name in live and f.__code__.co_code != originals[name].co_code
                   or name in live and f.__code__.co_consts != originals[name].co_consts}
        try:
            for name, code in changed.items():
                live[name].__code__ = code
            survived = bool(changed) and run_tests(tests, args.timeout)
        finally:
            for name in changed:
                live[name].__code__ = originals[name]
        if not changed:
            print(f"  not applied (outside a function's code): {args.module}:{line}: {description}", flush=True)
        if survived:
            survivors.append((line, description))
            print(f"  survived: {args.module}:{line}: {description}", flush=True)
    killed = len(found) - len(survivors)
    rate = 100 * killed / len(found) if found else 100.0
    print(f"{args.module}: {killed} of {len(found)} mutants killed ({rate:.0f}%) in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
