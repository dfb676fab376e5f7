"""The training recipe as typed, frozen settings that mirror the YAML, and the loader that checks them.

Each setting is declared once, with its default and its constraint (`setting(...)`); YAML keys, code
attributes and MLflow params share one name (`split.random_state` everywhere). Plain frozen
dataclasses rather than Pydantic: the recipe needs only scalar checks, one-line errors in the
house style and "did you mean" hints, which a 60-line checker gives without another dependency
and without translating Pydantic's multi-line validation reports.
"""

from __future__ import annotations

import difflib
import types
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, get_origin, get_type_hints

from trainer.errors import ConfigError
from trainer.files import absolute, file_digest, read_yaml

MAX_TEXT = 200  # characters in one name-like setting (an experiment, a column)
MAX_GRID_POINTS = 10_000  # per candidate; see `search.max_grid_points`


def setting(
    default: Any, *, low: float | None = None, high: float | None = None, choices: tuple[Any, ...] = ()
) -> Any:
    """A recipe field: its default and its constraint, read by `build_settings`."""
    return field(default=default, metadata={"low": low, "high": high, "choices": choices})


@dataclass(frozen=True)
class SplitSettings:
    """`split:` the holdout kept out of the search."""

    test_size: float = setting(0.2, low=0.01, high=0.9)
    random_state: int = setting(42, low=0, high=2**32 - 1)
    group_by: str | None = setting(None)  # a column: whole groups stay on one side (CV is grouped too)


@dataclass(frozen=True)
class CVSettings:
    """`cv:` the folds every candidate is scored on."""

    folds: int = setting(5, low=2, high=100)
    shuffle: bool = setting(True)
    random_state: int = setting(42, low=0, high=2**32 - 1)


@dataclass(frozen=True)
class SearchSettings:
    """`search:` how each candidate's grid is explored, and the blend of the best."""

    strategy: str = setting("grid", choices=("grid", "two_stage", "halving"))
    n_iter: int = setting(4, low=1, high=10_000)
    blend_top: int = setting(0, low=0, high=10)
    max_grid_points: int = setting(1_000, low=1, high=MAX_GRID_POINTS)
    # seconds the whole training run may take (`--time-budget` overrides it); none by default
    time_budget: float | None = setting(None, low=1.0, high=7 * 86_400.0)


@dataclass(frozen=True)
class GateSettings:
    """`gates:` what the winner must reach before it may be registered."""

    min_cv_r2: float | None = setting(None, low=-1e9, high=1.0)  # an absolute floor: the dataset's own
    baseline: str = setting("dummy")
    min_improvement: float = setting(0.05, low=0.0, high=1.0)
    # classification: the worst CV value of the selection metric allowed (a floor for roc_auc, a
    # ceiling for log_loss); regression keeps min_cv_r2
    min_cv_score: float | None = setting(None, low=-1e9, high=1e9)


FLOOR = {"regression": "min_cv_r2", "classification": "min_cv_score"}  # each task's absolute gate


@dataclass(frozen=True)
class ClassificationSettings:
    """`classification:` how a classifier is selected and finished (ignored for regression)."""

    metric: str = setting("roc_auc", choices=("roc_auc", "log_loss"))  # multi-class: one-vs-rest weighted
    calibration: str = setting("none", choices=("none", "sigmoid", "isotonic"))
    threshold: float = setting(0.5, low=0.0, high=1.0)  # binary: P(positive) at which it predicts positive
    threshold_metric: str = setting("none", choices=("none", "f1", "youden"))  # choose it on OOF predictions
    class_weight: str = setting("none", choices=("none", "balanced"))


@dataclass(frozen=True)
class LeakageSettings:
    """`leakage:` the detector run on the training part before the search (see trainer/leakage/detector.py)."""

    enabled: bool = setting(True)
    acknowledged: tuple[str, ...] = setting(())  # columns allowed despite a finding (recorded on the run)
    max_rows: int = setting(2_000, low=100, high=1_000_000)  # training rows the detector scores on


