"""The text a registered model shows: each version's model card and the model's description."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from trainer.files import absolute
from trainer.recipe.task import positive_rates
from trainer.registry import importance
from trainer.text import code, markdown_table, md, names

if TYPE_CHECKING:
    from trainer.data.contract import ContractResult
    from trainer.data.schema import Schema
    from trainer.model.provenance import TrainingContext
    from trainer.search.selection import Selection

BOARD_COLUMNS = ["rank", "candidate", "cv_r2_mean", "cv_r2_std", "status"]


def run_description(
    selection: Selection, test_metrics: dict[str, float], data: ContractResult, version: str | None
) -> str:
    """The training run's description in the MLflow UI: what was chosen, on which data, where it went."""
    winner, baseline, metric = selection.winner, selection.baseline, selection.winner.metric
    holdout = test_metrics.get(f"test_{metric}")
    went = (
        f"Registered as {code(version)} (its model card is on the version's page)."
        if version
        else "Not registered (`--no-register`)."
    )
    return (
        f"**{md(winner.name)}** selected by CV {metric} {winner.cv_mean:.4f} ± {winner.cv_std:.4f} "
        f"(baseline {code(baseline.name)} {baseline.cv_mean:.4f})"
        + ("" if holdout is None else f"; holdout {metric} {holdout:.4f}")
        + f".\n\nData {code(data.data_path.name)} ({len(data.frame)} rows, sha256 `{data.data_digest[:12]}`) "
        f"passed the data contract ({data.evaluated}/{data.evaluated} expectations).\n\n{went}"
    )


def predicts(schema: Schema) -> str:
    """What the model predicts (Markdown): the schema's own description of the target, or neutral words."""
    source = f"from the columns in {md(Path(schema.path).name)}"
    if schema.description:
        return f"predicts {code(schema.target)}, {md(schema.description)}, {source}"
    return f"predicts {code(schema.target)} {source}"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def registered_model_description(schema: Schema) -> str:
    """The registered model's description, written once when the registered model is created."""
    return (
        f"{_sentence(predicts(schema))}: {names(schema.feature_columns)}. Every version was "
        "trained behind the data contract and quality gates; its description is its model card."
    )


def model_card(ctx: TrainingContext, serialization: str, name: str, version: str) -> str:
    """The version description: data, features, candidates, choice, metrics, gates, loading."""
    return "\n".join(
        [
            f"# {md(name)} version {version}: predicts {code(ctx.schema.target)}",
            "",
            f"{_sentence(predicts(ctx.schema))}.",
            "",
            _data_section(ctx),
            _features_section(ctx.schema, ctx.feature_digest),
            _leakage_section(ctx),
            _classifier_section(ctx) if ctx.task.is_classification else _choice_section(ctx),
            f"## Evaluation (the run's `evaluation/` artifacts)\n- {importance.describe(len(ctx.split.X_test))}\n",
            _loading_section(ctx, name, version, serialization),
        ]
    )


def _data_section(ctx: TrainingContext) -> str:
    r = ctx.recipe
    return f"""## Data
- source: {code(absolute(ctx.contract.data_path))}, sha256 `{ctx.contract.data_digest}`
- rows: {len(ctx.contract.frame)} (train {len(ctx.split.X_train)}, holdout {len(ctx.split.X_test)}; \
test_size {r.split.test_size}, seed {r.split.random_state}, grouped by {md(r.split.group_by or "nothing")})
- contract: {md(ctx.contract.summary())}; suite sha256 `{ctx.contract.suite_digest}`
"""


def _features_section(schema: Schema, feature_digest: str) -> str:
    roles = schema.roles()
    derived = (
        ", ".join(f"{md(d['name'])} (from {code(d['source'])}, {d['kind']})" for d in roles["derived"])
        or "none"
    )
    return f"""## Features (schema sha256 `{schema.digest[:12]}`)
- numerical: {names(roles["numerical"])}
- categorical: {names(roles["categorical"])}
- derived: {derived}
- never used: identifiers {md(roles["identifiers"])}, leakage {md(roles["leakage"])}, ignored {md(roles["ignore"])}
- feature digest: `{feature_digest}`
"""


def _leakage_section(ctx: TrainingContext) -> str:
    """The leakage detector's verdict in a few lines (its table is in the run, under `leakage/`)."""
    report = ctx.leakage
    if report is None or not report.enabled:
        return "## Leakage check\n- not run (leakage.enabled: false)\n"
    top = report.table.sort_values("alone_r2", ascending=False).head(3)
    strongest = ", ".join(
        f"{code(r.column)} alone {report.score} {r.alone_r2:.3f}, lift {r.lift:.3f}" for r in top.itertuples()
    )
    flagged = report.table[report.table["level"] != "ok"]
    found = (
        "; ".join(f"{code(r.column)} {r.level}: {md(r.reason)}" for r in flagged.itertuples())
        or "nothing flagged"
    )
    return f"""## Leakage check (training part, {report.rows} rows; table and plot in the run under `leakage/`)
- {found}
- acknowledged in the recipe: {names(report.acknowledged) or "none"}
- strongest features: {strongest}
"""


