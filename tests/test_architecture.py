"""The house rules, checked from the source: imports run one way with no cycle, nothing about the
default dataset in generic code, small modules and functions.

`python tests/test_architecture.py` prints the import graph, module sizes and longest functions.
"""

from __future__ import annotations

import ast
import csv
import re
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "trainer"
DEFAULT_DATA = ROOT / "data" / "raw" / "star_grade3.csv"
SUBJECT_WORDS = ("student", "pupil", "school", "grade", "mathematics", "math score", "project star")
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 50


def modules() -> dict[str, ast.Module]:
    return {path.stem: ast.parse(path.read_text()) for path in sorted(PACKAGE.glob("*.py"))}


def imports_of(tree: ast.Module) -> set[str]:
    """Our modules a module imports, anywhere in it (function bodies and TYPE_CHECKING blocks too)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "trainer":
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("trainer."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("trainer."))
    return found


def import_graph() -> dict[str, set[str]]:
    trees = modules()
    return {name: imports_of(tree) & set(trees) - {name} for name, tree in trees.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle as a path (first module repeated at the end), or [] when there is none."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = "done"
        stack.pop()
        return []

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return []


def functions() -> list[tuple[int, str]]:
    out = []
    for name, tree in modules().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                out.append((node.end_lineno - node.lineno + 1, f"{name}.{node.name}"))
    return sorted(out, reverse=True)


def test_find_cycle_finds_a_cycle_and_only_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []


def test_imports_have_no_cycle() -> None:
    assert find_cycle(import_graph()) == []


@pytest.mark.parametrize("leaf", ["errors", "files", "tracking", "report", "transforms", "timing", "results"])
def test_leaves_import_nothing_but_errors(leaf: str) -> None:
    assert import_graph()[leaf] <= {"errors"}


def test_steps_never_import_the_cli_or_the_training_path() -> None:
    graph = import_graph()
    for module, deps in graph.items():
        if module not in ("cli", "__main__", "reproduce"):
            assert not deps & {"cli", "pipeline"}, f"{module} imports {deps & {'cli', 'pipeline'}}"


def default_dataset_words() -> list[str]:
    with open(DEFAULT_DATA, newline="") as fh:
        columns = next(csv.reader(fh))
    return [DEFAULT_DATA.stem, *columns, *SUBJECT_WORDS]


def test_generic_code_says_nothing_about_the_default_dataset() -> None:
    words = default_dataset_words()
    pattern = re.compile(r"(?<![\w])(" + "|".join(map(re.escape, words)) + r")(?![\w])", re.IGNORECASE)
    hits = [
        f"{path.relative_to(ROOT)}:{i}: {line.strip()}"
        for path in sorted(PACKAGE.glob("*.py"))
        for i, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert not hits, "dataset-specific text in trainer/:\n" + "\n".join(hits)


def test_modules_are_small() -> None:
    sizes = {path.name: len(path.read_text().splitlines()) for path in PACKAGE.glob("*.py")}
    assert {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES} == {}


def test_functions_are_short() -> None:
    assert [(n, name) for n, name in functions() if n > MAX_FUNCTION_LINES] == []


def main() -> None:
    graph = import_graph()
    for name in sorted(graph):
        lines = len((PACKAGE / f"{name}.py").read_text().splitlines())
        print(f"{name:14s} {lines:4d} lines -> {', '.join(sorted(graph[name])) or '-'}")
    print("cycle:", " -> ".join(find_cycle(graph)) or "none")
    print("longest functions:", ", ".join(f"{name} ({n})" for n, name in functions()[:8]))


if __name__ == "__main__":
    sys.exit(main())