@dataclass(frozen=True)
class PromotionSettings:
    """`promotion:` how much worse a version may score and still take the alias, and whether a
    freshly registered version takes it at once (`if_better`: through the same gate as `promote`)."""

    tolerance: float = setting(0.0, low=0.0, high=1.0)
    on_register: str = setting("never", choices=("never", "if_better"))
    alias: str = setting("champion")


@dataclass(frozen=True)
class MonitoringSettings:
    """`monitoring:` what `trainer monitor` holds new data to, against the profile the version
    recorded at registration; crossing any `max_*` exits 3 with the retraining command."""

    max_psi: float = setting(0.2, low=0.0, high=100.0)  # a feature's PSI on the recorded bins
    max_prediction_psi: float = setting(0.2, low=0.0, high=100.0)  # the predictions' PSI (holdout's bins)
    max_null_share_increase: float = setting(0.1, low=0.0, high=1.0)  # a feature's null share, in points
    max_new_category_share: float = setting(0.01, low=0.0, high=1.0)  # rows of categories never trained on
    # the holdout metric minus the new data's, in the metric's units (its worse direction), counted
    # only when the drop's bootstrap interval lies above zero (not noise)
    max_metric_drop: float = setting(0.05, low=0.0, high=1e9)
    bootstrap: int = setting(200, low=20, high=10_000)  # resamples of the metric's interval
    confidence: float = setting(0.95, low=0.5, high=0.999)  # the interval's level


Grids = dict[str, dict[str, list[Any]]]


@dataclass(frozen=True)
class Recipe:
    """The training recipe: names, split, CV, search, gates, promotion, monitoring and candidate grids."""

    path: Path
    digest: str
    candidates: Grids
    experiment: str | None = setting(None)  # default: the schema's name
    registered_model: str | None = setting(None)  # default: the schema's name
    data: str | None = setting(None)  # default --data, relative to the recipe file
    schema: str | None = setting(None)  # default --schema, relative to the recipe file
    n_jobs: int = setting(-1, low=-1, high=1024)  # parallel CV fits; -1 = all cores
    split: SplitSettings = field(default_factory=SplitSettings)
    cv: CVSettings = field(default_factory=CVSettings)
    search: SearchSettings = field(default_factory=SearchSettings)
    gates: GateSettings = field(default_factory=GateSettings)
    promotion: PromotionSettings = field(default_factory=PromotionSettings)
    classification: ClassificationSettings = field(default_factory=ClassificationSettings)
    leakage: LeakageSettings = field(default_factory=LeakageSettings)
    monitoring: MonitoringSettings = field(default_factory=MonitoringSettings)

    def input_path(self, key: str) -> Path | None:
        """`data` or `schema` as a path relative to the recipe file (None when not set)."""
        value = getattr(self, key)
        return None if value is None else self.path.parent / value

    def params(self) -> dict[str, Any]:
        """Every setting under its YAML name (`cv.folds`), as logged to MLflow."""
        return {"recipe_digest": self.digest, "recipe_path": absolute(self.path), **flatten(self)}


# not logged as params: `data`/`schema` are recorded as the paths actually used (data_path,
# schema_path), and `mlflow run` already logs its own `data`/`schema` params with other values
_NOT_SETTINGS = {"path", "digest", "candidates", "data", "schema"}


def flatten(settings: Any, prefix: str = "") -> dict[str, Any]:
    """A settings object as `{"section.key": value}` (None as "")."""
    out: dict[str, Any] = {}
    for f in fields(settings):
        if f.name in _NOT_SETTINGS:
            continue
        value = getattr(settings, f.name)
        if is_dataclass(value):
            out.update(flatten(value, f"{prefix}{f.name}."))
        elif isinstance(value, tuple):
            out[f"{prefix}{f.name}"] = ",".join(map(str, value))
        else:
            out[f"{prefix}{f.name}"] = "" if value is None else value
    return out