def _choice_section(ctx: TrainingContext) -> str:
    r, w, baseline = ctx.recipe, ctx.selection.winner, ctx.selection.baseline
    m = ctx.test_metrics
    return f"""## Candidates ({r.cv.folds}-fold CV R², recipe sha256 `{r.digest[:12]}`)
{markdown_table(ctx.selection.leaderboard[BOARD_COLUMNS])}
## Chosen model
- candidate: **{md(w.name)}**, parameters {code(json.dumps(w.best_params, sort_keys=True, default=str))}
- CV R² {w.cv_r2_mean:.4f} ± {w.cv_r2_std:.4f}; baseline {code(baseline.name)} {baseline.cv_r2_mean:.4f}
- holdout: R² {m["test_r2"]:.4f}, RMSE {m["test_rmse"]:.3f}, MAE {m["test_mae"]:.3f}

## Gates
- min_cv_r2 {"none (no absolute floor)" if r.gates.min_cv_r2 is None else r.gates.min_cv_r2}; must beat {code(r.gates.baseline)} by ≥ {r.gates.min_improvement}: passed
"""


def _classifier_section(ctx: TrainingContext) -> str:
    r, w, baseline, task = ctx.recipe, ctx.selection.winner, ctx.selection.baseline, ctx.task
    m = task.metric
    board = ctx.selection.leaderboard[["rank", "candidate", f"cv_{m}_mean", f"cv_{m}_std", "status"]]
    done = ctx.finishing.tags() if ctx.finishing else {}
    holdout = ", ".join(f"{k.removeprefix('test_')} {v:.4f}" for k, v in ctx.test_metrics.items())
    return f"""## Candidates ({r.cv.folds}-fold stratified CV {m}, recipe sha256 `{r.digest[:12]}`)
{markdown_table(board)}
## Chosen model
- task: classification, labels {md(list(task.labels))}, positive class {code(task.positive_class)}
- candidate: **{md(w.name)}**, parameters {code(json.dumps(w.best_params, sort_keys=True, default=str))}
- CV {m} {w.cv_mean:.4f} ± {w.cv_std:.4f}; baseline {code(baseline.name)} {baseline.cv_mean:.4f}
- calibration: {done.get("calibration", "none")}; decision threshold: \
{done.get("threshold") or "argmax"} ({done.get("threshold_source", "none")})
- holdout: {holdout}{_positives_line(ctx)}

## Gates
- min_cv_score {"none (no absolute floor)" if r.gates.min_cv_score is None else r.gates.min_cv_score}; must beat {code(r.gates.baseline)} by ≥ {r.gates.min_improvement} {m}: passed

`predict` gives labels; `mlflow.sklearn.load_model(uri).predict_proba(rows)` gives the probabilities
(columns in the order of `labels`).
"""


def _positives_line(ctx: TrainingContext) -> str:
    """A yes/no model's labels against the holdout's truth: what its accuracy is to be read against."""
    rates = positive_rates(ctx.task, ctx.split.y_test, ctx.predictions)
    if rates is None:
        return ""
    line = (
        f"\n- holdout labels: {code(ctx.task.positive_class)} in {rates.actual:.1%} of rows, predicted for "
        f"{rates.predicted:.1%}; recall {rates.recall:.3f}; always predicting the majority label scores "
        f"accuracy {rates.majority_accuracy:.3f}"
    )
    advice = rates.advice()
    return line + (f"\n- **warning**: {md(advice)}" if advice else "")


def _alias_note(ctx: TrainingContext, name: str, version: str) -> str:
    alias = ctx.recipe.promotion.alias
    how = (
        "this one took it at registration if it scored at least as well as the holder "
        "(`promotion.on_register: if_better`)"
        if ctx.recipe.promotion.on_register == "if_better"
        else f"`trainer promote --version {version}` gives it to this one"
    )
    return (
        f"{code(f'models:/{name}@{alias}')} loads whichever version holds the {code(alias)} alias ({how}; "
        f"{code(f'trainer explain models:/{name}@{alias}')} says which holds it now)."
    )


def _python_string(text: str) -> str:
    """A Python string literal on one line with no markup character in it (a code block in the MLflow
    UI shows it as written): `<`, `>`, `&` and backticks as their escapes."""
    literal = json.dumps(text, ensure_ascii=False)
    return literal.translate({ord("<"): "\\x3c", ord(">"): "\\x3e", ord("&"): "\\x26", ord("`"): "\\x60"})


def _loading_section(ctx: TrainingContext, name: str, version: str, serialization: str) -> str:
    pickle_note = (
        "Serialized with **skops**; the trusted types are declared explicitly at logging time "
        "(CatBoost/XGBoost/LightGBM boosters inside are restored through their own pickle state)."
        if serialization == "skops"
        else "Serialized with **cloudpickle**: only load it from a registry you trust."
    )
    return f"""## Loading
```python
import mlflow
import pandas as pd

model = mlflow.sklearn.load_model({_python_string(f"models:/{name}/{version}")})
rows = pd.read_csv({_python_string(absolute(ctx.contract.data_path))}).head(5)  # raw rows: extra columns are ignored
print(model.predict(rows))
```
{_alias_note(ctx, name, version)}

{pickle_note}
"""
