"""Faults: killed, terminated and interrupted trainings, concurrency, broken stores, secrets.

Every test works on its own SQLite store under tmp_path, seeded (once per module) with version 1
of a small model holding `champion`, so "nothing moved" is a real check. Trainings run as
`python -m trainer` subprocesses (venv first on PATH) so signals hit a real process.

(system layer)"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
from helpers import (
    PYTHON,
    ROOT,
    SCHEMA,
    alias_version,
    init_store,
    run_trainer,
    sha256,
    sqlite_uri,
    start,
    start_trainer,
    train_runs,
    trainer_lines,
    using_store,
    versions,
    wait_for,
    write_recipe,
)
from mlflow import MlflowClient
from support.faults import (  # noqa: F401 (fixtures)
    EXPERIMENT,
    MODEL,
    RAW_DIGEST,
    SECRET,
    Base,
    Store,
    assert_nothing_promoted,
    base,
    passed_versions,
    store,
    train_args,
)

PROGRESS = re.compile(r"^\[\s*\d+/\d+\] ")  # per-candidate lines: "[ 1/3] dummy  grid 1  cv_r2 ... s"


# `python -c STALL_... ARG trainer-args...`: runs the trainer stalled at a known point, and says so
# on stderr (a marker line), so a test signals only once the process is inside the phase it
# interrupts: an event, never a sleep. Each stall lasts until the signal (its own length is a hang
# guard only). The two registration stalls lie after create_model_version (the version is
# `pending`) and before validation_status=passed.
_RUN_TRAINER = """
from trainer.cli.main import main
raise SystemExit(main(sys.argv[2:]))
"""


STALLED = "STALLED"  # the marker the registration stalls print


# inside the search: after ARG progress lines, the next candidate's cross-validated search runs
# over and over (real fitting that never finishes by itself), so only a signal can end the process
# and no assertion depends on how long a fit takes. It also reports the SIGINT disposition the
# process inherited, before the trainer's main() runs.
IN_THE_SEARCH = "in the search: fitting"


STALL_IN_SEARCH = (
    """
import faulthandler, logging, signal, sys
inherited = "ignored" if signal.getsignal(signal.SIGINT) == signal.SIG_IGN else "default"
print(f"inherited SIGINT disposition: {inherited}", file=sys.stderr, flush=True)
faulthandler.register(signal.SIGUSR1, all_threads=True)  # a hang guard's stack dump (signal_and_wait)
import trainer.search.candidate_search
_search = trainer.search.candidate_search.search_candidate
_calls = []
def _stalled(spec, *args, **kwargs):
    _calls.append(spec.name)
    if len(_calls) == int(sys.argv[1]) + 1:
        logging.getLogger("trainer").info("in the search: fitting %s until signalled", spec.name)
        while True:
            _search(spec, *args, **kwargs)
    return _search(spec, *args, **kwargs)
trainer.search.candidate_search.search_candidate = _stalled
# one candidate at a time (not one stream of every candidate's folds), so that the stall above is hit
trainer.search.candidate_search._streamed = lambda specs, recipe, plan: (
    trainer.search.candidate_search.search_candidate(s, recipe.candidates[s.name], plan) for s in specs
)
"""
    + _RUN_TRAINER
)


# between two store calls: MlflowClient.update_model_version (the model card) is stalled
STALL_BETWEEN_STORE_CALLS = (
    """
import sys, time
from mlflow import MlflowClient
_update = MlflowClient.update_model_version
def _stalled(self, *args, **kwargs):
    print("STALLED before update_model_version", file=sys.stderr, flush=True)
    time.sleep(float(sys.argv[1]))
    return _update(self, *args, **kwargs)
MlflowClient.update_model_version = _stalled
"""
    + _RUN_TRAINER
)


# inside a store call: the SQL session that writes the version's description (the model card) is
# stalled (the audit tags are written with the version itself, in the same session that creates it)
STALL_INSIDE_STORE_CALL = (
    """
import sys, time
import sqlalchemy.orm
_add = sqlalchemy.orm.Session.add
def _stalled(self, instance, *args, **kwargs):
    if type(instance).__name__ == "SqlModelVersion" and instance.description:
        print("STALLED inside the session writing the model card", file=sys.stderr, flush=True)
        time.sleep(float(sys.argv[1]))
    return _add(self, instance, *args, **kwargs)
