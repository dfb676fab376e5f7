"""Registration, promotion and audit against temporary SQLite and file tracking stores."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from helpers import serving_python, write_recipe
from mlflow import MlflowClient

from trainer.cli.main import main
from trainer.errors import TrainerError
from trainer.pipeline import run_train
from trainer.registry.register import MODEL_VERSIONS_TAG

ROOT = Path(__file__).resolve().parents[1]
RAW = ROOT / "data" / "raw" / "star_grade3.csv"
SCHEMA = ROOT / "data" / "schema.yaml"
MODEL = "test-model"
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


EXPERIMENT = "registry-test"
GOOD = {"dummy": {}, "linear": {}, "hist_gradient_boosting": {"max_iter": [50]}}
WORSE = {"dummy": {}, "decision_tree": {"max_depth": [1]}}


@pytest.fixture()
def small_data(tmp_path: Path) -> Path:
    frame = pd.read_csv(RAW).sample(1500, random_state=0)
    path = tmp_path / "small.csv"
    frame.to_csv(path, index=False)
    return path


def train(data: Path, recipe: Path, **kwargs: object) -> str:
    outcome = run_train(data, SCHEMA, recipe, **kwargs)
    assert outcome.model_version
    return outcome.model_version


def raw_rows() -> pd.DataFrame:
    rows = pd.read_csv(RAW).head(4).drop(columns=["math3", "read3", "student_id", "school_id"])
    rows.loc[0, "gender"] = "unheard-of"  # unseen category
    rows.loc[1, "mathk"] = np.nan  # missing value
    rows.loc[2, "birth"] = None
    return rows


@pytest.mark.integration
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


@pytest.mark.unit
def test_model_requirements_pin_only_what_the_pipeline_loads_with(monkeypatch: pytest.MonkeyPatch) -> None:
    """A serving environment gets exact pins of the core stack, and XGBoost/CatBoost/LightGBM only if used."""
    from importlib import metadata

    from trainer.catalogue.regressors import CATALOGUE
    from trainer.data.features import build_pipeline
    from trainer.data.schema import load_schema
    from trainer.model import environment
    from trainer.search.blend import blend_pipeline

    schema = load_schema(SCHEMA)

    def pipeline(name: str) -> object:
        return build_pipeline(schema, CATALOGUE[name].encoding, CATALOGUE[name].make())

    def names(pipeline: object) -> set[str]:
        pins = environment.model_requirements(pipeline)
        assert all(re.fullmatch(r"[\w.-]+==[\w.]+", pin) for pin in pins), pins
        return {pin.split("==")[0] for pin in pins}

    core = set(environment.MODEL_DISTRIBUTIONS)
    blend = blend_pipeline([(CATALOGUE["catboost"], {}), (CATALOGUE["xgboost"], {})], schema)
    assert names(pipeline("linear")) == names(pipeline("hist_gradient_boosting")) == core
    assert names(pipeline("xgboost")) == core | {"xgboost-cpu"}
    assert names(pipeline("catboost")) == core | {"catboost"}  # found through the adapter
    assert names(pipeline("lightgbm")) == core | {"lightgbm"}
    assert names(blend) == core | {"xgboost-cpu", "catboost"}

    real = metadata.version

    def plain_xgboost(name: str) -> str:  # an environment with `xgboost` instead of `xgboost-cpu`
        if name == "xgboost-cpu":
            raise metadata.PackageNotFoundError(name)
        return real("xgboost-cpu") if name == "xgboost" else real(name)

    monkeypatch.setattr(environment.metadata, "version", plain_xgboost)
    assert names(pipeline("xgboost")) == core | {"xgboost"}
    monkeypatch.setattr(environment, "ESTIMATOR_DISTRIBUTIONS", {"xgboost": ("xgboost-cpu",)})
    with pytest.raises(
        TrainerError, match=r"the model uses xgboost but none of \['xgboost-cpu'\] is installed"
    ):
        environment.model_requirements(pipeline("xgboost"))


@pytest.mark.unit
def test_card_wording_without_a_schema_description() -> None:
    """Generic code names no dataset: without a description, the wording is neutral."""
    import dataclasses

    from trainer.data.schema import load_schema
    from trainer.registry.card import predicts, registered_model_description

    schema = dataclasses.replace(load_schema(SCHEMA), description="")
    assert predicts(schema) == "predicts `math3` from the columns in schema.yaml"
    assert registered_model_description(schema).startswith(
        "Predicts `math3` from the columns in schema.yaml: "
    )


@pytest.mark.unit
def test_importance_rows_are_bounded_seeded_and_described() -> None:
    """Permutation importance uses every holdout row up to the bound, else the same seeded sample."""
    from trainer.registry import importance

    assert importance.sample_rows(7, limit=10).tolist() == list(range(7))
    first, again = importance.sample_rows(50, limit=10), importance.sample_rows(50, limit=10)
    assert first.tolist() == again.tolist() and len(set(first)) == 10 and list(first) == sorted(first)
    assert 0 <= first.min() and first.max() < 50
    assert importance.sample_rows(50, limit=10, seed=1).tolist() != first.tolist()
    assert importance.describe(importance.MAX_ROWS).startswith(
        f"permutation importance: all {importance.MAX_ROWS}"
    )
    assert f"{importance.MAX_ROWS} of the {importance.MAX_ROWS + 1} holdout rows" in importance.describe(
        importance.MAX_ROWS + 1
    )


@pytest.mark.integration
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


@pytest.mark.integration
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


@pytest.mark.integration
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


@pytest.mark.integration
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


@pytest.mark.system
@pytest.mark.slow
def test_model_loads_in_clean_venv_without_project(
    sqlite_store: str, small_data: Path, tmp_path: Path, serving_venvs: Path
) -> None:
    """Serving is separate: the model's own requirements.txt is all a fresh env needs."""
    train(small_data, write_recipe(tmp_path / "r.yaml", EXPERIMENT, MODEL, GOOD))
    local = Path(mlflow.artifacts.download_artifacts(f"models:/{MODEL}/1", dst_path=str(tmp_path / "model")))
    py = serving_python(local / "requirements.txt", serving_venvs)
    rows = tmp_path / "rows.csv"
    raw_rows().to_csv(rows, index=False)
    script = (
        "import sys, mlflow, pandas as pd\n"
        f"assert not any(p.startswith({str(ROOT)!r}) for p in sys.path), sys.path\n"
        f"m = mlflow.sklearn.load_model({str(local)!r})\n"
        f"print(len(m.predict(pd.read_csv({str(rows)!r}))))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    out = subprocess.run([str(py), "-I", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("4")
