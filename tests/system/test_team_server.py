"""The team tracking server (deploy/server.sh): PostgreSQL + `mlflow server`, used over HTTP only.

One server per module: deploy/server.sh runs `initdb` into a fresh directory, `pg_ctl start` on a
free loopback port as a non-root user (PostgreSQL refuses root), then `mlflow server` on another
free port. Trainings and promotions run as separate `python -m trainer` processes pointed at it
with MLFLOW_TRACKING_URI, and every check reads the server's REST API (or PostgreSQL itself).

(system layer)"""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import ROOT, SCHEMA, free_ports, sha256, wait_for

pytestmark = pytest.mark.slow

SERVER_SH = ROOT / "deploy" / "server.sh"


PYTHON = ROOT / ".venv" / "bin" / "python"


def _pg_bin() -> Path | None:
    """Where initdb / pg_ctl live (same search order as deploy/server.sh)."""
    candidates = []
    if os.environ.get("PG_BIN"):
        candidates.append(os.environ["PG_BIN"])
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        candidates.append(out.stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))[::-1]
    if shutil.which("pg_ctl"):
        candidates.append(str(Path(shutil.which("pg_ctl") or "").parent))
    for c in candidates:
        if c and all((Path(c) / tool).exists() for tool in ("initdb", "pg_ctl", "postgres", "psql")):
            return Path(c)
    return None


PG_BIN = _pg_bin()
if PG_BIN is None:
    pytest.skip(
        "PostgreSQL binaries (initdb, pg_ctl, postgres, psql) not found: install PostgreSQL or set PG_BIN",
        allow_module_level=True,
    )


def _pg_user() -> str | None:
    """The OS user PostgreSQL runs as (deploy/server.sh's choice), or None when we are not root."""
    return os.environ.get("PG_OS_USER", "postgres") if os.geteuid() == 0 else None


def _as_pg(cmd: list[str]) -> list[str]:
    user = _pg_user()
    return ["runuser", "-u", user, "--", *cmd] if user else cmd