def did_you_mean(word: str, known: list[str] | tuple[str, ...] | set[str]) -> str:
    """` (did you mean 'x'?)` for a near miss, else an empty string."""
    close = difflib.get_close_matches(word, sorted(known), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def reject_unknown(data: dict[str, Any], known: list[str], where: str) -> None:
    """One line naming the first unknown key, with a hint and the allowed keys."""
    unknown = [str(k) for k in data if k not in known]
    if unknown:
        raise ConfigError(
            f"{where}: unknown key '{unknown[0]}'{did_you_mean(unknown[0], known)}; allowed: {sorted(known)}"
        )


def build_settings(cls: type, data: Any, where: str, label: str = "", **given: Any) -> Any:
    """A YAML mapping -> the frozen dataclass `cls`, every value checked against its declaration."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: '{label.rstrip('.') or 'top level'}' must be a mapping")
    declared = [f for f in fields(cls) if f.name not in given]
    reject_unknown(
        data, [f.name for f in declared], f"{where}{f' in {label.rstrip(chr(46))!r}' if label else ''}"
    )
    hints = get_type_hints(cls)
    values = dict(given)
    for f in declared:
        if f.name not in data:
            continue
        if is_dataclass(hints[f.name]):
            values[f.name] = build_settings(hints[f.name], data[f.name], where, f"{label}{f.name}.")
        else:
            values[f.name] = check_value(data[f.name], hints[f.name], f.metadata, f"{where}: {label}{f.name}")
    return cls(**values)


def check_value(value: Any, hint: Any, meta: Any, label: str) -> Any:
    """One scalar against its declared type, range and choices."""
    optional = isinstance(hint, types.UnionType) and type(None) in hint.__args__
    if value is None and optional:
        return None
    base = next(t for t in hint.__args__ if t is not type(None)) if optional else hint
    value = _typed(value, base, label)
    if meta.get("choices") and value not in meta["choices"]:
        raise ConfigError(
            f"{label} '{value}' unknown{did_you_mean(str(value), meta['choices'])}; known: {meta['choices']}"
        )
    low, high = meta.get("low"), meta.get("high")
    if low is not None and not low <= value <= high:
        raise ConfigError(f"{label}={value!r} is outside [{low}, {high}]")
    return value


def _typed(value: Any, base: Any, label: str) -> Any:
    if get_origin(base) is tuple:  # a list of names
        if not isinstance(value, list):
            raise ConfigError(f"{label} must be a list of names, got {value!r:.80}")
        return tuple(_typed(v, str, label) for v in value)
    if base is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{label} must be true or false, got {value!r}")
        return value
    if base is str:
        if not isinstance(value, str) or not value or len(value) > MAX_TEXT:
            raise ConfigError(
                f"{label} must be a non-empty name of at most {MAX_TEXT} characters, got {value!r:.80}"
            )
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{label} must be a number, got {value!r:.80}")
    if base is int and int(value) != value:
        raise ConfigError(f"{label} must be an integer, got {value!r}")
    return base(value)


def _grids(data: Any, where: str) -> Grids:
    if not isinstance(data, dict) or not data:
        raise ConfigError(f"{where}: 'candidates' must map candidate names to parameter grids")
    grids: Grids = {}
    for name, grid in data.items():
        grid = grid or {}
        if not isinstance(grid, dict):
            raise ConfigError(f"{where}: candidate '{name}' grid must be a mapping")
        grids[str(name)] = {}
        for param, values in grid.items():
            values = values if isinstance(values, list) else [values]
            if not values:
                raise ConfigError(f"{where}: candidate '{name}' parameter '{param}' is empty")
            grids[str(name)][str(param)] = values
    return grids


def load_recipe(path: Path | str) -> Recipe:
    """Load and check a recipe; candidate and parameter names are checked by `candidates`."""
    path = Path(path)
    where = f"recipe {path}"
    data = read_yaml(path, "recipe")
    grids = _grids(data.get("candidates"), where)
    settings = {k: v for k, v in data.items() if k != "candidates"}
    recipe: Recipe = build_settings(
        Recipe, settings, where, path=path, digest=file_digest(path), candidates=grids
    )
    if recipe.n_jobs == 0:
        recipe = replace(recipe, n_jobs=1)
    if recipe.gates.baseline not in grids:
        raise ConfigError(
            f"{where}: gates.baseline '{recipe.gates.baseline}' is not one of the candidates"
            f"{did_you_mean(recipe.gates.baseline, list(grids))}"
        )
    return recipe
