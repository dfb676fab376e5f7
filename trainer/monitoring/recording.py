"""How `predict` and `monitor` are recorded: a run in the version's own experiment, linked to the
version (its logged model as the run's model input, its name and number as tags) with the batch as
the run's input dataset."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainer.files import absolute, file_digest
from trainer.tracking import runs as tracking
from trainer.tracking.lineage import logged_despite_a_concurrent_run

if TYPE_CHECKING:
    from trainer.monitoring.version import Version


def model_id(version: Version) -> str:
    """The logged model behind the version (a local registry keeps it only in the source URI)."""
    return str(version.mv.model_id or str(version.mv.source).removeprefix("models:/"))


@contextmanager
def version_run(command: str, version: Version, data: Path, params: dict[str, Any]) -> Iterator[Any]:
    """A run named `<command> NAME vN <time>` in the experiment the version was trained in; FAILED
    with the reason on any error (`tracking.parent_run`)."""
    import mlflow

    experiment = mlflow.MlflowClient().get_experiment(version.run.info.experiment_id).name
    launched = tracking.use_experiment(str(experiment))
    tags = {
        "trainer_command": command,
        "registered_model": version.name,
        "version": version.number,
        "model_uri": version.uri,
        "model_id": model_id(version),
    }
    with tracking.parent_run(tracking.run_name(command, version.label), tags, launched) as run:
        mlflow.log_params({"data_path": absolute(data), **params})
        _log_inputs(command, version, data)
        yield run


def _log_inputs(command: str, version: Version, data: Path) -> None:
    """The batch (its path and sha256; its rows are never copied) and the version's logged model
    (a run's model input, as the UI shows it: `mlflow.log_inputs` takes models on Databricks only)."""
    import mlflow
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.data.meta_dataset import MetaDataset
    from mlflow.entities import LoggedModelInput

    digest = file_digest(data)
    mlflow.log_param("data_digest", digest)
    dataset = MetaDataset(  # type: ignore[abstract]  # its profile is abstract in MLflow's types only
        resolve_dataset_source(absolute(data)), name=data.name, digest=digest[:32]
    )
    logged_despite_a_concurrent_run(lambda: mlflow.log_input(dataset, context=command), data.name)
    run_id = mlflow.active_run().info.run_id  # type: ignore[union-attr]
    mlflow.MlflowClient().log_inputs(run_id, models=[LoggedModelInput(model_id(version))])
