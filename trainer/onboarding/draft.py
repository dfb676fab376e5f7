"""`trainer init`: draft a dataset's schema, expectation suite and recipe from its CSV, for review.

Nothing is overwritten without `force`; the raw CSV is only read. The schema carries, beside each
inferred role, the rule that gave it (trainer/onboarding/profile.py); the suite is trainer/onboarding/suite_draft.py's;
the recipe is named after the dataset, judges candidates against the baseline only (an absolute
floor, `gates.min_cv_r2` or `gates.min_cv_score`, is the dataset owner's to add) and searches
candidates sized to the data.
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from trainer.data.csv_reader import read_csv
from trainer.errors import ConfigError
from trainer.onboarding import checks
from trainer.onboarding.candidates import CANDIDATES, CLASSIFIER_CANDIDATES
from trainer.onboarding.profile import DataProfile, describe, profile
from trainer.onboarding.suite_draft import draft_suite
from trainer.recipe.settings import FLOOR, MAX_TEXT, SplitSettings

log = logging.getLogger(__name__)

ROLES = ("identifiers", "numerical", "categorical", "leakage", "ignore")
SMALL, LARGE = 2_000, 100_000  # rows: which candidate set the recipe drafts
RARE_POSITIVES = 0.2  # a yes/no target whose positive class is rarer: its threshold is chosen (F1)


@dataclass(frozen=True)
class Drafts:
    """Where the three drafted files go."""

    schema: Path
    suite: Path
    recipe: Path

    def paths(self) -> tuple[Path, Path, Path]:
        return self.schema, self.suite, self.recipe


def _scalar(value: object) -> str:
    """A YAML scalar for a name (quoted only where YAML needs it)."""
    dumped = yaml.safe_dump(value, default_flow_style=True, width=10_000, allow_unicode=True)
    return dumped.strip().removesuffix("\n...").strip()


def _flat(text: object) -> str:
    """Text for a YAML comment: on one line (a line break would end the comment)."""
    return " ".join(str(text).splitlines())


def draft_schema(p: DataProfile, name: str, data: Path, suite_file: str) -> str:
    """The schema YAML, every inferred role with its rule as a comment."""
    lines = [
        f"# Drafted by `trainer init` from {_flat(data)} ({p.rows} rows): review every role below.",
        "# The comment beside a column is the rule that gave it its role; move a column to change it.",
        f"name: {_scalar(name)}",
        f"# description: what `{_flat(p.target)}` means, in words (the model card's first line)",
        f"suite: {_scalar(suite_file)}",
    ]
    lines.append(f"task: {p.task}  # regression, or classification for a target of classes")
    target = p.column(p.target)
    if p.task == "classification" and len(target.values) == 2:
        rarer = 0 if target.counts[0] < target.counts[1] else 1  # a tie: the last label
        lines.append(
            f"positive_class: {_scalar(target.values[rarer])}  # the rarer label"
            f" ({target.counts[rarer]} of {sum(target.counts)} rows):"
            " the event scores are for; change it if you predict the other"
        )
    lines.append(f"target: {_scalar(p.target)}  # {_flat(p.column(p.target).rule)}")
    for role in ROLES:
        cols = p.role(role)
        lines.append(f"{role}:{' []' if not cols else ''}")
        lines += [f"  - {_scalar(c.name)}  # {_flat(c.rule)}" for c in cols]
    return "\n".join(lines + _derived_lines(p)) + "\n"


def _derived_lines(p: DataProfile) -> list[str]:
    """Each ISO date column as a number (`kind: date`), named `<column>_year` (or `_as_year` where
    that name is taken)."""
    dates = p.role("date")
    if not dates:
        return [
            'derived: []  # e.g. {name: NEW_NAME, source: TEXT_COLUMN, kind: year_quarter} for "1979 Q3" text'
        ]
    taken = {c.name for c in p.columns}
    lines = ["derived:  # a number computed from a text column; the source column is not a feature itself"]
    for c in dates:
        stem = c.name[: MAX_TEXT - len("_as_year")]  # a derived name fits a schema as its source does
        name = f"{stem}_year" if f"{stem}_year" not in taken else f"{stem}_as_year"
        lines.append(
            f"  - {{name: {_scalar(name)}, source: {_scalar(c.name)}, kind: date}}  # {_flat(c.rule)}"
        )
    return lines


def drafted_folds(rows: int) -> int:
    return 3 if rows > LARGE else 5


def warn_of_rare_labels(p: DataProfile) -> None:
    """A label with fewer rows than the drafted folds need in the training part stops the training
    (exit 2): say so now, before anything is trained."""
    if p.task != "classification":
        return
    needed = math.ceil(drafted_folds(p.rows) / (1 - SplitSettings().test_size))
    target = p.column(p.target)
    for label, rows in zip(target.values, target.counts, strict=True):
        if rows < needed:
            log.warning(
                "label %r has only %d rows: a training needs about %d (%d stratified CV folds in the "
                "training part); add rows of it, merge it into another label or drop its rows",
                label,
                rows,
                needed,
                drafted_folds(p.rows),
            )


def draft_recipe(p: DataProfile, name: str, data: str, schema: str) -> str:
    """The recipe YAML: named after the dataset, relative gates, candidates sized to the data."""
    size = "small" if p.rows <= SMALL else "medium" if p.rows <= LARGE else "large"
    folds = drafted_folds(p.rows)
    return f"""# Drafted by `trainer init` for {name} ({p.rows} rows: the {size} candidate set). Review, then:
