"""Loading and validating the schema (column roles) and the training recipe; file digests."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from trainer.errors import ConfigError, ContractError

DERIVED_KINDS = ("year_quarter",)
SCHEMA_KEYS = {
    "name",
    "description",
    "suite",
    "target",
    "identifiers",
    "numerical",
    "categorical",
    "derived",
    "leakage",
    "ignore",
}


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes (hex)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def text_digest(text: str) -> str:
    """sha256 of a string (hex)."""
    return hashlib.sha256(text.encode()).hexdigest()


def read_yaml(path: Path, what: str) -> dict[str, Any]:
    """Read a YAML mapping with `safe_load`, turning every failure into one clear line."""
    text = _read_text(path, what)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{what} {path}: broken YAML at{where}: {getattr(exc, 'problem', exc)}")
    if not isinstance(data, dict):
        raise ConfigError(f"{what} {path}: expected a YAML mapping, got {type(data).__name__}")
    return data


def read_json(path: Path, what: str) -> dict[str, Any]:
    """Read a JSON object, turning every failure into one clear line."""
    text = _read_text(path, what)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{what} {path}: broken JSON at line {exc.lineno}: {exc.msg}")
    if not isinstance(data, dict):
        raise ConfigError(f"{what} {path}: expected a JSON object, got {type(data).__name__}")
    return data


def _read_text(path: Path, what: str) -> str:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{what} not found: {path}")
    if not path.is_file():
        raise ConfigError(f"{what} is not a file: {path}")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{what} {path}: not UTF-8 text")
    except OSError as exc:
        raise ConfigError(f"{what} {path}: cannot read: {exc.strerror}")


@dataclass(frozen=True)
class DerivedFeature:
    """A numeric feature computed from a text column (e.g. birth "1979 Q3" -> 1979.5)."""

    name: str
    source: str
    kind: str


@dataclass(frozen=True)
class Schema:
    """Column roles for one dataset, and the expectation suite that goes with it."""

    path: Path
    name: str
    suite_path: Path
    target: str
    identifiers: tuple[str, ...]
    numerical: tuple[str, ...]
    categorical: tuple[str, ...]
    derived: tuple[DerivedFeature, ...] = ()
    leakage: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    description: str = ""  # one sentence: what the target means
    digest: str = ""
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def feature_columns(self) -> tuple[str, ...]:
        """Raw input columns the model reads (numerical, categorical, derived sources)."""
        sources = tuple(d.source for d in self.derived if d.source not in self.numerical)
        return _unique(self.numerical + self.categorical + sources)

    @property
    def required_columns(self) -> tuple[str, ...]:
        """Columns the data must have: identifiers, features and the target."""
        return _unique(self.identifiers + self.feature_columns + (self.target,))

    @property
    def declared_columns(self) -> tuple[str, ...]:
        """Every column the schema names, whatever its role."""
        return _unique(self.required_columns + self.leakage + self.ignore)

    def roles(self) -> dict[str, Any]:
        """Roles as plain data, for reports and the model card."""
        return {
            "target": self.target,
            "identifiers": list(self.identifiers),
            "numerical": list(self.numerical),
            "categorical": list(self.categorical),
            "derived": [vars(d) for d in self.derived],
            "leakage": list(self.leakage),
            "ignore": list(self.ignore),
        }


def _unique(cols: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(cols))


def _str_list(data: dict[str, Any], key: str, path: Path) -> tuple[str, ...]:
    value = data.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"schema {path}: '{key}' must be a list of column names")
    return tuple(value)


def load_schema(path: Path | str) -> Schema:
    """Load `data/schema.yaml`, check its roles are consistent, and resolve its suite path."""
    path = Path(path)
    data = read_yaml(path, "schema")
    unknown = sorted(set(data) - SCHEMA_KEYS)
    if unknown:
        raise ConfigError(f"schema {path}: unknown key(s) {unknown}; allowed: {sorted(SCHEMA_KEYS)}")
    for key in ("suite", "target"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise ConfigError(f"schema {path}: '{key}' is required")
    if not isinstance(data.get("description") or "", str):
        raise ConfigError(f"schema {path}: 'description' must be a string")
    derived = []
    for i, item in enumerate(data.get("derived") or []):
        if not isinstance(item, dict) or set(item) != {"name", "source", "kind"}:
            raise ConfigError(f"schema {path}: derived[{i}] needs exactly name, source, kind")
        if item["kind"] not in DERIVED_KINDS:
            raise ConfigError(
                f"schema {path}: derived[{i}] kind '{item['kind']}' unknown; known: {DERIVED_KINDS}"
            )
        derived.append(DerivedFeature(**item))
    schema = Schema(
        path=path,
        name=str(data.get("name") or path.stem),
        suite_path=(path.parent / data["suite"]).resolve(),
        target=data["target"],
        identifiers=_str_list(data, "identifiers", path),
        numerical=_str_list(data, "numerical", path),
        categorical=_str_list(data, "categorical", path),
        derived=tuple(derived),
        leakage=_str_list(data, "leakage", path),
        ignore=_str_list(data, "ignore", path),
        description=(data.get("description") or "").strip(),
        digest=file_digest(path),
        raw=data,
    )
    check_roles(schema)
    return schema


def check_roles(schema: Schema) -> None:
    """Block a schema that would train on the target, a leakage column or an identifier."""
    features = set(schema.feature_columns)
    if not features:
        raise ContractError(f"schema {schema.path}: no feature columns declared")
    if schema.target in features:
        raise ContractError(f"schema {schema.path}: target column '{schema.target}' is listed as a feature")
    leaked = sorted(features & set(schema.leakage))
    if leaked:
        raise ContractError(
            f"schema {schema.path}: leakage column(s) {leaked} listed as feature(s); "
            "a declared leakage column can never be a feature"
        )
    for role in ("identifiers", "ignore"):
        clash = sorted(features & set(getattr(schema, role)))
        if clash:
            raise ContractError(f"schema {schema.path}: column(s) {clash} are both {role} and features")
    both = sorted(set(schema.numerical) & set(schema.categorical))
    if both:
        raise ContractError(f"schema {schema.path}: column(s) {both} are numerical and categorical")


RECIPE_KEYS = {
    "experiment",
    "registered_model",
    "split",
    "cv",
    "n_jobs",
    "search",
    "gates",
    "promotion",
    "candidates",
}
SEARCH_STRATEGIES = ("grid", "two_stage")


@dataclass(frozen=True)
class Recipe:
    """The training recipe (`train.yaml`): split, CV, candidates and grids, gates, names."""

    path: Path
    digest: str
    experiment: str
    registered_model: str
    test_size: float
    split_seed: int
    group_by: str | None
    folds: int
    shuffle: bool
    cv_seed: int
    n_jobs: int
    strategy: str
    n_iter: int
    blend_top: int
    candidates: dict[str, dict[str, list[Any]]]
    min_cv_r2: float
    baseline: str
    min_improvement: float
    promotion_tolerance: float
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


def _section(data: dict[str, Any], key: str, allowed: set[str], path: Path) -> dict[str, Any]:
    value = data.get(key) or {}
    if not isinstance(value, dict):
        raise ConfigError(f"recipe {path}: '{key}' must be a mapping")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise ConfigError(f"recipe {path}: unknown key(s) {unknown} in '{key}'; allowed: {sorted(allowed)}")
    return value


def _number(value: Any, name: str, path: Path, low: float, high: float, kind: type = float) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"recipe {path}: {name} must be a number, got {value!r}")
    if kind is int and int(value) != value:
        raise ConfigError(f"recipe {path}: {name} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise ConfigError(f"recipe {path}: {name}={value!r} is outside [{low}, {high}]")
    return kind(value)


def _grids(data: dict[str, Any], path: Path) -> dict[str, dict[str, list[Any]]]:
    candidates = data.get("candidates")
    if not isinstance(candidates, dict) or not candidates:
        raise ConfigError(f"recipe {path}: 'candidates' must map candidate names to parameter grids")
    grids: dict[str, dict[str, list[Any]]] = {}
    for name, grid in candidates.items():
        grid = grid or {}
        if not isinstance(grid, dict):
            raise ConfigError(f"recipe {path}: candidate '{name}' grid must be a mapping")
        grids[str(name)] = {}
        for param, values in grid.items():
            values = values if isinstance(values, list) else [values]
            if not values:
                raise ConfigError(f"recipe {path}: candidate '{name}' parameter '{param}' is empty")
            grids[str(name)][str(param)] = values
    return grids


def load_recipe(path: Path | str) -> Recipe:
    """Load and check `train.yaml`; candidate and parameter names are checked by `candidates`."""
    path = Path(path)
    data = read_yaml(path, "recipe")
    unknown = sorted(set(data) - RECIPE_KEYS)
    if unknown:
        raise ConfigError(f"recipe {path}: unknown key(s) {unknown}; allowed: {sorted(RECIPE_KEYS)}")
    split = _section(data, "split", {"test_size", "random_state", "group_by"}, path)
    cv = _section(data, "cv", {"folds", "shuffle", "random_state"}, path)
    gates = _section(data, "gates", {"min_cv_r2", "baseline", "min_improvement"}, path)
    promotion = _section(data, "promotion", {"tolerance"}, path)
    search = _section(data, "search", {"strategy", "n_iter", "blend_top"}, path)
    strategy = search.get("strategy", "grid")
    if strategy not in SEARCH_STRATEGIES:
        raise ConfigError(f"recipe {path}: search strategy '{strategy}' unknown; known: {SEARCH_STRATEGIES}")
    group_by = split.get("group_by")
    if group_by is not None and not isinstance(group_by, str):
        raise ConfigError(f"recipe {path}: split.group_by must be a column name or null")
    grids = _grids(data, path)
    baseline = str(gates.get("baseline", "dummy"))
    if baseline not in grids:
        raise ConfigError(f"recipe {path}: gates.baseline '{baseline}' is not one of the candidates")
    return Recipe(
        path=path,
        digest=file_digest(path),
        experiment=str(data.get("experiment") or "student-math-score"),
        registered_model=str(data.get("registered_model") or "student-math-score"),
        test_size=_number(split.get("test_size", 0.2), "split.test_size", path, 0.01, 0.9),
        split_seed=_number(split.get("random_state", 42), "split.random_state", path, 0, 2**32 - 1, int),
        group_by=group_by,
        folds=_number(cv.get("folds", 5), "cv.folds", path, 2, 100, int),
        shuffle=bool(cv.get("shuffle", True)),
        cv_seed=_number(cv.get("random_state", 42), "cv.random_state", path, 0, 2**32 - 1, int),
        n_jobs=_number(data.get("n_jobs", -1), "n_jobs", path, -1, 1024, int) or 1,
        strategy=strategy,
        n_iter=_number(search.get("n_iter", 4), "search.n_iter", path, 1, 10_000, int),
        blend_top=_number(search.get("blend_top", 0), "search.blend_top", path, 0, 10, int),
        candidates=grids,
        min_cv_r2=_number(gates.get("min_cv_r2", 0.45), "gates.min_cv_r2", path, -1e9, 1.0),
        baseline=baseline,
        min_improvement=_number(gates.get("min_improvement", 0.05), "gates.min_improvement", path, 0.0, 1.0),
        promotion_tolerance=_number(promotion.get("tolerance", 0.0), "promotion.tolerance", path, 0.0, 1.0),
        raw=data,
    )