sqlalchemy.orm.Session.add = _stalled
"""
    + _RUN_TRAINER
)


# a promotion that waits after reading the alias holder: two of them started together would both read
# "no holder" and both move the alias, unless promotions are serialised. The wait only widens the
# race window: a slow machine can make the test miss a missing lock, never fail a working one.
STALL_AFTER_HOLDER_READ = (
    """
import sys, time
import trainer.registry.promote
_holder = trainer.registry.promote.alias_holder
def _stalled(*args, **kwargs):
    found = _holder(*args, **kwargs)
    time.sleep(float(sys.argv[1]))
    return found
trainer.registry.promote.alias_holder = _stalled
"""
    + _RUN_TRAINER
)


# after the version exists (pending): the run's timings are being recorded (the run is open), or
# the run has closed and `validation_status=passed` is about to be written
STALL_AFTER_REGISTRATION = (
    """
import sys, time
import trainer.recording.steps
_timings = trainer.recording.steps.timings
def _stalled(*args, **kwargs):
    print("STALLED recording the timings", file=sys.stderr, flush=True)
    time.sleep(float(sys.argv[1]))
    return _timings(*args, **kwargs)
trainer.recording.steps.timings = _stalled
"""
    + _RUN_TRAINER
)


STALL_BEFORE_PASSED = (
    """
import sys, time
import trainer.registry.validation_status
_mark = trainer.registry.validation_status.mark_passed
def _stalled(*args, **kwargs):
    print("STALLED after the run closed, before passed", file=sys.stderr, flush=True)
    time.sleep(float(sys.argv[1]))
    return _mark(*args, **kwargs)
trainer.registry.validation_status.mark_passed = _stalled
"""
    + _RUN_TRAINER
)


# a promotion killed right after the alias moved, before its record is marked complete
STALL_AFTER_ALIAS_MOVE = (
    """
import sys, time
from mlflow import MlflowClient
_move = MlflowClient.set_registered_model_alias
def _stalled(self, *args, **kwargs):
    _move(self, *args, **kwargs)
    print("STALLED after the alias moved", file=sys.stderr, flush=True)
    time.sleep(float(sys.argv[1]))
MlflowClient.set_registered_model_alias = _stalled
"""
    + _RUN_TRAINER
)


def log_text(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def wait_in_log(proc: subprocess.Popen, log: Path, needle: str, timeout: float = 600) -> None:
    """Wait until the child's stderr shows `needle`; fail if it exits first."""
    wait_for(lambda: needle in log_text(log) or proc.poll() is not None, timeout, what=repr(needle))
    assert proc.poll() is None, f"exited {proc.returncode} before {needle!r}:\n{log_text(log)[-3000:]}"


def start_in_search(
    base: Base, store: Store, log: Path, after: int = 1, ignore_sigint: bool = False
) -> subprocess.Popen:
    """The trainer on the small recipe, stalled in the search after `after` progress lines; returns
    once the process says it is fitting there (so a signal lands inside the search)."""
    cmd = [PYTHON, "-c", STALL_IN_SEARCH, str(after), *train_args(base)]
    proc = start(cmd, store.uri, log, ignore_sigint=ignore_sigint)
    wait_in_log(proc, log, IN_THE_SEARCH)
    assert len(progress_lines(log_text(log))) == after, log_text(log)[-3000:]
    return proc


def progress_lines(stderr: str) -> list[str]:
    return [x for x in trainer_lines(stderr, "INFO") if PROGRESS.match(x)]


def signal_and_wait(proc: subprocess.Popen, sig: int, timeout: float = 180, log: Path | None = None) -> int:
    """The exit code after `sig`; past the hang guard, the stalled search's stack dump (SIGUSR1) is
    in the failure, so a hang says where the main thread was."""
    os.kill(proc.pid, sig)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        if log is not None:
            os.kill(proc.pid, signal.SIGUSR1)
            time.sleep(2)
        proc.kill()
        proc.wait()
        dump = f":\n{log_text(log)[-6000:]}" if log is not None else ""
        raise AssertionError(f"still running {timeout} s after signal {sig}{dump}") from None


