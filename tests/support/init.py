"""Shared by the unit, integration, system tests of init: _draft, _houses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from trainer.cli.main import main


def _draft(csv: Path, out: Path, *extra: str) -> int:
    return main(["init", "--data", str(csv), "--target", "y", "--out", str(out), *extra])


def _houses(n: int = 300) -> pd.DataFrame:
    """Prices that fall with a house's age at sale: two ISO date columns (one with times and blanks)."""
    rng = np.random.default_rng(0)
    built = pd.Timestamp("1950-01-01") + pd.to_timedelta(rng.integers(0, 70 * 365, n), unit="D")
    sold = pd.Timestamp("2015-01-01") + pd.to_timedelta(rng.integers(0, 8 * 365, n), unit="D")
    frame = pd.DataFrame(
        {
            "built_on": built.strftime("%Y-%m-%d"),
            "sold": sold.strftime("%Y-%m-%d %H:%M"),
            "day": sold.strftime("%d/%m/%Y"),  # not ISO: free text, as before
            "area": rng.normal(100, 20, n),
        }
    )
    frame["y"] = 1000 * frame["area"] - 2000 * (sold - built).days / 365.25 + rng.normal(0, 5000, n)
    frame.loc[::37, "sold"] = None
    return frame
