"""The dataset's schema: column roles, the suite that goes with them, and the rules roles must obey."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainer.errors import ConfigError, ContractError
from trainer.files import file_digest, read_yaml
from trainer.recipe.settings import MAX_TEXT, did_you_mean, reject_unknown

if TYPE_CHECKING:
    from trainer.recipe.settings import Recipe

DERIVED_KINDS = ("year_quarter", "date")
ROLE_LISTS = ("identifiers", "numerical", "categorical", "leakage", "ignore")
SCHEMA_KEYS = ["name", "description", "suite", "target", "task", "positive_class", "derived", *ROLE_LISTS]
TASKS = ("regression", "classification")
MAX_COLUMNS = 10_000


@dataclass(frozen=True)
class DerivedFeature:
    """A numeric feature computed from a text column: "1979 Q3" -> 1979.5 (`year_quarter`), an ISO
    date "2021-07-02" -> 2021.5 (`date`)."""

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
    description: str = ""  # what the target means, in words: the model card's first line
    task: str = "regression"  # or classification (see trainer/recipe/task.py)
    positive_class: Any = None  # a binary target's positive label (default: the last label)
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


def _text(data: dict[str, Any], key: str, where: str, required: bool = False) -> str:
    value = data.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip() or len(value) > 10 * MAX_TEXT:
        raise ConfigError(
            f"{where}: '{key}' is required and must be a short text"
            if required
            else f"{where}: '{key}' must be a short text, got {value!r:.80}"
        )
    return value


def _label(data: dict[str, Any], key: str, where: str) -> Any:
    """A class label as YAML gives it: text, a number or true/false (None when absent)."""
    value = data.get(key)
    if value is None or isinstance(value, bool | int | float):
        return value
    return _text(data, key, where)


def _names(data: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = data.get(key) or []
    if not isinstance(value, list) or len(value) > MAX_COLUMNS:
        raise ConfigError(f"{where}: '{key}' must be a list of column names (at most {MAX_COLUMNS})")
    for i, name in enumerate(value):
        if not isinstance(name, str) or not 0 < len(name) <= MAX_TEXT:
            what = f"{len(name)} characters" if isinstance(name, str) else f"not a name: {name!r:.60}"
            raise ConfigError(
                f"{where}: '{key}'[{i}] is {what} (a column name has 1 to {MAX_TEXT} characters)"
            )
    return tuple(value)


def _derived(data: dict[str, Any], where: str) -> tuple[DerivedFeature, ...]:
    items = data.get("derived") or []
    if not isinstance(items, list):
        raise ConfigError(f"{where}: 'derived' must be a list")
    derived = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or set(item) != {"name", "source", "kind"}:
            raise ConfigError(f"{where}: derived[{i}] needs exactly name, source, kind")
        if item["kind"] not in DERIVED_KINDS:
            raise ConfigError(
                f"{where}: derived[{i}] kind '{item['kind']}' unknown"
                f"{did_you_mean(str(item['kind']), DERIVED_KINDS)}; known: {DERIVED_KINDS}"
            )
        derived.append(DerivedFeature(**{k: str(v) for k, v in item.items()}))
    return tuple(derived)


def _task(data: dict[str, Any], where: str) -> str:
    task = data.get("task", "regression")
    if task not in TASKS:
        raise ConfigError(f"{where}: task '{task}' unknown{did_you_mean(str(task), TASKS)}; known: {TASKS}")
    return str(task)


def load_schema(path: Path | str) -> Schema:
    """Load a schema YAML, check its roles are consistent, and resolve its suite path."""
    path = Path(path)
    where = f"schema {path}"
    data = read_yaml(path, "schema")
    reject_unknown(data, SCHEMA_KEYS, where)
    schema = Schema(
        path=path,
        name=_text(data, "name", where) or path.stem,
        description=_text(data, "description", where),
        suite_path=(path.parent / _text(data, "suite", where, required=True)).resolve(),
        target=_text(data, "target", where, required=True),
        derived=_derived(data, where),
        task=_task(data, where),
        positive_class=_label(data, "positive_class", where),
        digest=file_digest(path),
        raw=data,
        **{role: _names(data, role, where) for role in ROLE_LISTS},
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


def schema_name(schema_path: Path) -> str:
    """The schema's `name` (its file's stem when the schema cannot be read: that error is reported
    where the schema is loaded)."""
    try:
        return load_schema(schema_path).name
    except (ConfigError, ContractError):
        return Path(schema_path).stem


def with_names(recipe: Recipe, schema_path: Path) -> Recipe:
    """The recipe with its experiment and registered model named; unset names take the schema's."""
    if recipe.experiment and recipe.registered_model:
        return recipe
    name = schema_name(schema_path)
    return replace(
        recipe, experiment=recipe.experiment or name, registered_model=recipe.registered_model or name
    )


def task_kind(schema_path: Path) -> str | None:
    """The schema's task; None when the schema cannot be read (that is reported where it is loaded)."""
    try:
        return load_schema(schema_path).task
    except (ConfigError, ContractError):
        return None