def assert_interrupted(code: int, stderr: str, store: Store) -> None:
    """SIGINT landed: exit 130, the one `interrupted` line, a KILLED run, nothing registered or moved."""
    assert code == 130, stderr[-3000:]
    assert trainer_lines(stderr) == ["interrupted"], stderr[-3000:]
    assert "Traceback" not in stderr
    run = train_runs(store.client, EXPERIMENT)[0]
    assert run.info.status == "KILLED"
    assert "registered_version" not in run.data.tags
    assert [str(v.version) for v in versions(store.client, MODEL)] == ["1"]
    assert_nothing_promoted(store)


def assert_next_training_succeeds(store: Store, base: Base) -> None:
    done = run_trainer(train_args(base), store.uri)
    assert done.returncode == 0, done.stderr[-3000:]
    newest = versions(store.client, MODEL)[-1]
    assert newest.tags["validation_status"] == "passed"
    last = trainer_lines(done.stderr, "INFO")[-2:]
    assert last[0] == f"registered models:/{MODEL}/{newest.version}"
    assert last[1].startswith(f"next: trainer promote --version {newest.version} ")
    assert alias_version(store.client, MODEL) == "1"  # training alone never moves the alias


def test_sigkill_during_search(store: Store, base: Base, tmp_path: Path) -> None:
    log = tmp_path / "stderr.txt"
    proc = start_in_search(base, store, log)

    assert signal_and_wait(proc, signal.SIGKILL) == -signal.SIGKILL

    assert [str(v.version) for v in versions(store.client, MODEL)] == ["1"]
    assert_nothing_promoted(store)
    # A SIGKILLed run cannot mark itself: it stays RUNNING (never FINISHED), with no model.
    run = train_runs(store.client, EXPERIMENT)[0]
    assert run.info.status == "RUNNING" and "registered_version" not in run.data.tags
    assert_next_training_succeeds(store, base)


def test_sigkill_after_selection_before_version(store: Store, base: Base, tmp_path: Path) -> None:
    """Killed right after the "selected" line: logging the model, no version yet (or pending)."""
    log = tmp_path / "stderr.txt"
    proc = start_trainer(train_args(base), store.uri, log)
    wait_in_log(proc, log, "selected ")

    assert signal_and_wait(proc, signal.SIGKILL) == -signal.SIGKILL

    assert_nothing_promoted(store)
    assert all(v.tags.get("validation_status") != "passed" for v in versions(store.client, MODEL)[1:])


def test_sigkill_while_version_is_pending(store: Store, base: Base, tmp_path: Path) -> None:
    """Killed between create_model_version (pending) and validation_status=passed."""
    log = tmp_path / "stderr.txt"
    proc = start([PYTHON, "-c", STALL_BETWEEN_STORE_CALLS, "120", *train_args(base)], store.uri, log)

    def pending() -> bool:
        assert proc.poll() is None, log_text(log)[-3000:]
        return any(v.tags.get("validation_status") == "pending" for v in versions(store.client, MODEL))

    wait_for(pending, 600, interval=0.05, what="a pending model version")
    assert signal_and_wait(proc, signal.SIGKILL) == -signal.SIGKILL

    v2 = versions(store.client, MODEL)[1]
    assert str(v2.version) == "2" and v2.tags["validation_status"] == "pending"
    assert_nothing_promoted(store)
    # the half-registered version can never be promoted, even forced
    args = ["--data", str(base.csv), "--schema", str(SCHEMA), "--recipe", str(base.recipe)]
    done = run_trainer(["promote", "--version", "2", "--force", *args], store.uri)
    assert done.returncode == 3, done.stderr[-2000:]
    assert trainer_lines(done.stderr) == [
        f"version 2 of '{MODEL}' has validation_status=pending: it can never be promoted"
    ]
    assert_nothing_promoted(store)
    assert_next_training_succeeds(store, base)
    assert passed_versions(store.client) == ["1", "3"]


def test_sigterm_during_search(store: Store, base: Base, tmp_path: Path) -> None:
    log = tmp_path / "stderr.txt"
    proc = start_in_search(base, store, log)

    code = signal_and_wait(proc, signal.SIGTERM)

    stderr = log_text(log)
    run = train_runs(store.client, EXPERIMENT)[0]
    assert run.info.status == "FAILED" and "SIGTERM" in run.data.tags["failure_reason"]
    assert_nothing_promoted(store)
    assert code == 143, stderr[-2000:]
    assert trainer_lines(stderr) == ["terminated by SIGTERM"]
    assert run.data.tags["failure_reason"] == "terminated by SIGTERM"
    # no fitting after the signal: the stalled search never ends by itself, and nothing follows it
    assert len(progress_lines(stderr)) == 1 and "selected " not in stderr


