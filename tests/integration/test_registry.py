"""Registration, promotion and audit against temporary SQLite and file tracking stores.

(integration layer)"""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pytest
from helpers import write_recipe
from mlflow import MlflowClient
from support.registry import EXPERIMENT, GOOD, MODEL, RAW, ROOT, SCHEMA, raw_rows, small_data, train  # noqa: F401 (fixtures)

from trainer.cli.main import main
from trainer.errors import TrainerError
from trainer.pipeline import run_train
from trainer.registry.register import MODEL_VERSIONS_TAG

REQUIRED_TAGS = (
    "candidate",
    "cv_r2",
    "cv_r2_std",
    "test_r2",
    "test_rmse",
    "test_mae",
    "baseline_cv_r2",
    "data_digest",
    "schema_digest",
    "suite_digest",
    "recipe_digest",
    "feature_digest",
    "git_commit",
    "git_dirty",
    "training_run_id",
    "validation_status",
)


WORSE = {"dummy": {}, "decision_tree": {"max_depth": [1]}}


def test_register_version_with_tags_card_and_load(
    tracking_store: str, small_data: Path, tmp_path: Path
) -> None:
    uri = train(small_data, write_recipe(tmp_path / "r.yaml", EXPERIMENT, MODEL, GOOD))
    assert uri == f"models:/{MODEL}/1"
    client = MlflowClient()
    mv = client.get_model_version(MODEL, "1")
    missing = [t for t in REQUIRED_TAGS if t not in mv.tags]
    assert not missing
    assert mv.tags["validation_status"] == "passed"
    assert mv.tags["candidate"] in {"linear", "hist_gradient_boosting"}
    assert mv.description.startswith(f"# {MODEL} version 1") and "## Candidates" in mv.description
    assert "Project STAR" in mv.description.splitlines()[2]  # the schema's description of the target
    assert "- permutation importance: all 300 holdout rows, 5 repeats" in mv.description
    # the card loads this very version; `champion` exists only after a promotion
    assert f'load_model("models:/{MODEL}/1")' in mv.description
    assert "`trainer promote --version 1` gives it to this one" in mv.description
    assert f'"models:/{MODEL}@champion"' not in mv.description
    assert f"`trainer explain models:/{MODEL}@champion` says which holds it now" in mv.description
    described = client.get_registered_model(MODEL).description
    assert described.startswith("Predicts `math3`, a student's grade-3 scaled math score (Project STAR)")
    # linked both ways, so the UI shows the logged model as registered: the version's source names
    # the logged model, and the logged model's mlflow.modelVersions tag names the version
    model_id = client.get_run(mv.tags["training_run_id"]).data.tags["model_id"]
    assert mv.source == f"models:/{model_id}"
    links = json.loads(mlflow.get_logged_model(model_id).tags[MODEL_VERSIONS_TAG])
    assert [(link["name"], str(link["version"])) for link in links] == [(MODEL, "1")]
    # the model carries only the code a fitted pipeline imports
    local = Path(mlflow.artifacts.download_artifacts(uri, dst_path=str(tmp_path / "model")))
    code = sorted(
        p.relative_to(local / "code").as_posix()
        for p in (local / "code").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    )
    assert code == ["trainer/__init__.py", "trainer/transforms.py"]
    run = client.get_run(mv.tags["training_run_id"])
    assert {"test_r2", "best_cv_r2"} <= set(run.data.metrics)
    # mlflow.models.evaluate scored the logged artifact on the holdout: the same R² as the trained one
    assert abs(run.data.metrics["r2_score"] - run.data.metrics["test_r2"]) <= 1e-9
    assert "holdout" in {d.dataset.name for d in run.inputs.dataset_inputs}
    model = mlflow.sklearn.load_model(uri)
    pred = model.predict(raw_rows())
    assert pred.shape == (4,) and np.all(np.isfinite(pred))
    assert mlflow.pyfunc.load_model(uri).metadata.signature is not None


