"""Run the cross-validation fits on a Dask cluster instead of local processes.

`trainer train --dask-scheduler tcp://HOST:PORT` (or env TRAINER_DASK_SCHEDULER) calls
`use_dask(address)` before anything is fitted. It

1. connects a `dask.distributed.Client` (failing with one `TrainerError` line, exit 1, when the
   scheduler cannot be reached or has no workers);
2. checks every worker against this process: the libraries that fit the models (scikit-learn,
   numpy, pandas, scipy, joblib, xgboost, catboost, lightgbm) must have the same versions, otherwise the CV
   scores would not be those of a local run; and the `trainer` package must be importable with the
   same source. Workers that cannot import `trainer` at all get this checkout uploaded as a zip
   (`Client.upload_file`); workers that import a *different* `trainer` are refused, because
   Python cannot reliably replace an already imported package in a running worker;
3. makes joblib's `dask` backend the process-wide default (`joblib.parallel_config`, entered and
   kept), so `GridSearchCV(n_jobs=...)` in `trainer.search.candidate_search` sends its fits to the cluster. Under
   the dask backend the parallelism is the cluster's total thread count whatever the recipe's
   `n_jobs` says (joblib hands even `n_jobs=1` calls to the cluster).

Selection, refit of the winner, MLflow logging and registration stay in the calling process: only
the pure, deterministic CV fits move, so a Dask run gives the same scores, winner and feature digest
as a local one. `stop_dask()` restores joblib's default backend and closes the client.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import socket
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trainer.catalogue.libraries import ESTIMATOR_DISTRIBUTIONS
from trainer.errors import TrainerError, one_line

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 10.0
PACKAGE_DIR = Path(__file__).resolve().parents[1]  # trainer/
# Libraries whose version changes what a fit computes: distribution names, first installed wins.
FIT_LIBRARIES: dict[str, tuple[str, ...]] = {
    **{name: (name,) for name in ("scikit-learn", "numpy", "pandas", "scipy", "joblib")},
    **ESTIMATOR_DISTRIBUTIONS,
}

_state: dict[str, Any] = {"client": None, "config": None, "address": None}


def _make_probe() -> Callable[[dict[str, tuple[str, ...]]], dict[str, Any]]:  # noqa: C901 - three small closures, counted as one
    """The environment probe, built from closures so cloudpickle ships it by value.

    A module-level function would be pickled by reference (`trainer.search.dask_workers._probe`) and could
    not even be loaded by a worker that lacks `trainer`, which is one of the things it must detect.
    """

    def installed(dists: tuple[str, ...]) -> str | None:
        import importlib.metadata

        for dist in dists:
            try:
                return importlib.metadata.version(dist)
            except importlib.metadata.PackageNotFoundError:
                continue
        return None

    def python_sources(root: Any) -> list[tuple[str, Any]]:
        pending, files = [(root, "")], []
        while pending:
            node, prefix = pending.pop()
            for child in node.iterdir():
                if child.is_dir() and child.name != "__pycache__":
                    pending.append((child, f"{prefix}{child.name}/"))
                elif child.name.endswith(".py"):
                    files.append((f"{prefix}{child.name}", child))
        return sorted(files, key=lambda item: item[0])

    def probe(libraries: dict[str, tuple[str, ...]]) -> dict[str, Any]:
        import hashlib
        import importlib
        import importlib.resources

        versions = {lib: installed(dists) for lib, dists in libraries.items()}
        try:
            root = importlib.resources.files(importlib.import_module("trainer"))
        except Exception:  # noqa: BLE001 - "not importable" is an answer, not a failure
            return {"versions": versions, "trainer_digest": None}
        h = hashlib.sha256()
        for rel, child in python_sources(root):
            h.update(rel.encode() + b"\0" + child.read_bytes() + b"\0")
        return {"versions": versions, "trainer_digest": h.hexdigest()}

    return probe


def local_environment() -> dict[str, Any]:
    """What this process would fit with: library versions and the digest of `trainer`'s source."""
    return _make_probe()(FIT_LIBRARIES)


def package_zip(directory: Path, digest: str) -> Path:
    """Zip the `trainer` package's sources (importable from the zip) into `directory`."""
    path = Path(directory) / f"trainer-{digest[:12]}.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for source in sorted(PACKAGE_DIR.rglob("*.py")):
            if "__pycache__" not in source.parts:
                zf.write(source, Path("trainer") / source.relative_to(PACKAGE_DIR))
    return path


def _refused_fast(address: str, timeout: float) -> None:
    """For tcp:// addresses, one plain socket connect first: a refused port fails at once.

    (dask's own connect retries a refused port until its timeout, which delays a typo by 10 s.)
    """
    from distributed.comm import parse_address, parse_host_port

    try:
        scheme, location = parse_address(address)
        if scheme != "tcp":
            return
        host, port = parse_host_port(location, default_port=8786)
    except (ValueError, TypeError) as exc:
        raise TrainerError(
            f"dask scheduler {address!r} is not an address like tcp://HOST:PORT: {one_line(exc)}"
        )
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        raise TrainerError(f"dask scheduler {address} is unreachable: {exc.strerror or one_line(exc)}")


