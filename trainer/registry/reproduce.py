"""`trainer reproduce`: re-run the training a registered version recorded, and compare outcomes."""

from __future__ import annotations

import json
import logging
import math
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainer.errors import EXIT_ERROR, EXIT_OK, ConfigError
from trainer.files import file_digest
from trainer.registry.audit import git_state, resolve_version, training_run_id

if TYPE_CHECKING:
    from mlflow.entities.model_registry import ModelVersion

    from trainer.model.provenance import TrainingOutcome

log = logging.getLogger(__name__)


def _recorded_inputs(mv: ModelVersion) -> dict[str, Any]:
    """Paths and digests the version recorded (tags on the version, params on its run)."""
    from mlflow import MlflowClient

    run = MlflowClient().get_run(training_run_id(mv))
    params = run.data.params
    missing = [k for k in ("schema_path", "recipe_path") if k not in params] + (
        [] if "data_path" in mv.tags else ["data_path"]
    )
    if missing:
        raise ConfigError(
            f"cannot reproduce version {mv.version} of '{mv.name}': it did not record {missing}"
        )
    return {
        "run_id": run.info.run_id,
        "data_path": Path(mv.tags["data_path"]),
        "schema_path": Path(params["schema_path"]),
        "recipe_path": Path(params["recipe_path"]),
        "digests": {
            k: mv.tags.get(k) for k in ("data_digest", "schema_digest", "suite_digest", "recipe_digest")
        },
        "git_commit": mv.tags.get("git_commit"),
    }


def _download_recipe(run_id: str, recipe_name: str, into: Path) -> Path:
    """The recipe exactly as logged on the training run (not whatever is on disk now)."""
    from mlflow import MlflowClient

    return Path(MlflowClient().download_artifacts(run_id, f"recipe/{recipe_name}", str(into)))


def check_digests(recorded: dict[str, Any], recipe_path: Path) -> None:
    """Refuse when today's inputs are not the ones the version was trained from, saying which."""
    from trainer.data.schema import load_schema

    for label, path in (("data", recorded["data_path"]), ("schema", recorded["schema_path"])):
        if not path.is_file():
            raise ConfigError(f"cannot reproduce: recorded {label} file {path} is not here")
    schema = load_schema(recorded["schema_path"])
    now = {
        "data_digest": file_digest(recorded["data_path"]),
        "schema_digest": schema.digest,
        "suite_digest": file_digest(schema.suite_path) if schema.suite_path.is_file() else "missing",
        "recipe_digest": file_digest(recipe_path),
    }
    differ = [
        f"{k.removesuffix('_digest')} (recorded {str(v)[:12]}, now {now[k][:12]})"
        for k, v in recorded["digests"].items()
        if v != now[k]
    ]
    if differ:
        raise ConfigError("cannot reproduce: inputs differ from the recorded ones: " + "; ".join(differ))


def recorded_metrics(outcome: TrainingOutcome) -> dict[str, float]:
    """The re-run's numbers under the tag names the version recorded (`cv_<metric>`, `test_*`)."""
    winner = outcome.selection.winner
    return {
        f"cv_{winner.metric}": winner.cv_mean,
        f"cv_{winner.metric}_std": winner.cv_std,
        **outcome.test_metrics,
    }


def compare(mv: ModelVersion, outcome: TrainingOutcome) -> list[str]:
    """Differences between the recorded version and the re-run (empty when they match)."""
    tags = dict(mv.tags)
    winner = outcome.selection.winner
    problems = []
    if tags.get("candidate") != winner.name:
        problems.append(f"winner {winner.name} != recorded {tags.get('candidate')}")
    if json.loads(tags.get("best_params", "{}")) != json.loads(json.dumps(winner.best_params, default=str)):
        problems.append(f"params {winner.best_params} != recorded {tags.get('best_params')}")
    if tags.get("feature_digest") != outcome.feature_digest:
        problems.append("feature_digest differs")
    for key, now in recorded_metrics(outcome).items():
        recorded = float(tags.get(key, "nan"))
        if not math.isclose(recorded, now, rel_tol=0, abs_tol=5e-6):
            problems.append(f"{key} {now:.6f} != recorded {recorded:.6f}")
    return problems


def reproduce(uri: str, run_train: Callable[..., TrainingOutcome]) -> int:
    """Re-train from the version's record with `run_train` (the training path, handed over by the
    command line) into a new run (unregistered) and report the match."""
    from trainer.tracking import runs as tracking

    tracking.quiet_libraries()
    tracking.check_tracking_store(must_exist=True)
    mv = resolve_version(uri)
    recorded = _recorded_inputs(mv)
    commit, dirty = git_state()
    if recorded["git_commit"] != commit:
        log.warning(
            "code commit now %s, recorded %s: results may differ",
            commit[:12],
            str(recorded["git_commit"])[:12],
        )
    with tempfile.TemporaryDirectory() as tmp:
        recipe = _download_recipe(recorded["run_id"], recorded["recipe_path"].name, Path(tmp))
        check_digests(recorded, recipe)
        outcome = run_train(
            recorded["data_path"],
            recorded["schema_path"],
            recipe,
            register=False,
            run_tags={"reproduces": f"models:/{mv.name}/{mv.version}"},
        )
    problems = compare(mv, outcome)
    _record_verdict(outcome.run_id, problems)
    if problems:
        log.error("reproduction of models:/%s/%s differs: %s", mv.name, mv.version, "; ".join(problems))
        return EXIT_ERROR
    log.info(
        "reproduced models:/%s/%s in run %s: same winner (%s), parameters, feature digest and metrics",
        mv.name,
        mv.version,
        outcome.run_id,
        outcome.selection.winner.name,
    )
    return EXIT_OK


def _record_verdict(run_id: str, problems: list[str]) -> None:
    """The reproduce run's `reproduction` tag: `same`, or `differs: ...` naming what differs."""
    from mlflow import MlflowClient

    verdict = "same" if not problems else f"differs: {'; '.join(problems)}"
    MlflowClient().set_tag(run_id, "reproduction", verdict[:5000])