def test_promote_refuse_force_and_failed_versions(
    sqlite_store: str, small_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good, worse = (
        write_recipe(tmp_path / "good.yaml", EXPERIMENT, MODEL, GOOD),
        write_recipe(
            tmp_path / "worse.yaml",
            EXPERIMENT,
            MODEL,
            WORSE,
            gates={"min_cv_r2": -1.0, "min_improvement": 0.0},
        ),
    )
    client = MlflowClient()
    train(small_data, good)
    client.update_registered_model(MODEL, description="edited in the UI")
    train(small_data, worse)
    assert client.get_registered_model(MODEL).description == "edited in the UI"  # never overwritten
    args = ["--recipe", str(good), "--data", str(small_data)]

    assert main(["promote", "--version", "1", *args]) == 0
    assert str(client.get_model_version_by_alias(MODEL, "champion").version) == "1"
    v1 = client.get_model_version(MODEL, "1").tags
    assert v1["promoted_alias"] == "champion" and v1["promotion_forced"] == "false"

    assert main(["promote", "--version", "2", *args]) == 3  # worse: refused
    assert str(client.get_model_version_by_alias(MODEL, "champion").version) == "1"

    assert main(["promote", "--version", "2", "--force", *args]) == 0
    v2 = client.get_model_version(MODEL, "2").tags
    assert v2["promotion_forced"] == "true" and v2["promoted_from_version"] == "1"
    assert str(client.get_model_version_by_alias(MODEL, "champion").version) == "2"

    client.set_model_version_tag(MODEL, "1", "validation_status", "failed")
    assert main(["promote", "--version", "1", "--force", *args]) == 3
    assert str(client.get_model_version_by_alias(MODEL, "champion").version) == "2"
    assert main(["promote", "--version", "99", *args]) == 1

    model = mlflow.sklearn.load_model(f"models:/{MODEL}@champion")
    assert model.predict(raw_rows()).shape == (4,)

    # under `mlflow run . -e promote`: the run MLflow opened says what was promoted, or why not
    launcher = client.get_experiment_by_name("test").experiment_id  # mlflow run's, e.g. Default
    for version, code in (("2", 0), ("1", 3)):
        launched = client.create_run(launcher).info.run_id
        monkeypatch.setenv("MLFLOW_RUN_ID", launched)
        assert main(["promote", "--version", version, "--alias", "staging", *args]) == code
        run = client.get_run(launched)
        assert run.info.run_name == f"promote version {version} to 'staging'"
        assert run.data.tags["trainer_command"] == "promote" and run.data.tags["registered_model"] == MODEL
    assert client.get_run(launched).data.tags["mlflow.note.content"] == (
        f"**FAILED**: version 1 of '{MODEL}' has validation_status=failed: it can never be promoted"
    )


def test_explain_from_registry_alone(sqlite_store: str, small_data: Path, tmp_path: Path, capsys) -> None:
    train(small_data, write_recipe(tmp_path / "r.yaml", EXPERIMENT, MODEL, GOOD))
    mv = MlflowClient().get_model_version(MODEL, "1")
    small_data.unlink()  # local inputs gone: explain must not need them
    assert main(["explain", f"models:/{MODEL}/1"]) == 0
    text = capsys.readouterr().out
    assert mv.tags["candidate"] in text and mv.tags["data_digest"] in text
    assert "leaderboard" in text
    assert main(["explain", f"models:/{MODEL}/1", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["digests"]["feature_digest"] == mv.tags["feature_digest"]
    assert record["winner"]["candidate"] == mv.tags["candidate"]
    assert record["dependencies"]["scikit-learn"]
    assert main(["explain", f"models:/{MODEL}@nobody"]) == 1
    assert main(["explain", "not-a-uri"]) == 1


def test_failure_after_registration_leaves_no_valid_version(
    sqlite_store: str, small_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recipe = write_recipe(tmp_path / "r.yaml", EXPERIMENT, MODEL, GOOD)
    written = {}

    def fail(self: MlflowClient, name: str, version: str, description: str | None = None) -> None:
        written.update(tags=dict(self.get_model_version(name, version).tags))
        raise TrainerError("injected failure after registration")

    with monkeypatch.context() as patch:  # the model card is the last write before `passed`
        patch.setattr(MlflowClient, "update_model_version", fail)
        with pytest.raises(TrainerError, match="injected"):
            run_train(small_data, SCHEMA, recipe)
    assert written["tags"]["validation_status"] == "pending"  # the version existed when it failed
    client = MlflowClient()
    versions = client.search_model_versions(f"name='{MODEL}'")
    assert all(v.tags.get("validation_status") != "passed" for v in versions)
    assert versions == []  # withdrawn: deleted, and its logged model no longer names it
    experiment = client.get_experiment_by_name("registry-test").experiment_id
    logged = mlflow.search_logged_models(experiment_ids=[experiment], output_format="list")
    assert logged and all(MODEL_VERSIONS_TAG not in m.tags for m in logged)
    run = client.search_runs(
        [client.get_experiment_by_name("registry-test").experiment_id],
        "tags.trainer_command = 'train'",
    )[0]
    assert run.info.status == "FAILED" and "injected" in run.data.tags["failure_reason"]
    assert train(small_data, recipe)  # the next run succeeds


def test_logged_model_that_scores_differently_is_never_registered(
    sqlite_store: str, small_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the serialized model does not reproduce the trained pipeline's holdout R², stop."""
    evaluate = mlflow.models.evaluate

    def drifted(*args: object, **kwargs: object) -> object:
        result = evaluate(*args, **kwargs)
        result.metrics["r2_score"] -= 0.01
        return result

    monkeypatch.setattr(mlflow.models, "evaluate", drifted)
    with pytest.raises(TrainerError, match=r"serialization changed the model; nothing registered"):
        run_train(small_data, SCHEMA, write_recipe(tmp_path / "r.yaml", EXPERIMENT, MODEL, GOOD))
    assert MlflowClient().search_model_versions(f"name='{MODEL}'") == []