def _handshake(address: str, timeout: float) -> None:
    """Open one Dask comm with a hard deadline, so a port that is not a Dask scheduler fails.

    `Client(address, timeout=...)` bounds the TCP connect but not the protocol handshake after it:
    pointed at, say, an HTTP server (the MLflow port), it waits forever.
    """
    from distributed.comm import connect as comm_connect

    async def attempt() -> None:
        comm = await asyncio.wait_for(comm_connect(address, timeout=timeout), timeout)
        await comm.close()

    try:
        asyncio.get_running_loop()
        return  # inside someone's event loop (a notebook): leave it to the Client
    except RuntimeError:
        pass
    try:
        asyncio.run(attempt())
    except TimeoutError:
        raise TrainerError(
            f"dask scheduler {address} is unreachable: no Dask handshake within {timeout:g} s "
            "(is it a Dask scheduler port?)"
        )
    except Exception as exc:  # noqa: BLE001 - OSError, ValueError (bad address): one line
        raise TrainerError(f"dask scheduler {address} is unreachable: {one_line(exc)}")


def connect(address: str, timeout: float = DEFAULT_TIMEOUT_S) -> Any:
    """A client of the scheduler at `address` with at least one worker, or a one-line TrainerError."""
    try:
        from dask.distributed import Client
    except ImportError as exc:
        raise TrainerError(f"--dask-scheduler needs dask[distributed] installed: {one_line(exc)}")
    logging.getLogger("distributed").setLevel(logging.WARNING)
    _refused_fast(address, timeout)
    _handshake(address, timeout)
    try:
        client = Client(address, timeout=timeout, set_as_default=False)
    except Exception as exc:  # noqa: BLE001 - OSError, TimeoutError, ValueError: one line
        raise TrainerError(f"dask scheduler {address} is unreachable: {one_line(exc)}")
    try:
        client.wait_for_workers(1, timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - dask's TimeoutError
        client.close()
        raise TrainerError(f"dask scheduler {address} has no workers after {timeout:g} s: {one_line(exc)}")
    return client


def check_workers(client: Any, local: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Make every worker fit with this process's code and libraries; upload `trainer` if absent.

    Returns each worker's probe result. Raises TrainerError on a library version mismatch or a
    worker that imports a different `trainer` than this checkout.
    """
    local = local or local_environment()
    probe = _make_probe()
    remote: dict[str, dict[str, Any]] = client.run(probe, FIT_LIBRARIES)
    missing = [w for w, env in remote.items() if env["trainer_digest"] is None]
    if missing:
        with tempfile.TemporaryDirectory(prefix="trainer-upload-") as tmp:
            archive = package_zip(Path(tmp), local["trainer_digest"])
            log.info(
                "uploading %s to %d dask worker(s) that cannot import trainer", archive.name, len(missing)
            )
            client.upload_file(str(archive), load=True)
        remote = client.run(probe, FIT_LIBRARIES)
    for worker, env in sorted(remote.items()):
        for lib, version in local["versions"].items():
            if version is not None and env["versions"].get(lib) != version:
                raise TrainerError(
                    f"dask worker {worker} has {lib} {env['versions'].get(lib) or 'not installed'}, "
                    f"this process {version}: install requirements.txt on the workers "
                    "(CV scores must not depend on where a fit ran)"
                )
        if env["trainer_digest"] != local["trainer_digest"]:
            raise TrainerError(
                f"dask worker {worker} imports a different trainer "
                f"({str(env['trainer_digest'])[:12]} vs {local['trainer_digest'][:12]} here): restart the "
                "workers with this checkout installed, or without trainer installed so it is uploaded"
            )
    return remote


def use_dask(address: str, timeout: float = DEFAULT_TIMEOUT_S) -> Any:
    """Connect, check the workers, and route every joblib fit of this process to the cluster.

    Call before any fitting; the backend stays active until `stop_dask()` or process exit.
    Returns the `dask.distributed.Client`.
    """
    stop_dask()
    client = connect(address, timeout)
    try:
        try:
            check_workers(client)
        except TrainerError:
            raise
        except Exception as exc:  # noqa: BLE001 - e.g. a worker died during the probe: one line
            raise TrainerError(f"dask workers at {address} could not be checked: {one_line(exc)}")
        from joblib import parallel_config

        # Constructing parallel_config already activates it for this thread; it is kept (never
        # exited) so the rest of the run, GridSearchCV included, uses the dask backend.
        config = parallel_config(backend="dask", client=client)
    except BaseException:
        client.close()
        raise
    _state.update(client=client, config=config, address=address)
    threads = sum(client.nthreads().values())
    log.info("dask: CV fits run on %s (%d workers, %d threads)", address, len(client.nthreads()), threads)
    return client


def stop_dask() -> None:
    """Restore joblib's previous backend and close the client (no-op when Dask is not in use)."""
    config, client = _state["config"], _state["client"]
    _state.update(client=None, config=None, address=None)
    if config is not None:
        config.unregister()
    if client is not None:
        try:
            client.close()
        except Exception as exc:  # noqa: BLE001 - closing is best effort
            log.debug("closing the dask client: %s", exc)


def active_scheduler() -> str | None:
    """The scheduler address joblib currently sends fits to, if any."""
    return _state["address"]


atexit.register(stop_dask)
