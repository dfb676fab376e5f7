"""The house rules, checked from the source: each stage (a package of trainer/, or a module at its top)
imports only what its rule allows, modules import with no cycle, nothing about the default dataset in
generic code, small modules and functions.

`make imports` (`python tests/unit/test_architecture.py`) draws the stages and their arrows, each stage's
modules with their sizes, and the longest functions.
"""

from __future__ import annotations

import ast
import csv
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "trainer"
DEFAULT_DATA = ROOT / "data" / "raw" / "star_grade3.csv"
SUBJECT_WORDS = ("student", "pupil", "school", "grade", "mathematics", "math score", "project star")
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 50


# The stages and what each may import: a package (or a top-level module) imports only what is listed
# here. The foundations every stage may use sit first; `pipeline` wires the stages; only the command
# line imports `pipeline`.
FOUNDATIONS = frozenset({"errors", "files", "text", "transforms"})
MAY_IMPORT: dict[str, frozenset[str]] = {
    "errors": frozenset(),
    "files": frozenset({"errors"}),
    "text": frozenset(),
    "transforms": frozenset(),
    "recipe": frozenset({"errors", "files"}),
    "tracking": frozenset({"errors", "files", "text"}),
    "data": FOUNDATIONS | {"recipe"},
    "leakage": FOUNDATIONS | {"recipe"},
    "catalogue": FOUNDATIONS | {"recipe", "data"},
    "search": FOUNDATIONS | {"recipe", "data", "catalogue"},
    "model": FOUNDATIONS | {"recipe", "data", "catalogue", "search", "leakage"},
    "onboarding": FOUNDATIONS | {"recipe", "data", "leakage", "tracking"},
    "registry": FOUNDATIONS | {"recipe", "data", "catalogue", "search", "leakage", "model", "tracking"},
    "recording": FOUNDATIONS | {"recipe", "data", "catalogue", "search", "leakage", "model", "tracking"},
    "monitoring": FOUNDATIONS | {"recipe", "data", "model", "registry", "tracking"},
    # the team server's app (imports nothing of ours: it runs inside `mlflow server`) and roles tool
    "team_server": FOUNDATIONS | {"recipe", "data"},
}
MAY_IMPORT["pipeline"] = frozenset(MAY_IMPORT) - {"onboarding", "monitoring", "pipeline"}
MAY_IMPORT["cli"] = frozenset(MAY_IMPORT) | {"pipeline"}
MAY_IMPORT["__main__"] = frozenset({"cli"})
MAY_IMPORT["__init__"] = frozenset()


def module_name(path: Path) -> str:
    """`data.contract` for trainer/data/contract.py, `data` for trainer/data/__init__.py."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" and len(parts) > 1 else parts)


def modules() -> dict[str, ast.Module]:
    return {module_name(path): ast.parse(path.read_text()) for path in sorted(PACKAGE.rglob("*.py"))}


def stage_of(module: str) -> str:
    """The package a module belongs to, or the module itself at the top (errors, pipeline, ...)."""
    return module.split(".")[0]


def _imported(name: str, known: set[str]) -> str:
    """The module an import names: `trainer.data.contract` -> `data.contract`; a name imported from a
    package (`from trainer.data import contract`) is its module when there is one."""
    return name if name in known else name.rsplit(".", 1)[0]


def imports_of(tree: ast.Module, known: set[str]) -> set[str]:
    """Our modules a module imports, anywhere in it (function bodies and TYPE_CHECKING blocks too)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "trainer":
            base = node.module.removeprefix("trainer").lstrip(".")
            for alias in node.names:
                found.add(_imported(f"{base}.{alias.name}".lstrip("."), known))
        elif isinstance(node, ast.Import):
            found.update(a.name.removeprefix("trainer.") for a in node.names if a.name.startswith("trainer."))
    return {name for name in found if name}


def import_graph() -> dict[str, set[str]]:
    trees = modules()
    known = set(trees)
    return {name: imports_of(tree, known) & known - {name} for name, tree in trees.items()}


