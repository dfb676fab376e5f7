"""Thin helpers over MLflow: quiet logging, the parent run's lifecycle, contract and batch logging."""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from trainer.errors import redact_uri  # also this module's: the URL masking every message uses
from trainer.text import md

log = logging.getLogger(__name__)

NOISY_LOGGERS = ("mlflow", "alembic", "great_expectations", "urllib3", "git", "numexpr", "matplotlib")


def quiet_libraries() -> None:
    """Keep library chatter (migrations, progress bars, analytics) out of the terminal."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")  # MLflow resets its logger level on import
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("TQDM_DISABLE", "1")
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    # logs a full traceback for every store error; `cause_line` already names the cause in one line
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.CRITICAL)
    for module in ("great_expectations", "mlflow"):
        warnings.filterwarnings("ignore", category=UserWarning, module=module)
        warnings.filterwarnings("ignore", category=FutureWarning, module=module)
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=module)


def cause_line(exc: BaseException) -> str:
    """One line for an error: the innermost cause's message (the database's or the socket's own
    words, not a wrapper's), with any URL password masked."""
    from trainer.errors import causes

    for err in reversed(causes(exc)):
        text = str(getattr(err, "orig", None) or err).strip()
        if text:
            return redact_uri(text.splitlines()[0])[:300]
    return type(exc).__name__


TRANSIENT_STORE_ERRORS = ("database is locked", "already exists", "duplicate column", "migration")
FILE_STORE_REFUSAL = "MLFLOW_ALLOW_FILE_STORE"  # named in MLflow's refusal of a file store: never transient


@contextmanager
def sqlite_lock(uri: str, purpose: str) -> Iterator[None]:
    """An exclusive lock beside a SQLite store's file, held across processes (no-op for other stores).

    `init`: MLflow's schema migration of a brand-new store is not concurrency-safe.
    `promote`: read the alias holder, compare and move the alias as one step.
    """
    if not uri.startswith("sqlite:///"):
        yield
        return
    import fcntl

    db = Path(uri.removeprefix("sqlite:///").removeprefix("file:").split("?", 1)[0])
    if not db.parent.is_dir():
        yield
        return
    try:
        fh = open(f"{db}.{purpose}.lock", "a")
    except OSError:  # a read-only folder: the store itself will say what is wrong
        yield
        return
    with fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def check_tracking_store(attempts: int = 6, must_exist: bool = False) -> str:
    """Fail fast (one line, before any training) when the tracking store cannot be used.

    A brand-new SQLite store initialised by two processes at once, or a locked database, is
    retried with backoff instead of losing a run. `must_exist`: a command that only reads
    (promote, explain, reproduce) never creates a database; a SQLite store is checked first.
    """
    import mlflow

    from trainer.errors import TrainerError

    uri = use_driver(mlflow.get_tracking_uri())
    check_sqlite_path(uri, must_exist)
    probe_database_server(uri)
    for attempt in range(1, attempts + 1):
        try:
            with sqlite_lock(uri, "init"):
                mlflow.MlflowClient().search_experiments(max_results=1)
            return uri
        except Exception as exc:  # noqa: BLE001 - reported as one line
            reason = cause_line(exc)
            if FILE_STORE_REFUSAL in str(exc):
                raise TrainerError(
                    f"tracking store {redact_uri(uri)} is a file store, which MLflow 3 refuses unless "
                    f"{FILE_STORE_REFUSAL}=true is set: set it, or use a database store such as "
                    "sqlite:///mlflow.db (`mlflow migrate-filestore` moves existing runs)"
                )
            if attempt < attempts and any(t in str(exc) for t in TRANSIENT_STORE_ERRORS):
                log.info("tracking store busy (%s); retrying", reason[:120])
                time.sleep(0.5 * attempt)
                continue
            raise TrainerError(f"tracking store {redact_uri(uri)} is unavailable: {reason}")
    return uri


# SQLAlchemy 2.1 maps a plain postgresql:// URI to psycopg 3; the pinned driver is psycopg2, as in
# deploy/server.sh (which rewrites the server's backend URI the same way)
PLAIN_POSTGRES = ("postgresql://", "postgres://")
DATABASE_PORTS = {"postgresql": 5432, "postgres": 5432, "mysql": 3306, "mssql": 1433}
CONNECT_SECONDS = 3.0


def use_driver(uri: str) -> str:
    """A plain postgresql:// tracking URI runs with the pinned psycopg2 driver; others are unchanged."""
    if not uri.startswith(PLAIN_POSTGRES):
        return uri
    import mlflow

    rewritten = "postgresql+psycopg2://" + uri.split("://", 1)[1]
    os.environ["MLFLOW_TRACKING_URI"] = rewritten
    mlflow.set_tracking_uri(rewritten)
    return rewritten


def sqlite_path(uri: str) -> Path | None:
    """The database file of a sqlite:/// URI (None for other stores and in-memory databases)."""
    if not uri.startswith("sqlite:///"):
        return None
    path = uri.removeprefix("sqlite:///").removeprefix("file:").split("?", 1)[0]
    return None if path in ("", ":memory:") else Path(path)


def check_sqlite_path(uri: str, must_exist: bool) -> None:
    """A mistyped SQLite path fails in one line, before MLflow creates folders or an empty database:
    its folder must exist, and for commands that only read, the database file too."""
    from trainer.errors import ConfigError

    db = sqlite_path(uri)
    if db is None:
        return
    if must_exist and not db.is_file():
        raise ConfigError(f"tracking store {redact_uri(uri)} not found: no database file {db}")
    if not db.parent.is_dir():
        raise ConfigError(f"tracking store {redact_uri(uri)} not found: no folder {db.parent}")


