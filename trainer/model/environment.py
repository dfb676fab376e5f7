"""A model's runtime environment: pinned distributions, shipped code and serialization format."""

from __future__ import annotations

import logging
import shutil
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from trainer.catalogue.libraries import ESTIMATOR_DISTRIBUTIONS
from trainer.errors import TrainerError

if TYPE_CHECKING:
    from sklearn.base import BaseEstimator
    from sklearn.pipeline import Pipeline

log = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # trainer/
# the only trainer module a fitted pipeline references (see trainer/transforms.py)
MODEL_CODE = "transforms.py"
MODEL_DISTRIBUTIONS = ("mlflow", "scikit-learn", "pandas", "numpy", "scipy", "joblib", "skops", "cloudpickle")
AUDIT_DISTRIBUTIONS = (
    *MODEL_DISTRIBUTIONS,
    *(name for names in ESTIMATOR_DISTRIBUTIONS.values() for name in names),
    "great-expectations",
    "PyYAML",
)
TRUSTED_TYPE_PREFIXES = (
    "trainer.transforms.",
    "numpy.",
    "sklearn.",
    *(f"{library}." for library in ESTIMATOR_DISTRIBUTIONS),
    # a fitted LightGBM Booster's `best_score` is a defaultdict(OrderedDict): skops records the factory
    # as this type (measured: without it every LightGBM model fell back to cloudpickle)
    "collections.OrderedDict",
)


def distribution_versions(names: tuple[str, ...] = AUDIT_DISTRIBUTIONS) -> dict[str, str]:
    """Installed versions of the libraries a model depends on."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def libraries_in(pipeline: BaseEstimator) -> set[str]:
    """Top-level library of every estimator in a pipeline (an adapter names the library it wraps)."""
    return {
        getattr(obj, "wrapped_library", type(obj).__module__.split(".")[0])
        for obj in (pipeline, *pipeline.get_params(deep=True).values())
        if hasattr(obj, "fit")
    }


def model_requirements(pipeline: Pipeline) -> list[str]:
    """Exact pins of what loading this model needs: the core stack, plus XGBoost/CatBoost/LightGBM if used."""
    used = libraries_in(pipeline) & ESTIMATOR_DISTRIBUTIONS.keys()
    pins = distribution_versions(MODEL_DISTRIBUTIONS)
    for library in sorted(used):
        found = distribution_versions(ESTIMATOR_DISTRIBUTIONS[library])
        if not found:
            raise TrainerError(
                f"the model uses {library} but none of {list(ESTIMATOR_DISTRIBUTIONS[library])} is installed"
            )
        name = next(iter(found))
        pins[name] = found[name]
    return [f"{name}=={version}" for name, version in pins.items()]


def model_code(directory: Path) -> Path:
    """A `trainer` package in `directory` holding only what a fitted pipeline imports.

    Passed as the model's code path, so `trainer.transforms` imports where the model is loaded
    without shipping (or needing) the rest of the trainer.
    """
    package = Path(directory) / PACKAGE_DIR.name
    package.mkdir()
    (package / "__init__.py").write_text("")
    shutil.copyfile(PACKAGE_DIR / MODEL_CODE, package / MODEL_CODE)
    return package


def choose_serialization(pipeline: Pipeline) -> tuple[str, list[str] | None]:
    """skops with an explicit, audited trusted-type list; cloudpickle only if skops cannot."""
    import skops.io as sio

    try:
        untrusted = sio.get_untrusted_types(data=sio.dumps(pipeline))
    except Exception as exc:  # noqa: BLE001 - skops cannot represent it: fall back, recorded
        log.warning("skops cannot serialize this pipeline (%s); falling back to cloudpickle", exc)
        return "cloudpickle", None
    unexpected = [t for t in untrusted if not t.startswith(TRUSTED_TYPE_PREFIXES)]
    if unexpected:
        log.warning("pipeline holds types outside the trusted list %s; using cloudpickle", unexpected)
        return "cloudpickle", None
    return "skops", untrusted


def preload() -> None:
    """Import what registration uses (skops alone takes 1.4 s), and build MLflow's map of installed
    distributions: for a background thread while the winner is refitted, off the critical path."""
    import mlflow.sklearn  # noqa: F401
    import skops.io  # noqa: F401
    from mlflow.models import evaluation  # noqa: F401
    from mlflow.utils import requirements_utils

    # log_model compares the model's requirements with the installed distributions through a map it
    # builds once per process (0.45 s). A private helper: only a head start, never a failure (this
    # runs beside the refit, and the child-run writer is waited for before registration begins)
    build_map = getattr(requirements_utils, "_init_modules_to_packages_map", None)
    try:
        if callable(build_map):
            build_map()
    except Exception as exc:  # noqa: BLE001 - log_model builds (and reports) it itself
        log.debug("MLflow's map of installed distributions not built ahead: %s", exc)