def stage_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The import graph between stages (packages and top-level modules), without arrows inside one."""
    stages: dict[str, set[str]] = {}
    for module, deps in graph.items():
        stages.setdefault(stage_of(module), set()).update(stage_of(d) for d in deps)
    return {stage: deps - {stage} for stage, deps in stages.items()}


def forbidden_imports(graph: dict[str, set[str]]) -> list[str]:
    """Every import that crosses from one stage into one it may not import, as `module -> module`."""
    return [
        f"{module} -> {dep}"
        for module, deps in sorted(graph.items())
        for dep in sorted(deps)
        if stage_of(dep) != stage_of(module) and stage_of(dep) not in MAY_IMPORT.get(stage_of(module), ())
    ]


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


@pytest.mark.parametrize("leaf", ["errors", "files", "text", "transforms"])
def test_foundations_import_nothing_but_errors(leaf: str) -> None:
    assert import_graph()[leaf] <= {"errors"}


def test_every_stage_has_its_rule_and_a_docstring_saying_what_it_owns() -> None:
    trees = modules()
    assert set(stage_graph(import_graph())) <= set(MAY_IMPORT)
    for package in sorted(p for p in PACKAGE.iterdir() if (p / "__init__.py").exists()):
        assert ast.get_docstring(trees[package.name]), f"trainer/{package.name}/__init__.py says nothing"


def test_stages_import_only_what_their_rule_allows() -> None:
    assert forbidden_imports(import_graph()) == []


@pytest.mark.parametrize(
    ("module", "planted", "forbidden"),
    [
        (
            "data.contract",
            "from trainer.registry.register import register",
            "data.contract -> registry.register",
        ),
        ("search.folds", "from trainer import pipeline", "search.folds -> pipeline"),
        ("registry.reproduce", "import trainer.pipeline", "registry.reproduce -> pipeline"),
        ("tracking.runs", "from trainer.search import folds", "tracking.runs -> search.folds"),
    ],
)
def test_a_planted_forbidden_import_is_caught(module: str, planted: str, forbidden: str) -> None:
    trees = modules()
    graph = import_graph()
    graph[module] = graph[module] | imports_of(ast.parse(planted), set(trees))
    assert forbidden in forbidden_imports(graph)


def test_only_the_command_line_imports_the_training_path() -> None:
    importers = {stage_of(m) for m, deps in import_graph().items() if "pipeline" in deps}
    assert importers <= {"cli"}


def default_dataset_words() -> list[str]:
    with open(DEFAULT_DATA, newline="") as fh:
        columns = next(csv.reader(fh))
    return [DEFAULT_DATA.stem, *columns, *SUBJECT_WORDS]


def test_generic_code_says_nothing_about_the_default_dataset() -> None:
    words = default_dataset_words()
    pattern = re.compile(r"(?<![\w])(" + "|".join(map(re.escape, words)) + r")(?![\w])", re.IGNORECASE)
    hits = [
        f"{path.relative_to(ROOT)}:{i}: {line.strip()}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for i, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert not hits, "dataset-specific text in trainer/:\n" + "\n".join(hits)


def test_modules_are_small() -> None:
    sizes = {module_name(p): len(p.read_text().splitlines()) for p in PACKAGE.rglob("*.py")}
    assert {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES} == {}


def test_functions_are_short() -> None:
    assert [(n, name) for n, name in functions() if n > MAX_FUNCTION_LINES] == []


def main() -> None:
    """The stages and their arrows, each stage's modules with their sizes, and the longest functions."""
    graph = import_graph()
    stages = stage_graph(graph)
    print("stages (-> what each imports):")
    for stage in sorted(stages, key=lambda s: (len(stages[s]), s)):
        print(f"  {stage:11s} -> {', '.join(sorted(stages[stage])) or '-'}")
    print("modules:")
    for stage in sorted(stages):
        members = sorted(m for m in graph if stage_of(m) == stage and m != stage)
        if members:
            sizes = ", ".join(f"{m.split('.', 1)[1]} {len(_source(m).splitlines())}" for m in members)
            print(f"  {stage + '/':11s} {sizes}")
    print("forbidden imports:", ", ".join(forbidden_imports(graph)) or "none")
    print("cycle:", " -> ".join(find_cycle(graph)) or "none")
    print("longest functions:", ", ".join(f"{name} ({n})" for n, name in functions()[:8]))


def _source(module: str) -> str:
    path = PACKAGE.joinpath(*module.split("."))
    return (path / "__init__.py" if path.is_dir() else path.with_suffix(".py")).read_text()


if __name__ == "__main__":
    sys.exit(main())
