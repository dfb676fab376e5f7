"""Drift of a batch against the training profile, counted chunk by chunk: the population stability
index (PSI) on the bins the profile recorded, a two-sample test, new categories and null shares.

Library or own code, measured on 2026-12-08 on this project's 2-core machine (busy: load 8 to 12):
- Evidently 0.7.23 brings 41 distributions (172 MiB) this venv lacks, and fails to import with the
  pinned pandas 3.1 (`infer_dtype_from_object` is gone): it needs pandas < 3. Under pandas 2.3 its
  import took 36-43 s where `import scipy.stats` took 4.6 s on the same machine at the same time. Its
  HTML report does render offline (3.7 MB, scripts inlined), but it needs the reference frame itself:
  the training data, which the recorded profile is there to replace.
- NannyML 0.13.1 brings 39 distributions (1,158 MiB: a GPU build of xgboost and NCCL, against the
  pinned xgboost-cpu), and `import nannyml` fails (statsmodels, which it imports, is not among its
  requirements); it too works from a reference frame.
- SciPy is installed already (scikit-learn needs it) and gives the tests' distributions. PSI on the
  recorded bins is a few lines: tests/unit/test_monitoring.py checks it against pandas' own binning of
  the raw samples (equal to 1e-9) and the profile's KS statistic against scipy.stats.ks_2samp on the
  raw samples (within 0.01), and the report is our own page of inline SVG (no script at all).
So: own code on SciPy.

PSI sum((a - e) * ln(a / e)) over the bins' shares, each floored at 1e-4 so an empty bin counts
without dividing by zero. A number's bins are the training deciles; a category's bins are the
training categories plus one for every category never trained on. PSI has no sense of sample size,
so each feature also gets a test that has one: a number's two-sample Kolmogorov-Smirnov test (its
statistic is the largest gap between the two distributions at the profile's 101 quantiles, within
a percentile of the exact one; its p-value asymptotic), which sees a shift inside a bin that PSI's
ten bins average away; a category's chi-square test of the two frequency tables. The tests are
reported beside PSI; the thresholds judge PSI, null shares and new categories.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from trainer.registry.training_profile import bin_index, category_text

FLOOR = 1e-4  # a bin's smallest share in PSI
NEW = "(new)"


def psi(expected: Any, actual: Any) -> float:
    """The population stability index of two share vectors over the same bins."""
    e = np.maximum(np.asarray(expected, dtype=np.float64), FLOOR)
    a = np.maximum(np.asarray(actual, dtype=np.float64), FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def _share(count: float, total: float) -> float:
    return count / total if total else 0.0


class NumberDrift:
    """A number's counts in the profile's bins and at its quantile grid, and its nulls."""

    def __init__(self, profile: dict[str, Any]) -> None:
        self.profile = profile
        self.edges = np.asarray(profile["edges"], dtype=np.float64)
        self.grid = np.asarray(profile["grid"], dtype=np.float64)
        self.bins = np.zeros(self.edges.size + 1, dtype=np.int64)
        self.at_grid = np.zeros(self.grid.size + 1, dtype=np.int64)
        self.rows = self.nulls = 0
        self.total = 0.0

    def add(self, values: Any) -> None:
        x = np.asarray(pd.to_numeric(pd.Series(values), errors="coerce"), dtype=np.float64)
        finite = x[np.isfinite(x)]
        self.rows += x.size
        self.nulls += int(np.isnan(x).sum())
        self.total += float(finite.sum())
        self.bins += np.bincount(bin_index(finite, self.edges), minlength=self.bins.size)
        self.at_grid += np.bincount(
            np.searchsorted(self.grid, finite, side="left"), minlength=self.at_grid.size
        )

    def result(self) -> dict[str, Any]:
        from scipy.stats import kstwobign

        seen = int(self.bins.sum())
        shares = self.bins / seen if seen else self.bins.astype(np.float64)
        out: dict[str, Any] = {
            "kind": "numerical",
            "rows": self.rows,
            "null_share": {"training": self.profile["null_share"], "new": _share(self.nulls, self.rows)},
            "bins": {
                "edges": self.edges.tolist(),
                "training": self.profile["shares"],
                "new": shares.tolist(),
            },
            "mean": {"training": self.profile.get("mean"), "new": self.total / seen if seen else None},
            "psi": psi(self.profile["shares"], shares) if seen and self.profile["shares"] else None,
            "test": None,
        }
        if seen and self.grid.size:
            new_cdf = np.cumsum(self.at_grid)[: self.grid.size] / seen
            gap = float(np.max(np.abs(new_cdf - np.asarray(self.profile["cdf"]))))
            trained = self.profile["rows"] * (1 - self.profile["null_share"])
            n = trained * seen / (trained + seen)
            out["test"] = {"name": "ks", "statistic": gap, "p_value": float(kstwobign.sf(gap * math.sqrt(n)))}
        return out


class CategoryDrift:
    """A category's counts (as the model spells it) and its nulls."""

    def __init__(self, profile: dict[str, Any], allowed: set[str] | None = None) -> None:
        self.profile, self.allowed = profile, allowed
        self.counts: dict[str, int] = {}
        self.rows = self.nulls = 0

    def add(self, values: pd.Series) -> None:
        text = category_text(values.rename("values"))
        self.rows += len(text)
        self.nulls += int(text.isna().sum())
        for key, count in text.value_counts(dropna=True).items():
            self.counts[str(key)] = self.counts.get(str(key), 0) + int(count)

    def result(self) -> dict[str, Any]:
        trained = self.profile["frequencies"]
        seen = sum(self.counts.values())
        new = {k: v for k, v in sorted(self.counts.items(), key=lambda kv: -kv[1]) if k not in trained}
        names = [*trained, NEW]
        expected = [*trained.values(), self.profile.get("other_share", 0.0)]
        actual = [_share(self.counts.get(k, 0), seen) for k in trained] + [_share(sum(new.values()), seen)]
        return {
            "kind": "categorical",
            "rows": self.rows,
            "null_share": {"training": self.profile["null_share"], "new": _share(self.nulls, self.rows)},
            "bins": {"names": names, "training": expected, "new": actual},
            "new_categories": [
                {"value": k, "rows": v, "share": _share(v, seen), "in_contract": self._allowed(k)}
                for k, v in list(new.items())[:20]
            ],
            "new_category_share": _share(sum(new.values()), seen),
            "psi": psi(expected, actual) if seen else None,
            "test": self._chi_square(trained, seen),
        }

    def _allowed(self, value: str) -> bool | None:
        return None if self.allowed is None else value in self.allowed

    def _chi_square(self, trained: dict[str, float], seen: int) -> dict[str, Any] | None:
        """Chi-square test of the two frequency tables (training counts from the profile's shares)."""
        from scipy.stats import chi2_contingency

        base = self.profile["rows"] * (1 - self.profile["null_share"])
        keys = [*trained, *(k for k in self.counts if k not in trained)]
        table = np.array([[trained.get(k, 0.0) * base for k in keys], [self.counts.get(k, 0) for k in keys]])
        table = table[:, table.sum(axis=0) > 0]
        if not seen or table.shape[1] < 2:
            return None
        statistic, p_value, *_ = chi2_contingency(table)
        return {"name": "chi2", "statistic": float(statistic), "p_value": float(p_value)}


def tracker(profile: dict[str, Any], allowed: set[str] | None = None) -> NumberDrift | CategoryDrift:
    """The drift counter a profile entry calls for."""
    return NumberDrift(profile) if profile["kind"] == "numerical" else CategoryDrift(profile, allowed)