#   mlflow run . --env-manager local -P recipe=<this file>
experiment: {_scalar(name)}
registered_model: {_scalar(name)}
data: {_scalar(data)}        # the defaults of --data and --schema (relative to this file)
schema: {_scalar(schema)}

split:
  test_size: 0.2
  random_state: 42
  group_by: null          # a column whose groups must stay on one side of the split

cv:
  folds: {folds}
  shuffle: true
  random_state: 42

n_jobs: -1

search:
  strategy: grid
  blend_top: 0

gates:
  # judged against the baseline only; add `{FLOOR[p.task]}: <floor>` once you know what this data allows
  baseline: dummy
  min_improvement: 0.05   # the winner must beat the baseline's CV score (R², or ROC AUC) by this much

leakage:
  enabled: true
  acknowledged: []        # columns the leakage detector flags that you have checked are honest

promotion:
  tolerance: 0.005

{_task_section(p)}candidates:
{CLASSIFIER_CANDIDATES if p.task == "classification" else CANDIDATES[size]}"""


def _task_section(p: DataProfile) -> str:
    """A classifier's selection metric and finishing (nothing for a regression). A rare positive
    class gets its threshold chosen on out-of-fold predictions: at 0.5 a classifier seldom says it."""
    if p.task != "classification":
        return ""
    target = p.column(p.target)
    share = min(target.counts) / sum(target.counts) if len(target.values) == 2 else 1.0
    threshold = (
        f"threshold_metric: f1    # the positive class is {share:.1%} of rows: at 0.5 it is seldom predicted,"
        " so the threshold that maximises F1 on out-of-fold predictions is chosen"
        if share < RARE_POSITIVES
        else "threshold_metric: none  # or f1 / youden: choose the threshold on out-of-fold predictions"
    )
    return f"""classification:
  metric: roc_auc         # or log_loss; multi-class: one-vs-rest weighted
  calibration: none       # or sigmoid / isotonic
  threshold: 0.5          # binary: P(positive) at which it predicts positive
  {threshold}

"""


def _relative(path: Path, start: Path) -> str:
    """`path` as the recipe in `start` should name it: absolute stays absolute, else relative to it."""
    if path.is_absolute():
        return path.as_posix()
    return Path(os.path.relpath(path.resolve(), start.resolve())).as_posix()


def _refuse_overwrite(drafts: Drafts, force: bool) -> None:
    existing = [str(p) for p in drafts.paths() if p.exists()]
    if existing and not force:
        raise ConfigError(f"{', '.join(existing)} already exist(s): review or move them, or pass --force")


@dataclass(frozen=True)
class Asked:
    """What `trainer init` was asked for: the target, and optionally the task, the name (default:
    the CSV's stem) and the columns to draft as categories."""

    target: str
    task: str | None = None
    name: str | None = None
    categorical: tuple[str, ...] = ()


def write_drafts(data: Path, asked: Asked, out: Path | None, force: bool = False) -> str:
    """`trainer init`: write the three drafts and return what to print (profile, files, next steps)."""
    name = checks.check_name(asked.name or checks.dataset_name(data))
    folder = out or Path("datasets") / name
    drafts = Drafts(folder / "schema.yaml", folder / "suite.json", folder / "recipe.yaml")
    checks.check_folder(folder)
    _refuse_overwrite(drafts, force)
    frame = read_csv(data)
    checks.check_header(frame.columns)
    checks.check_rows(len(frame), drafted_folds(len(frame)), SplitSettings().test_size, data)
    p = profile(frame, asked.target, asked.task, asked.categorical)
    features = [c.name for c in p.columns if c.role in ("numerical", "categorical", "date")]
    checks.check_features(features, {role: [c.name for c in p.role(role)] for role in ROLES})
    warn_of_rare_labels(p)
    texts = {
        drafts.suite: json.dumps(draft_suite(p, name), indent=2) + "\n",
        drafts.schema: draft_schema(p, name, data, drafts.suite.name),
        drafts.recipe: draft_recipe(p, name, _relative(data, folder), drafts.schema.name),
    }
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for path, text in texts.items():
            path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write the drafts in {folder}: {exc.strerror or exc}")
    return report(p, drafts)


def report(p: DataProfile, drafts: Drafts) -> str:
    """What `trainer init` prints: the profile, the files and the exact next commands (the recipe
    names the data and the schema)."""
    files = "\n".join(f"  {path}" for path in drafts.paths())
    args = f"--recipe {drafts.recipe}"
    return f"""{describe(p)}

drafted (review each before training):
{files}

next:
  trainer validate {args}
  trainer train {args}
  # or, as an MLflow project:
  mlflow run . --env-manager local -P recipe={drafts.recipe}
"""
