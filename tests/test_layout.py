"""The package layout is the pipeline: each stage imports only the stages below it.

Shared modules at the top (diagnostics, model, resources) come first; then
source, check, engine, word, build, review, cli. A module that reaches up a
stage, or hides an import inside a function to dodge a cycle, fails here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "assembler"
ORDER = ["source", "check", "engine", "word", "build", "review", "cli"]
# What each stage may import besides the shared top-level modules.
ALLOWED = {
    "source": set(),
    "check": {"source"},
    "engine": set(),
    "word": {"engine"},
    "build": {"source", "check", "engine", "word"},
    "review": {"source", "check", "engine", "word", "build"},
    "cli": {"source", "check", "engine", "word", "build", "review"},
}
SHARED = {"diagnostics", "model", "resources", "law", "codes", "recent"}


def _modules():
    return sorted(p for p in PACKAGE.rglob("*.py") if "templates" not in p.parts)


def _stage(path: Path) -> str:
    relative = path.relative_to(PACKAGE).parts
    return relative[0] if len(relative) > 1 else "top"


def _imported(node: ast.AST) -> list[str]:
    if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("assembler"):
        parts = node.module.split(".")
        if len(parts) == 1:
            return [f"assembler.{alias.name}" for alias in node.names]
        return [node.module]
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.startswith("assembler")]
    return []


@pytest.mark.parametrize("path", _modules(), ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_module_imports_only_stages_below_it(path: Path):
    stage = _stage(path)
    allowed = ALLOWED.get(stage, set()) | {stage}
    tree = ast.parse(path.read_text(encoding="utf-8"))
    wrong = []
    for node in ast.walk(tree):
        for name in _imported(node):
            parts = name.split(".")
            target = parts[1] if len(parts) > 1 else "top"
            if target in SHARED or target == "__version__" or target == "top":
                continue
            if stage == "top" and path.name in ("__main__.py",) and target == "cli":
                continue
            if stage == "top" or target not in allowed:
                wrong.append(f"line {node.lineno}: {name}")
    assert not wrong, f"{path.relative_to(PACKAGE)} ({stage}) reaches outside its stage: {wrong}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_no_project_import_is_hidden_in_a_function(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    hidden = []
    for function in ast.walk(tree):
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            hidden += [f"line {n.lineno}" for n in ast.walk(function) if _imported(n)]
    assert not hidden, f"{path.relative_to(PACKAGE)} imports project modules inside functions: {hidden}"


def test_every_stage_says_what_it_holds_and_may_import():
    for stage in ORDER:
        doc = ast.get_docstring(ast.parse((PACKAGE / stage / "__init__.py").read_text(encoding="utf-8")))
        assert doc and ("May import" in doc or stage == "cli"), stage
