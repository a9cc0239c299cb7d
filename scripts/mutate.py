#!/usr/bin/env python3
"""A small mutation tester: change one operator at a time and check the tests notice.

    python scripts/mutate.py assembler/engine/number.py -t tests/test_numbering.py
    python scripts/mutate.py assembler/model.py -f total money_table -t tests/test_money_tables.py

Each mutant flips one thing in the named functions (or the whole module):
a comparison (== !=, < >=, in / not in, is / is not), and / or, drops a
``not``, swaps + and -, changes an integer by one, True / False, and makes a
``return`` give None. Strings are left alone (a changed message is not a
mistake tests are meant to catch). The module is rewritten from its syntax
tree (ast.unparse), the tests run with -x, and the original is put back
whatever happens. A mutant is killed when the tests fail or time out.

The report gives the kill rate and each survivor's line, for a test to be
written against it. It is a development tool, not part of s75; run it on a
few modules at a time (each mutant is one pytest run).
"""

from __future__ import annotations

import argparse
import ast
import copy
import subprocess
import sys
import time
from pathlib import Path

FLIPS = {ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Lt: ast.GtE, ast.GtE: ast.Lt, ast.Gt: ast.LtE, ast.LtE: ast.Gt,
         ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
         ast.Add: ast.Sub, ast.Sub: ast.Add, ast.And: ast.Or, ast.Or: ast.And}


def _docstring(node, parent) -> bool:
    return (isinstance(parent, ast.Expr) and isinstance(node, ast.Constant) and isinstance(node.value, str))


def mutations(tree: ast.Module, functions: set[str]):
    """(line, description, path to the node, how to change it) for every mutation in the chosen functions."""
    found = []

    def visit(node, inside: bool, path):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            inside = inside or not functions or node.name in functions
        if inside:
            if isinstance(node, ast.Compare):
                for i, op in enumerate(node.ops):
                    if type(op) in FLIPS:
                        found.append((node.lineno, f"{type(op).__name__} -> {FLIPS[type(op)].__name__}", path,
                                      ("cmp", i)))
            elif isinstance(node, ast.BoolOp):
                found.append((node.lineno, f"{type(node.op).__name__} -> {FLIPS[type(node.op)].__name__}", path, ("bool",)))
            elif isinstance(node, ast.BinOp) and type(node.op) in FLIPS:
                found.append((node.lineno, f"{type(node.op).__name__} -> {FLIPS[type(node.op)].__name__}", path, ("bin",)))
            elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
                found.append((node.lineno, "drop not", path, ("not",)))
            elif isinstance(node, ast.Constant) and type(node.value) is int:
                found.append((node.lineno, f"{node.value} -> {node.value + 1}", path, ("int",)))
            elif isinstance(node, ast.Constant) and type(node.value) is bool:
                found.append((node.lineno, f"{node.value} -> {not node.value}", path, ("bool-const",)))
            elif isinstance(node, ast.Return) and node.value is not None and not (
                    isinstance(node.value, ast.Constant) and node.value.value is None):
                found.append((node.lineno, "return None", path, ("return",)))
        for field, value in ast.iter_fields(node):
            if isinstance(value, list):
                for i, child in enumerate(value):
                    if isinstance(child, ast.AST) and not _docstring(child, node):
                        visit(child, inside, path + ((field, i),))
            elif isinstance(value, ast.AST):
                visit(value, inside, path + ((field, None),))

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
    elif kind in ("bool", "bin"):
        node.op = FLIPS[type(node.op)]()
    elif kind == "not":
        field, index = path[-1]
        replacement = node.operand
        if index is None:
            setattr(parent, field, replacement)
        else:
            getattr(parent, field)[index] = replacement
    elif kind == "int":
        node.value += 1
    elif kind == "bool-const":
        node.value = not node.value
    elif kind == "return":
        node.value = ast.Constant(None)
    return ast.fix_missing_locations(tree)


def run_tests(tests: list[str], timeout: float) -> bool:
    """True when the tests pass."""
    try:
        done = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("module", type=Path)
    parser.add_argument("-f", "--functions", nargs="*", default=[], help="only these functions (default: all)")
    parser.add_argument("-t", "--tests", nargs="+", required=True, help="pytest arguments selecting the tests")
    parser.add_argument("--timeout", type=float, default=120, help="seconds per mutant before it counts as killed")
    args = parser.parse_args()
    original = args.module.read_text(encoding="utf-8")
    tree = ast.parse(original)
    found = mutations(tree, set(args.functions))
    started = time.monotonic()
    survivors = []
    try:
        args.module.write_text(ast.unparse(tree) + "\n", encoding="utf-8")
        if not run_tests(args.tests, args.timeout):
            print("the tests fail on the unmutated module; nothing to measure", file=sys.stderr)
            return 2
        for line, description, path, change in found:
            args.module.write_text(ast.unparse(apply(tree, path, change)) + "\n", encoding="utf-8")
            if run_tests(args.tests, args.timeout):
                survivors.append((line, description))
                print(f"  survived: {args.module}:{line}: {description}", flush=True)
    finally:
        args.module.write_text(original, encoding="utf-8")
    killed = len(found) - len(survivors)
    rate = 100 * killed / len(found) if found else 100.0
    print(f"{args.module}: {killed} of {len(found)} mutants killed ({rate:.0f}%) in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
