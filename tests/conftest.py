"""The fixtures (the only ones): isolated MLflow stores, the raw data, small schema / recipe copies,
and the layer check. The plain functions they are built on are in helpers.py.

Layers (a test's folder is its layer, set as its marker at collection):
  tests/unit/         no tracking store, no subprocess           (`make test-fast`, `-m unit`)
  tests/integration/  a temporary tracking store, in-process     (`-m integration`)
  tests/system/       `mlflow run`, subprocesses, signals, Dask, PostgreSQL (`-m system`)
Helpers that the tests of one topic share across layers live in tests/support/.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))  # `import helpers` from any rootdir

from helpers import (
    DEFAULT_RECIPE,
    EXPERIMENTS,
    RAW_CSV,
    ROOT,
    SCHEMA,
    SMALL_CANDIDATES,
    SUITE,
    init_store,
    sha256,
    sqlite_uri,
    using_store,
    write_recipe,
)
from helpers import (
    raw_frame as read_raw_frame,
)

__all__ = ["DEFAULT_RECIPE", "RAW_CSV", "ROOT", "SCHEMA", "SUITE", "sha256"]

SAMPLE_ROWS = 1500
TESTS = Path(__file__).resolve().parent
LAYERS = ("unit", "integration", "system")
RAW_DIGEST = sha256(RAW_CSV)

# `make test` installs the package (editable) first; a bare venv still finds it from the checkout.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def layer_of(path: Path) -> str | None:
    """The layer a test file belongs to: the folder under tests/ it sits in."""
    parts = path.resolve().relative_to(TESTS).parts
    return parts[0] if len(parts) > 1 and parts[0] in LAYERS else None


@pytest.hookimpl(tryfirst=True)  # before `-m` selects by the marker this sets
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test's layer is its folder, set as its marker; a test outside the layer folders, or
    marked with another layer, fails collection (so it stays true)."""
    wrong = []
    for item in items:
        layer = layer_of(Path(item.path))
        marked = sorted({m.name for m in item.iter_markers() if m.name in LAYERS} - {layer})
        if layer is None or marked:
            wrong.append(
                f"{item.nodeid}: {'marked ' + ', '.join(marked) if marked else 'not in a layer folder'}"
            )
        else:
            item.add_marker(getattr(pytest.mark, layer))
    if wrong:
        raise pytest.UsageError(
            f"every test lives in exactly one of tests/{{{','.join(LAYERS)}}}/:\n  " + "\n  ".join(wrong)
        )
    # the slowest layer first: xdist hands out files in this order, so the many short unit files
    # fill the end of the run instead of one worker finishing a long system file alone
    items.sort(key=lambda item: -LAYERS.index(layer_of(Path(item.path)) or "unit"))


# Files the tools themselves leave in the checkout; anything else new after the run is a test's leak.
TOOL_LEFTOVERS = (".pytest_cache/", ".hypothesis/", ".mypy_cache/", ".ruff_cache/", ".venv/", "__pycache__/")


def _checkout_entries() -> set[str] | None:
    """`git status` of the checkout, ignored files included (None outside a git checkout)."""
    try:
        done = subprocess.run(
            ["git", "status", "--porcelain", "--ignored"], cwd=ROOT, capture_output=True, text=True
        )
    except OSError:  # no git here
        return None
    if done.returncode != 0:
        return None
    lines = {line[3:] for line in done.stdout.splitlines()}
    return {line for line in lines if not line.endswith(TOOL_LEFTOVERS) and ".egg-info/" not in line}