class TeamServer:
    """Handle on a running deploy/server.sh: URL, state directory, REST helpers."""

    def __init__(self, url: str, state: Path, pg_port: int) -> None:
        self.url, self.state, self.pg_port = url, state, pg_port

    def get(self, path: str, **params: str) -> dict[str, Any]:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}{path}{query}", timeout=30) as resp:
            return json.loads(resp.read())

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        req = urllib.request.Request(
            f"{self.url}{path}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())

    def runs(self, experiment: str) -> list[dict[str, Any]]:
        exp = self.get("/api/2.0/mlflow/experiments/get-by-name", experiment_name=experiment)
        found = self.post(
            "/api/2.0/mlflow/runs/search",
            {"experiment_ids": [exp["experiment"]["experiment_id"]], "max_results": 1000},
        )
        return found.get("runs", [])

    def version(self, name: str, version: str) -> dict[str, Any]:
        mv = self.get("/api/2.0/mlflow/model-versions/get", name=name, version=version)["model_version"]
        mv["tags"] = {t["key"]: t["value"] for t in mv.get("tags", [])}
        return mv

    def sql(self, query: str) -> str:
        """One value straight from PostgreSQL (proves where the records live)."""
        done = subprocess.run(
            _as_pg(
                [
                    str(PG_BIN / "psql"),
                    "-X",
                    "-tA",
                    "-h",
                    str(self.state / "pgdata"),
                    "-p",
                    str(self.pg_port),
                    "-d",
                    "mlflow",
                    "-c",
                    query,
                ]
            ),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return done.stdout.strip()


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


def _stop(proc: subprocess.Popen[bytes], state: Path) -> None:
    """Terminate server.sh (it stops MLflow and PostgreSQL); then make sure both really are gone."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    pid_file = state / "mlflow.pid"
    if pid_file.exists():  # server.sh was killed before its cleanup: end MLflow's process group
        try:
            os.killpg(int(pid_file.read_text()), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass
    if (state / "pgdata" / "postmaster.pid").exists():
        subprocess.run(
            _as_pg([str(PG_BIN / "pg_ctl"), "stop", "-D", str(state / "pgdata"), "-m", "immediate", "-w"]),
            capture_output=True,
            timeout=60,
        )


@pytest.fixture(scope="module")
def team_server() -> Iterator[TeamServer]:
    # Not under pytest's tmp_path: /tmp/pytest-of-root is mode 700 and PostgreSQL runs as another user.
    state = Path(tempfile.mkdtemp(prefix="trainer-team-"))
    state.chmod(0o755)
    pg_port, port = free_ports(2)
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "STATE_DIR": str(state),
        "PG_PORT": str(pg_port),
        "PG_BIN": str(PG_BIN),
        "MLFLOW_PORT": str(port),
        "MLFLOW_WORKERS": "2",
    }
    log = (state / "server.out").open("wb")
    proc = subprocess.Popen(
        ["bash", str(SERVER_SH)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        # the event is /health answering; 180 s is a hang guard
        wait_for(lambda: _healthy(url) or proc.poll() is not None, 180, interval=0.5, what="deploy/server.sh")
        if not _healthy(url):
            pytest.fail(f"deploy/server.sh did not come up:\n{(state / 'server.out').read_text()[-4000:]}")
        yield TeamServer(url, state, pg_port)
    finally:
        _stop(proc, state)
        log.close()
        assert not _healthy(url), "mlflow server still answering after the stop"
        shutil.rmtree(state, ignore_errors=True)


def _trainer(server: TeamServer, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "MLFLOW_TRACKING_URI": server.url, "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}
    for var in ("MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME", "TRAINER_DASK_SCHEDULER"):
        env.pop(var, None)
    python = str(PYTHON) if PYTHON.exists() else sys.executable
    return subprocess.Popen(
        [python, "-m", "trainer", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _finish(proc: subprocess.Popen[str], timeout: int = 600) -> tuple[int, str]:
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, out


def test_train_promote_and_audit_through_the_team_server(
    team_server: TeamServer, sample_csv: Path, make_recipe: Callable[..., Path]
) -> None:
    recipe = make_recipe(experiment="team-test", registered_model="team-test")
    rc, out = _finish(_trainer(team_server, "train", "--data", str(sample_csv), "--recipe", str(recipe)))
    assert rc == 0, out[-3000:]
    assert "registered models:/team-test/1" in out

    rc, out = _finish(
        _trainer(team_server, "promote", "--version", "1", "--recipe", str(recipe), "--data", str(sample_csv))
    )
    assert rc == 0, out[-3000:]

    runs = team_server.runs("team-test")
    parents = [r for r in runs if {"key": "trainer_command", "value": "train"} in r["data"].get("tags", [])]
    assert len(parents) == 1
    parent = parents[0]
    assert parent["info"]["status"] == "FINISHED"
    assert len(runs) == 1 + 3 + 2  # parent, one child per candidate, a grandchild per point of ridge's grid
    parent_id = parent["info"]["run_id"]

    mv = team_server.version("team-test", "1")
    tags = mv["tags"]
    assert tags["validation_status"] == "passed"
    assert tags["candidate"] in {"linear", "ridge"}
    assert tags["data_digest"] == sha256(sample_csv)
    assert tags["schema_digest"] == sha256(SCHEMA)
    assert tags["training_run_id"] == parent_id == mv["run_id"]
    assert tags["promoted_alias"] == "champion"
    assert tags["promotion_forced"] == "false"

    alias = team_server.get("/api/2.0/mlflow/registered-models/alias", name="team-test", alias="champion")
    assert alias["model_version"]["version"] == "1"

    # where things live: records in PostgreSQL, artifacts in the server's shared directory
    assert team_server.sql("SELECT count(*) FROM model_versions WHERE name = 'team-test'") == "1"
    assert team_server.sql(f"SELECT status FROM runs WHERE run_uuid = '{parent_id}'") == "FINISHED"
    assert list((team_server.state / "artifacts").rglob("MLmodel")), "model not in the shared artifact dir"
    assert list((team_server.state / "artifacts").rglob("leaderboard.csv"))


def test_two_trainings_started_at_once_land_as_distinct_versions(
    team_server: TeamServer, sample_csv: Path, make_recipe: Callable[..., Path]
) -> None:
    recipe = make_recipe(experiment="team-concurrent", registered_model="team-concurrent")
    # Two *first* trainings of a new experiment race to create it (see the test below).
    args = ("train", "--data", str(sample_csv), "--recipe", str(recipe))
    procs = [_trainer(team_server, *args), _trainer(team_server, *args)]
    results = [_finish(p) for p in procs]
    for rc, out in results:
        assert rc == 0, out[-3000:]

    found = team_server.get("/api/2.0/mlflow/model-versions/search", filter="name='team-concurrent'")
    versions = sorted(found["model_versions"], key=lambda v: int(v["version"]))
    assert [v["version"] for v in versions] == ["1", "2"]
    assert len({v["run_id"] for v in versions}) == 2
    for v in versions:
        mv = team_server.version("team-concurrent", v["version"])
        assert mv["tags"]["validation_status"] == "passed"
        assert mv["tags"]["data_digest"] == sha256(sample_csv)
    registered = sorted(
        line.rsplit("/", 1)[-1]
        for _, out in results
        for line in out.splitlines()
        if "registered models:/team-concurrent/" in line
    )
    assert registered == ["1", "2"]
    parents = [
        r
        for r in team_server.runs("team-concurrent")
        if not any(t["key"] == "mlflow.parentRunId" for t in r["data"].get("tags", []))
    ]
    assert len(parents) == 2 and all(p["info"]["status"] == "FINISHED" for p in parents)
