"""The team tracking server (deploy/server.sh): PostgreSQL + `mlflow server`, used over HTTP only.

One server per module: deploy/server.sh runs `initdb` into a fresh directory, `pg_ctl start` on a
free loopback port as a non-root user (PostgreSQL refuses root), then `mlflow server` on another
free port. Trainings and promotions run as separate `python -m trainer` processes pointed at it
with MLFLOW_TRACKING_URI, and every check reads the server's REST API (or PostgreSQL itself).

(system layer)"""

from __future__ import annotations

import base64
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.error
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


Account = tuple[str, str]  # (user, password)


class TeamServer:
    """Handle on a running deploy/server.sh: URL, state directory, the admin's account, REST helpers
    (as the admin unless told otherwise)."""

    def __init__(self, url: str, state: Path, pg_port: int) -> None:
        self.url, self.state, self.pg_port = url, state, pg_port
        self.admin: Account = ("admin", (state / "admin_password").read_text().strip())

    def call(
        self, method: str, path: str, body: dict[str, Any] | None = None, user: Account | None = None
    ) -> tuple[int, Any]:
        """(HTTP status, JSON body or text) of one REST call, signed in as `user` (None: no one)."""
        headers = {"Content-Type": "application/json"}
        if user is not None:
            headers["Authorization"] = "Basic " + base64.b64encode(":".join(user).encode()).decode()
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.url}{path}", data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode(errors="replace")

    def get(self, path: str, **params: str) -> dict[str, Any]:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        status, body = self.call("GET", f"{path}{query}", user=self.admin)
        assert status == 200, (path, status, body)
        return body

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        status, answer = self.call("POST", path, body, user=self.admin)
        assert status == 200, (path, status, answer)
        return answer

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


def _env(server: TeamServer, user: Account | None) -> dict[str, str]:
    """A trainer's environment: the server, and the account it signs in with (None: no one)."""
    env = {**os.environ, "MLFLOW_TRACKING_URI": server.url, "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}
    for var in (
        "MLFLOW_RUN_ID",
        "MLFLOW_EXPERIMENT_ID",
        "MLFLOW_EXPERIMENT_NAME",
        "TRAINER_DASK_SCHEDULER",
        "MLFLOW_TRACKING_USERNAME",
        "MLFLOW_TRACKING_PASSWORD",
    ):
        env.pop(var, None)
    if user is not None:
        env["MLFLOW_TRACKING_USERNAME"], env["MLFLOW_TRACKING_PASSWORD"] = user
    return env


NOBODY: Account = ("", "")  # a trainer that signs in as no one


def _trainer(server: TeamServer, *args: str, user: Account | None = None) -> subprocess.Popen[str]:
    """`trainer ARGS` signed in as `user` (None: the admin; NOBODY: no one)."""
    env = _env(server, server.admin if user is None else None if user == NOBODY else user)
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


# --- sign-in and roles (issue 26): the same server, started once for the module ---------------------


def _roles(server: TeamServer, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """`python -m trainer.team_server.roles ARGS` as the admin (its password from the state dir)."""
    env = {**_env(server, None), "STATE_DIR": str(server.state)}
    python = str(PYTHON) if PYTHON.exists() else sys.executable
    return subprocess.run(
        [python, "-m", "trainer.team_server.roles", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_sign_in_is_on_by_default_with_secrets_in_files_never_on_a_command_line(
    team_server: TeamServer,
) -> None:
    assert team_server.call("GET", "/api/2.0/mlflow/experiments/search?max_results=1")[0] == 401
    assert (
        team_server.call("GET", "/api/2.0/mlflow/experiments/search?max_results=1", user=("admin", "x"))[0]
        == 401
    )
    status, _ = team_server.call(
        "GET", "/api/2.0/mlflow/experiments/search?max_results=1", user=team_server.admin
    )
    assert status == 200 and _healthy(team_server.url)  # /health needs no sign-in
    secrets = {
        name: (team_server.state / name).read_text().strip()
        for name in ("admin_password", "flask_secret_key")
    }
    assert all(len(v) >= 32 and v != "password1234" for v in secrets.values())
    for name in ("admin_password", "flask_secret_key", "auth.ini", "pgpass"):
        assert (team_server.state / name).stat().st_mode & 0o777 == 0o600, name
    ini = (team_server.state / "auth.ini").read_text()
    assert "default_permission = READ" in ini and f"/{'mlflow_auth'}" in ini
    group = int((team_server.state / "mlflow.pid").read_text())
    for pid in [p for p in os.listdir("/proc") if p.isdigit()]:
        try:
            if os.getpgid(int(pid)) != group:
                continue
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except (ProcessLookupError, FileNotFoundError, PermissionError):
            continue
        assert not any(v in cmdline for v in secrets.values()), f"a secret on the command line of {pid}"
    assert not any(v in (team_server.state / "server.out").read_text() for v in secrets.values())
    # the accounts live in their own database of the same PostgreSQL
    assert team_server.sql("SELECT count(*) FROM pg_database WHERE datname = 'mlflow_auth'") == "1"


def test_no_auth_is_refused_beyond_loopback(tmp_path: Path) -> None:
    done = subprocess.run(
        ["bash", str(SERVER_SH), "--no-auth"],
        env={**os.environ, "STATE_DIR": str(tmp_path), "MLFLOW_HOST": "0.0.0.0"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "server.sh: error: --no-auth serves only loopback: MLFLOW_HOST=0.0.0.0 would let anyone who reaches "
        "the port log runs and move aliases"
    ]
    assert list(tmp_path.iterdir()) == []  # nothing started, nothing written