def probe_database_server(uri: str) -> None:
    """A database store's host:port must accept a TCP connection within seconds (MLflow's own
    engine retries for about two minutes before it reports a refused connection)."""
    import socket
    from urllib.parse import urlsplit

    from trainer.errors import TrainerError

    parts = urlsplit(uri)
    dialect = parts.scheme.split("+", 1)[0]
    try:
        host, port = parts.hostname, parts.port or DATABASE_PORTS.get(dialect)
    except ValueError:  # a port that is not a number: SQLAlchemy's own message is clear enough
        return
    if dialect not in DATABASE_PORTS or not host or port is None:
        return  # a Unix socket (no host in the URI) or an unknown dialect: MLflow decides
    try:
        socket.create_connection((host, port), timeout=CONNECT_SECONDS).close()
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise TrainerError(
            f"tracking store {redact_uri(uri)} is unavailable: cannot connect to {host}:{port} ({reason})"
        )


def use_experiment(name: str) -> str | None:
    """Select the recipe's experiment, however the tool was started.

    `mlflow run` creates our run (MLFLOW_RUN_ID) before our code starts, in its own experiment:
    `Default` unless `--experiment-name` says otherwise (the MLproject cannot name one). When that
    is the recipe's experiment we record into it; otherwise we detach from it and return its id, and
    `parent_run` hands it over to the run it starts in the recipe's experiment.
    """
    import mlflow

    launched = os.environ.get("MLFLOW_RUN_ID")
    if launched and _experiment_of(launched) == name:
        return None
    for var in ("MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID"):
        os.environ.pop(var, None)
    experiment = mlflow.set_experiment(name)
    # MLflow 3.17.2 returns without activating it when a concurrent process created it first
    mlflow.set_experiment(experiment_id=experiment.experiment_id)
    return launched or None


def _experiment_of(run_id: str) -> str | None:
    import mlflow

    client = mlflow.MlflowClient()
    experiment = client.get_experiment(client.get_run(run_id).info.experiment_id)
    return str(experiment.name)


# what `mlflow run` recorded on its run (project, entry point, git, user), carried to ours
LAUNCHER_TAGS = ("mlflow.source.", "mlflow.project.", "mlflow.git", "mlflow.user")


def hand_over(launched: str, run: Any) -> None:
    """Carry `mlflow run`'s tags (project, entry point, git, user) and its command line from the run
    it created to ours, then end its run, renamed and tagged with where the training went.

    Its run cannot be deleted: the launcher marks it terminated again when the command exits.
    """
    import mlflow
    from mlflow.entities import RunTag

    client = mlflow.MlflowClient()
    old = client.get_run(launched)
    tags = {k: v for k, v in old.data.tags.items() if k.startswith(LAUNCHER_TAGS)}
    entry = tags.get("mlflow.project.entryPoint", "main")
    tags["mlflow_run"] = " ".join(
        ["mlflow run . -e", entry, *(f"-P {k}={v}" for k, v in sorted(old.data.params.items()))]
    )
    client.log_batch(run.info.run_id, tags=[RunTag(k, v) for k, v in tags.items()])
    experiment = mlflow.get_experiment(run.info.experiment_id).name
    where = f"experiment '{experiment}', run {run.info.run_id}"
    client.set_tag(launched, "recorded_in", where)
    client.set_tag(launched, "mlflow.note.content", f"This command was recorded in {md(where)}.")
    client.update_run(launched, status="FINISHED", name=f"{run.info.run_name} (in '{experiment}')")
    log.info(
        "`mlflow run` opened run %s in experiment '%s'; recording in the recipe's %s instead",
        launched,
        mlflow.get_experiment(old.info.experiment_id).name,
        where,
    )


def run_name(command: str, dataset: str) -> str:
    """A parent run's name that says what ran: `train housing 2026-11-29 20:15` (the schema names the dataset)."""
    return f"{command} {dataset} {time.strftime('%Y-%m-%d %H:%M')}"


@contextmanager
def parent_run(
    run_name: str, tags: Mapping[str, str] | None = None, launched: str | None = None
) -> Iterator[Any]:
    """The run one command records into; FAILED with a `failure_reason` tag on any error.

    `launched`: the run `mlflow run` created in another experiment (see `use_experiment`).
    """
    import mlflow

    from trainer.errors import TrainerError, failure_reason

    try:
        run = mlflow.start_run(run_name=run_name)  # also renames the launcher's run
        if tags:
            mlflow.set_tags(dict(tags))
        if launched:
            hand_over(launched, mlflow.get_run(run.info.run_id))
    except Exception as exc:  # noqa: BLE001 - e.g. a read-only or locked store: one line
        raise TrainerError(
            f"cannot record a run in tracking store {redact_uri(mlflow.get_tracking_uri())}: "
            f"{cause_line(exc)}"
        )
    try:
        yield run
    except BaseException as exc:
        status = "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED"
        reason = failure_reason(exc)
        note = f"**{status}**: {md(reason)}"
        _safely(mlflow.set_tags, {"failure_reason": reason, "mlflow.note.content": note})
        _safely(mlflow.end_run, status)
        raise
    mlflow.end_run("FINISHED")


def _safely(fn: Any, *args: Any) -> None:
    try:
        fn(*args)
    except Exception as exc:  # noqa: BLE001 - never mask the original failure
        log.warning("could not record the failure in MLflow: %s", exc)
