"""The model version a batch is scored or checked with, from the registry alone: the version, the
contract its training recorded (the schema and suite in its run's `contract/` artifacts, checked
against the version's digests), its task, its recipe and its fitted pipeline."""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from trainer.data.schema import Schema, load_schema
from trainer.errors import ConfigError, TrainerError
from trainer.files import file_digest, read_json, read_yaml
from trainer.recipe.settings import MonitoringSettings, load_recipe
from trainer.recipe.task import Task, make_task
from trainer.registry.audit import VALIDATION_TAG, resolve_version, training_run_id
from trainer.tracking import runs as tracking

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run
    from mlflow.entities.model_registry import ModelVersion

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Version:
    """A registered version and what its training recorded."""

    mv: ModelVersion
    run: Run  # the training run
    schema: Schema
    suite: dict[str, Any]
    task: Task
    folder: Path  # the recorded contract and recipe, downloaded

    @property
    def name(self) -> str:
        return str(self.mv.name)

    @property
    def number(self) -> str:
        return str(self.mv.version)

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.number}"

    @property
    def label(self) -> str:
        return f"{self.name} v{self.number}"

    def load_model(self) -> Any:
        """The fitted Pipeline (the sklearn flavour: probabilities as well as labels)."""
        import mlflow

        return mlflow.sklearn.load_model(self.uri)

    def recipe_file(self) -> Path | None:
        """The recipe the training recorded (`recipe/` of its run), downloaded; None if absent."""
        from mlflow import MlflowClient

        try:
            folder = MlflowClient().download_artifacts(self.run.info.run_id, "recipe", str(self.folder))
        except Exception:  # noqa: BLE001 - a run without its recipe: the defaults apply
            return None
        found = sorted(Path(folder).glob("*.y*ml"))
        return found[0] if found else None

    def monitoring(self, recipe: Path | None) -> MonitoringSettings:
        """The `monitoring:` thresholds of `recipe`, else of the recipe the version recorded, else the
        defaults (a recorded recipe this code refuses is reported and the defaults apply)."""
        path = recipe or self.recipe_file()
        if path is None:
            return MonitoringSettings()
        try:
            return load_recipe(path).monitoring
        except TrainerError as exc:
            if recipe is not None:
                raise
            log.warning(
                "the recipe version %s recorded cannot be read (%s): default thresholds", self.number, exc
            )
            return MonitoringSettings()


def task_of(tags: dict[str, str]) -> Task:
    """The version's task from its tags (a regression when it has none)."""
    if tags.get("task") != "classification":
        return Task()
    labels = tuple(json.loads(tags.get("labels") or "[]"))
    return make_task("classification", labels, tags.get("positive_class") or None, tags["selection_metric"])


def _checked(path: Path, digest: str | None, what: str, mv: ModelVersion) -> Path:
    if not path.is_file():
        raise ConfigError(
            f"version {mv.version} of '{mv.name}': its training run recorded no {what} ({path.name})"
        )
    if digest and file_digest(path) != digest:
        raise ConfigError(
            f"version {mv.version} of '{mv.name}': the recorded {what} {path.name} does not match the "
            "version's digest: it was changed after registration"
        )
    return path


def recorded_contract(client: MlflowClient, mv: ModelVersion, run: Run, folder: Path) -> Schema:
    """The schema (with its suite) the version's training validated its data against."""
    local = Path(client.download_artifacts(run.info.run_id, "contract", str(folder)))
    name = Path(run.data.params.get("schema_path") or "schema.yaml").name
    schema_file = _checked(local / name, mv.tags.get("schema_digest"), "schema", mv)
    data = read_yaml(schema_file, "recorded schema")
    suite_file = _checked(local / Path(str(data.get("suite"))).name, mv.tags.get("suite_digest"), "suite", mv)
    data["suite"] = suite_file.name  # beside it now
    here = local / "recorded-schema.yaml"
    here.write_text(yaml.safe_dump(data, sort_keys=False))
    return replace(load_schema(here), path=schema_file, digest=mv.tags.get("schema_digest", ""))


@contextmanager
def opened(uri: str) -> Iterator[Version]:
    """The version `uri` names (any form `trainer explain` takes), its recorded contract downloaded
    for the duration; a version whose registration did not complete is refused."""
    from mlflow import MlflowClient

    tracking.quiet_libraries()
    tracking.check_tracking_store(must_exist=True)
    client = MlflowClient()
    mv = resolve_version(uri)
    status = mv.tags.get(VALIDATION_TAG)
    if status != "passed":
        raise ConfigError(
            f"version {mv.version} of '{mv.name}' has {VALIDATION_TAG}={status}: not a usable model"
        )
    run = client.get_run(training_run_id(mv))
    with tempfile.TemporaryDirectory(prefix="trainer-version-") as tmp:
        schema = recorded_contract(client, mv, run, Path(tmp))
        suite = read_json(schema.suite_path, "recorded expectation suite")
        yield Version(mv, run, schema, suite, task_of(dict(mv.tags)), Path(tmp))