@pytest.mark.parametrize(
    "stall",
    [
        pytest.param(STALL_BETWEEN_STORE_CALLS, id="between-store-calls"),
        pytest.param(STALL_INSIDE_STORE_CALL, id="inside-a-store-call"),
    ],
)
def test_sigterm_during_registration_withdraws_the_version(
    stall: str, store: Store, base: Base, tmp_path: Path
) -> None:
    log = tmp_path / "stderr.txt"
    proc = start([PYTHON, "-c", stall, "120", *train_args(base)], store.uri, log)

    wait_in_log(proc, log, STALLED)  # the stall itself says the process is inside it
    found = versions(store.client, MODEL)
    assert len(found) == 2 and found[1].tags["validation_status"] == "pending"

    code = signal_and_wait(proc, signal.SIGTERM)

    stderr = log_text(log)
    errors = trainer_lines(stderr)
    assert re.fullmatch(rf"registration failed: version 2 of {MODEL} (withdrawn|marked failed.*)", errors[0])
    run = train_runs(store.client, EXPERIMENT)[0]
    assert run.info.status == "FAILED"
    assert run.data.tags["failure_reason"] == "terminated by SIGTERM"
    assert "registered_version" not in run.data.tags
    assert_nothing_promoted(store)  # version 2 deleted, or at worst tagged failed
    assert code == 143, stderr[-3000:]
    assert errors[-1] == "terminated by SIGTERM"


def test_sigint_during_search_marks_the_run_killed(store: Store, base: Base, tmp_path: Path) -> None:
    log = tmp_path / "stderr.txt"
    proc = start_in_search(base, store, log)

    code = signal_and_wait(proc, signal.SIGINT, log=log)

    assert_interrupted(code, log_text(log), store)


def test_sigint_when_the_parent_ignores_sigint(store: Store, base: Base, tmp_path: Path) -> None:
    """A trainer started by a parent that ignores SIGINT (a background job of a non-interactive
    shell, `make test &`, many CI and agent harnesses) inherits SIG_IGN, and Python then installs
    no KeyboardInterrupt handler. main() installs it itself: SIGINT still interrupts."""
    log = tmp_path / "stderr.txt"
    proc = start_in_search(base, store, log, ignore_sigint=True)
    assert "inherited SIGINT disposition: ignored" in log_text(log)  # the condition really holds

    code = signal_and_wait(proc, signal.SIGINT, log=log)

    assert_interrupted(code, log_text(log), store)