def pytest_sessionstart(session: pytest.Session) -> None:
    if not hasattr(session.config, "workerinput"):  # the controller, once per run
        session.config.stash[CHECKOUT_BEFORE] = _checkout_entries()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if tests left files in the checkout (a store, artifacts, a stray folder)."""
    before = session.config.stash.get(CHECKOUT_BEFORE, None)
    after = _checkout_entries() if before is not None else None
    if before is None or after is None or not (leaked := sorted(after - before)):
        return
    session.config.get_terminal_writer().line(
        f"\ntests left files in the checkout: {', '.join(leaked)}", red=True
    )
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


CHECKOUT_BEFORE = pytest.StashKey[set[str] | None]()
LAYER_SECONDS: dict[str, float] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Each test's set-up, call and tear-down seconds, added up by layer (on the controller too)."""
    layer = layer_of(ROOT / report.nodeid.split("::")[0])
    if layer is not None:
        LAYER_SECONDS[layer] = LAYER_SECONDS.get(layer, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if LAYER_SECONDS and not hasattr(terminalreporter.config, "workerinput"):
        spent = ", ".join(
            f"{layer} {LAYER_SECONDS[layer]:.0f} s" for layer in LAYERS if layer in LAYER_SECONDS
        )
        terminalreporter.write_line(f"test seconds by layer (summed over the workers): {spent}")


@pytest.fixture(autouse=True)
def _project_root_logging_and_signals(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> Iterator[None]:
    """Run every test from the project root, with the CLI's log lines visible to caplog; the
    signal handlers an in-process `main()` installs are restored; data/raw/ is never modified.

    `trainer.cli.main.setup_logging` calls `logging.basicConfig(force=True)`, which removes every
    root handler, pytest's capture handler included; in-process CLI calls keep pytest's.
    """
    import trainer.cli.main

    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(trainer.cli.main, "setup_logging", lambda verbose: None)
    caplog.set_level(logging.INFO)
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    for signum, handler in handlers.items():
        if handler is not None:
            signal.signal(signum, handler)
    assert sha256(RAW_CSV) == RAW_DIGEST, "a test modified data/raw/"


@pytest.fixture(scope="session")
def serving_venvs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of this run that every xdist worker shares, for helpers.serving_python (a worker's
    base folder sits in the run's; without xdist the base folder is the run's own)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if hasattr(request.config, "workerinput") else base


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty, fully migrated MLflow SQLite database, copied per test (migrations are slow)."""
    path = tmp_path_factory.mktemp("template") / "mlflow.db"
    mlflow.MlflowClient(tracking_uri=sqlite_uri(path)).search_experiments(max_results=1)
    return path


def _use_store(uri: str, tmp_path: Path) -> Iterator[str]:
    """This process points at `uri` for the test; afterwards, no run may have put artifacts elsewhere."""
    with using_store(uri) as client:
        yield uri
        leaked = [
            r.info.artifact_uri
            for r in client.search_runs([e.experiment_id for e in client.search_experiments()])
            if str(tmp_path) not in r.info.artifact_uri
        ]
        assert not leaked, (
            f"runs stored artifacts outside tmp_path (add the experiment to EXPERIMENTS): {leaked}"
        )


@pytest.fixture(params=["sqlite", "file"])
def tracking_store(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _sqlite_template: Path
) -> Iterator[str]:
    """A fresh tracking store per test, once as SQLite and once as a file store."""
    if request.param == "sqlite":
        uri = init_store(tmp_path / "mlflow.db", EXPERIMENTS, template=_sqlite_template)
    else:
        monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
        uri = init_store(tmp_path / "mlruns", EXPERIMENTS, kind="file")
    yield from _use_store(uri, tmp_path)


@pytest.fixture
def sqlite_store(tmp_path: Path, _sqlite_template: Path) -> Iterator[str]:
    """A fresh SQLite tracking store (the fast default for most tests)."""
    uri = init_store(tmp_path / "mlflow.db", EXPERIMENTS, template=_sqlite_template)
    yield from _use_store(uri, tmp_path)


@pytest.fixture(scope="session")
def _raw_frame_cached() -> pd.DataFrame:
    return read_raw_frame()


@pytest.fixture
def raw_frame(_raw_frame_cached: pd.DataFrame) -> pd.DataFrame:
    """data/raw/star_grade3.csv as pandas reads it (a fresh copy per test)."""
    return _raw_frame_cached.copy()


@pytest.fixture
def sample_frame(raw_frame: pd.DataFrame) -> pd.DataFrame:
    """A fixed 1,500-row sample: enough for every expectation, fast to train on."""
    return raw_frame.sample(SAMPLE_ROWS, random_state=0).reset_index(drop=True)


@pytest.fixture
def write_csv(tmp_path: Path) -> Callable[..., Path]:
    """write_csv(frame, name, **to_csv_kwargs) -> path of the CSV written into tmp_path."""

    def write(frame: pd.DataFrame, name: str = "data.csv", **kwargs: Any) -> Path:
        path = tmp_path / name
        frame.to_csv(path, index=False, **kwargs)
        return path

    return write


@pytest.fixture
def sample_csv(sample_frame: pd.DataFrame, write_csv: Callable[..., Path]) -> Path:
    return write_csv(sample_frame, "sample.csv")


# the fixtures' default grid: ridge with two alphas (two grid points)
RECIPE_CANDIDATES: dict[str, Any] = {**SMALL_CANDIDATES, "ridge": {"alpha": [1.0, 10.0]}}


@pytest.fixture
def make_recipe(tmp_path: Path) -> Callable[..., Path]:
    """make_recipe(candidates=..., gates=..., name=..., **top_level) -> a recipe YAML path in tmp_path
    (helpers.write_recipe with RECIPE_CANDIDATES; experiment / registered_model default test-small)."""

    def make(
        candidates: dict[str, Any] | None = None,
        gates: dict[str, Any] | None = None,
        name: str = "recipe.yaml",
        **extra: Any,
    ) -> Path:
        return write_recipe(
            tmp_path / name,
            extra.pop("experiment", "test-small"),
            extra.pop("registered_model", "test-small"),
            RECIPE_CANDIDATES if candidates is None else candidates,
            gates=gates,
            **extra,
        )

    return make


@pytest.fixture
def small_recipe(make_recipe: Callable[..., Path]) -> Path:
    """dummy, linear, ridge (2 alphas); 3 folds, n_jobs 1, min_cv_r2 0.3, min_improvement 0.05."""
    return make_recipe()


@pytest.fixture
def schema_copy(tmp_path: Path) -> Callable[..., Path]:
    """schema_copy(name=..., suite=..., **role_changes) -> a modified data/schema.yaml copy.

    The copy's `suite:` is absolute (the repository suite unless `suite` is given), because a
    schema's suite path is resolved relative to the schema file itself.
    """

    def make(name: str = "schema.yaml", suite: Path | None = None, **changes: Any) -> Path:
        data = yaml.safe_load(SCHEMA.read_text())
        data.update(changes)
        data["suite"] = str(Path(suite or SUITE).resolve())
        path = tmp_path / name
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    return make


@pytest.fixture
def all_runs() -> Callable[..., list[Any]]:
    """all_runs(filter_string="") -> every run in the current store, newest first."""

    def runs(filter_string: str = "") -> list[Any]:
        client = mlflow.MlflowClient()
        ids = [e.experiment_id for e in client.search_experiments()]
        if not ids:
            return []
        return client.search_runs(
            ids, filter_string=filter_string, order_by=["attributes.start_time DESC"], max_results=1000
        )

    return runs


@pytest.fixture
def artifact_paths() -> Callable[[str], set[str]]:
    """artifact_paths(run_id) -> every artifact file path of a run (recursively)."""

    def paths(run_id: str) -> set[str]:
        client = mlflow.MlflowClient()
        found: set[str] = set()
        pending = [""]
        while pending:
            for info in client.list_artifacts(run_id, pending.pop() or None):
                (pending.append if info.is_dir else found.add)(info.path)
        return found

    return paths