@pytest.mark.parametrize("after", [0, 1, 2], ids=lambda k: f"after-{k}-of-3")
def test_sigint_at_each_point_of_the_search(after: int, store: Store, base: Base, tmp_path: Path) -> None:
    """One process per point: SIGINT once `after` of the small recipe's 3 progress lines are out,
    while the next candidate is being fitted (the parent ignoring SIGINT, the harsher case)."""
    log = tmp_path / "stderr.txt"
    proc = start_in_search(base, store, log, after=after, ignore_sigint=True)

    code = signal_and_wait(proc, signal.SIGINT, log=log)

    stderr = log_text(log)
    assert_interrupted(code, stderr, store)
    assert len(progress_lines(stderr)) == after  # nothing was searched after the signal
    parent = train_runs(store.client, EXPERIMENT)[0]
    children = store.client.search_runs(
        [parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    assert len(children) == after  # one child run per candidate searched before the signal


@pytest.mark.parametrize(
    "stall",
    [
        pytest.param(STALL_AFTER_REGISTRATION, id="recording-timings"),
        pytest.param(STALL_BEFORE_PASSED, id="run-closed-before-passed"),
    ],
)
def test_sigterm_after_registration_withdraws_the_version(
    stall: str, store: Store, base: Base, tmp_path: Path
) -> None:
    log = tmp_path / "stderr.txt"
    proc = start([PYTHON, "-c", stall, "120", *train_args(base)], store.uri, log)
    wait_in_log(proc, log, STALLED)
    found = versions(store.client, MODEL)
    assert len(found) == 2 and found[1].tags["validation_status"] == "pending"

    code = signal_and_wait(proc, signal.SIGTERM)

    stderr = log_text(log)
    assert code == 143, stderr[-3000:]
    assert trainer_lines(stderr) == [
        f"registration failed: version 2 of {MODEL} withdrawn",
        "terminated by SIGTERM",
    ]
    assert [str(v.version) for v in versions(store.client, MODEL)] == ["1"]
    run = train_runs(store.client, EXPERIMENT)[0]
    assert run.info.status == "FAILED" and run.data.tags["failure_reason"] == "terminated by SIGTERM"
    assert "registered_version" not in run.data.tags
    assert_nothing_promoted(store)


def test_sigkill_after_the_alias_moved_is_repaired_by_the_next_promote(
    store: Store, base: Base, tmp_path: Path
) -> None:
    from trainer.pipeline import run_train

    with using_store(store.uri):
        assert run_train(base.csv, SCHEMA, base.recipe).model_version == f"models:/{MODEL}/2"
    args = ["promote", "--version", "2", "--data", str(base.csv), "--schema", str(SCHEMA)]
    args += ["--recipe", str(base.recipe)]
    log = tmp_path / "stderr.txt"
    proc = start([PYTHON, "-c", STALL_AFTER_ALIAS_MOVE, "120", *args], store.uri, log)
    wait_in_log(proc, log, STALLED)

    assert signal_and_wait(proc, signal.SIGKILL) == -signal.SIGKILL

    assert alias_version(store.client, MODEL) == "2"
    v2 = store.client.get_model_version(MODEL, "2")
    assert v2.tags["promotion_state"] == "pending" and v2.tags["promoted_alias"] == "champion"
    shown = run_trainer(["explain", f"models:/{MODEL}@champion"], store.uri)
    assert shown.returncode == 0, shown.stderr[-2000:]
    [promotion] = [x for x in shown.stdout.splitlines() if x.startswith("promotion:")]
    assert "promotion_state=pending" in promotion and "interrupted after the alias moved" in promotion

    again = run_trainer(args, store.uri)

    assert again.returncode == 0, again.stderr[-2000:]
    assert trainer_lines(again.stderr, "WARNING") == [
        "completed the interrupted promotion record of version 2 ('champion')"
    ]
    assert store.client.get_model_version(MODEL, "2").tags["promotion_state"] == "complete"
    shown = run_trainer(["explain", f"models:/{MODEL}@champion"], store.uri)
    [promotion] = [x for x in shown.stdout.splitlines() if x.startswith("promotion:")]
    assert "promotion_state=complete" in promotion and "promoted_from_version=1" in promotion


def test_two_trainings_at_once_on_a_fresh_store(base: Base, tmp_path: Path) -> None:
    """No database yet: both processes initialise it, train, and register distinct versions.

    The working directory is tmp_path: a store created from scratch puts its artifacts under
    ./mlruns of the working directory, which must not be the project.
    """
    uri = sqlite_uri(tmp_path / "mlflow.db")  # deliberately not initialised
    logs = [tmp_path / f"stderr-{i}.txt" for i in (1, 2)]
    procs = [start_trainer(train_args(base), uri, log, cwd=tmp_path) for log in logs]
    codes = [p.wait(300) for p in procs]

    assert codes == [0, 0], [log_text(log)[-2000:] for log in logs]
    client = MlflowClient(tracking_uri=uri)
    found = versions(client, MODEL)
    assert sorted(str(v.version) for v in found) == ["1", "2"]
    assert all(v.tags["validation_status"] == "passed" for v in found)
    runs = train_runs(client, EXPERIMENT)
    assert len(runs) == 2 and all(r.info.status == "FINISHED" for r in runs)
    assert sorted(r.data.tags["registered_version"] for r in runs) == ["1", "2"]
    assert {v.tags["training_run_id"] for v in found} == {r.info.run_id for r in runs}
    assert all(str(tmp_path) in r.info.artifact_uri for r in runs)
    assert not (ROOT / "mlruns" / "faults").exists()


def test_two_promotions_at_once_leave_one_valid_holder(base: Base, tmp_path: Path) -> None:
    from trainer.pipeline import run_train

    uri = init_store(tmp_path / "mlflow.db", [EXPERIMENT])
    other = write_recipe(tmp_path / "other.yaml", EXPERIMENT, MODEL, candidates={"dummy": {}, "linear": {}})
    with using_store(uri):
        assert run_train(base.csv, SCHEMA, base.recipe).model_version == f"models:/{MODEL}/1"
        assert run_train(base.csv, SCHEMA, other).model_version == f"models:/{MODEL}/2"
    args = ["--data", str(base.csv), "--schema", str(SCHEMA), "--recipe", str(base.recipe)]
    logs = {v: tmp_path / f"promote-{v}.txt" for v in ("1", "2")}
    procs = {
        v: start([PYTHON, "-c", STALL_AFTER_HOLDER_READ, "5", "promote", "--version", v, *args], uri, log)
        for v, log in logs.items()
    }
    codes = {v: p.wait(300) for v, p in procs.items()}

    assert set(codes.values()) <= {0, 3} and 0 in codes.values(), {v: log_text(x) for v, x in logs.items()}
    client = MlflowClient(tracking_uri=uri)
    every = [client.get_model_version(MODEL, v) for v in ("1", "2")]  # search results lack aliases
    holders = [str(v.version) for v in every if "champion" in v.aliases]
    assert len(holders) == 1 and alias_version(client, MODEL) == holders[0]
    holder = client.get_model_version(MODEL, holders[0])
    assert holder.tags["validation_status"] == "passed"
    assert codes[holders[0]] == 0 and holder.tags["promoted_alias"] == "champion"
    for v, code in codes.items():
        if code == 3:
            assert trainer_lines(log_text(logs[v]))[0].startswith(f"refused: version {v} scores")
    # Serialised promotions: the second one compares against the first one's holder, so they cannot
    # both have moved the alias "from none" (and the last writer cannot win without comparing).
    moved_from = [mv.tags.get("promoted_from_version") for mv in every if codes[str(mv.version)] == 0]
    assert moved_from.count("none") == 1, moved_from


BEFORE_FITTING = ("data contract", "features:", "[ 1/", "selected")


def assert_fails_fast(done: subprocess.CompletedProcess[str], pattern: str) -> str:
    """Exit 1 with one line, before any fitting (the markers prove it; run_trainer's timeout is a
    hang guard, not a measurement)."""
    assert done.returncode == 1, done.stderr[-3000:]
    errors = trainer_lines(done.stderr)
    assert len(errors) == 1, done.stderr[-3000:]
    assert re.search(pattern, errors[0]), errors[0]
    assert not any(marker in done.stderr for marker in BEFORE_FITTING)
    return errors[0]


def test_unavailable_http_store(base: Base) -> None:
    done = run_trainer(
        train_args(base),
        "http://127.0.0.1:1",
        timeout=300,
        MLFLOW_HTTP_REQUEST_MAX_RETRIES="0",
        MLFLOW_HTTP_REQUEST_TIMEOUT="2",
    )
    assert_fails_fast(done, r"^tracking store http://127\.0\.0\.1:1 is unavailable: ")
    assert "Traceback" not in done.stderr


def test_unreachable_postgresql_store_fails_in_seconds(base: Base) -> None:
    """A refused connection is reported at once, not after MLflow's two-minute connect retries
    (run_trainer's 60 s timeout is a hang guard: it used to take 106 s)."""
    done = run_trainer(train_args(base), f"postgresql://u:{SECRET}@127.0.0.1:1/db", timeout=60)
    line = assert_fails_fast(
        done,
        r"^tracking store postgresql\+psycopg2://u:\*\*\*@127\.0\.0\.1:1/db is unavailable: "
        r"cannot connect to 127\.0\.0\.1:1 \(Connection refused\)$",
    )
    assert SECRET not in done.stderr + line and "Traceback" not in done.stderr


def _immutable(paths: list[Path], on: bool) -> bool:
    flag = "+i" if on else "-i"
    try:
        return subprocess.run(["chattr", flag, *map(str, paths)], capture_output=True).returncode == 0
    except OSError:
        return False


@pytest.mark.parametrize("how", ["chmod", "immutable", "sqlite-ro-uri"])
def test_read_only_sqlite_store(how: str, base: Base, tmp_path: Path) -> None:
    folder = tmp_path / "store"
    folder.mkdir()
    db = folder / "mlflow.db"
    uri = init_store(db, [EXPERIMENT], template=base.db)
    restore: list[Path] = []
    if how == "chmod":
        db.chmod(0o444)
        folder.chmod(0o555)
        if os.access(db, os.W_OK) or os.access(folder, os.W_OK):
            folder.chmod(0o755)
            pytest.skip("running as root: mode 0444/0555 does not stop root from writing (see 'immutable')")
    elif how == "immutable":
        if not _immutable([db, folder], True):
            pytest.skip("chattr +i is not available here (needs root and an ext* file system)")
        restore = [db, folder]
    else:
        uri = f"sqlite:///file:{db}?mode=ro&uri=true"
    before = sha256(db)
    try:
        # cwd=tmp_path: MLflow creates the parent folder of a sqlite path, and reads `file:/...` as relative
        done = run_trainer(train_args(base), uri, timeout=300, cwd=tmp_path)
    finally:
        if restore:
            _immutable(restore, False)
        folder.chmod(0o755)
    line = assert_fails_fast(done, r"tracking store sqlite:///\S+mlflow\.db")
    assert re.search(r"(is unavailable|cannot record a run)", line)
    assert sha256(db) == before


def test_read_only_sqlite_store_message_names_the_cause(base: Base, tmp_path: Path) -> None:
    db = tmp_path / "mlflow.db"
    init_store(db, [EXPERIMENT], template=base.db)
    done = run_trainer(train_args(base), f"sqlite:///file:{db}?mode=ro&uri=true", timeout=300, cwd=tmp_path)
    assert done.returncode == 1
    [line] = trainer_lines(done.stderr)
    assert line.endswith(": attempt to write a readonly database"), line
    assert "Traceback" not in done.stderr


def test_password_in_tracking_uri_is_redacted(base: Base) -> None:
    done = run_trainer(
        train_args(base),
        f"http://user:{SECRET}@127.0.0.1:1",
        timeout=300,
        MLFLOW_HTTP_REQUEST_MAX_RETRIES="0",
        MLFLOW_HTTP_REQUEST_TIMEOUT="2",
    )
    assert done.returncode == 1
    [line] = trainer_lines(done.stderr)
    assert line.startswith("tracking store http://user:***@127.0.0.1:1 is unavailable: ")
    assert SECRET not in done.stderr and SECRET not in done.stdout


def test_token_as_the_user_part_of_the_uri_is_redacted(base: Base) -> None:
    done = run_trainer(
        ["explain", f"models:/{MODEL}/1"],
        f"http://{SECRET}@127.0.0.1:1",
        timeout=300,
        MLFLOW_HTTP_REQUEST_MAX_RETRIES="0",
        MLFLOW_HTTP_REQUEST_TIMEOUT="2",
    )
    assert done.returncode == 1
    [line] = trainer_lines(done.stderr)
    assert line.startswith("tracking store http://***@127.0.0.1:1 is unavailable: ")
    assert SECRET not in done.stderr and SECRET not in done.stdout


def test_successful_run_records_no_secrets(store: Store, base: Base) -> None:
    """Credentials in the environment never end up in params, tags, descriptions or text artifacts."""
    secrets = {
        "MLFLOW_TRACKING_PASSWORD": SECRET,
        "MLFLOW_TRACKING_TOKEN": SECRET + "-token",
        "AWS_SECRET_ACCESS_KEY": SECRET + "-aws",
        "DATABASE_PASSWORD": SECRET + "-db",
    }
    done = run_trainer(train_args(base), store.uri, **secrets)
    assert done.returncode == 0, done.stderr[-3000:]
    assert SECRET not in done.stderr + done.stdout

    client = store.client
    mv = versions(client, MODEL)[-1]
    run = client.get_run(mv.tags["training_run_id"])
    children = client.search_runs(
        [run.info.experiment_id], f"tags.mlflow.parentRunId = '{run.info.run_id}'", max_results=1000
    )
    recorded = [mv.description or "", *mv.tags.values(), client.get_registered_model(MODEL).description or ""]
    for r in [run, *children]:
        recorded += [*r.data.params.keys(), *r.data.params.values(), *r.data.tags.values()]
    assert not [x for x in recorded if SECRET in str(x)]

    texts = []
    for root, _, files in os.walk(Path(run.info.artifact_uri.removeprefix("file://"))):
        for name in files:
            if name.endswith((".md", ".json", ".yaml", ".txt", ".csv", ".html", "MLmodel")):
                texts.append((Path(root) / name).read_text(errors="replace"))
    assert texts and not [t for t in texts if SECRET in t]
