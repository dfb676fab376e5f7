"""Faults: killed, terminated and interrupted trainings, concurrency, broken stores, secrets.

Every test works on its own SQLite store under tmp_path, seeded (once per module) with version 1
of a small model holding `champion`, so "nothing moved" is a real check. Trainings run as
`python -m trainer` subprocesses (venv first on PATH) so signals hit a real process.

(unit layer)"""

from __future__ import annotations

import os
import re

import pytest
from helpers import (
    ROOT,
)
from support.faults import SECRET


def test_explain_never_says_never_promoted_for_an_alias_holder() -> None:
    from trainer.registry.explain import promotion_line

    assert promotion_line({}, []) == "promotion: never promoted"
    assert "never promoted" not in promotion_line({}, ["champion"])
    assert "set outside the trainer" in promotion_line({}, ["champion"])
    pending = {"promoted_alias": "champion", "promotion_state": "pending"}
    assert "interrupted before the alias moved" in promotion_line(pending, [])


def test_plain_postgresql_uri_uses_the_pinned_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    """As deploy/server.sh does: plain postgresql:// (or postgres://) runs with psycopg2."""
    import mlflow

    from trainer.tracking.runs import use_driver

    seen: list[str] = []
    monkeypatch.setattr(mlflow, "set_tracking_uri", seen.append)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "unset")
    assert use_driver("sqlite:///x.db") == "sqlite:///x.db" and seen == []
    assert use_driver("postgresql+psycopg2://u@h/db") == "postgresql+psycopg2://u@h/db"
    for plain in ("postgresql://u@h:5432/db", "postgres://u@h:5432/db"):
        assert use_driver(plain) == "postgresql+psycopg2://u@h:5432/db"
    assert seen == ["postgresql+psycopg2://u@h:5432/db"] * 2
    assert os.environ["MLFLOW_TRACKING_URI"] == "postgresql+psycopg2://u@h:5432/db"


def test_redact_uri_in_process(caplog: pytest.LogCaptureFixture) -> None:
    from trainer.tracking.runs import redact_uri

    assert (
        redact_uri(f"https://me:{SECRET}@host.example:8443/p?q=1") == "https://me:***@host.example:8443/p?q=1"
    )
    assert redact_uri("sqlite:////tmp/x/mlflow.db") == "sqlite:////tmp/x/mlflow.db"
    assert SECRET not in redact_uri(f"postgresql://u:{SECRET}@db/mlflow")
    assert redact_uri("http://u:p@ss@db:5432/x failed") == "http://u:***@db:5432/x failed"  # '@' inside
    assert redact_uri("a http://u:one@h/ and http://v:two@k/") == "a http://u:***@h/ and http://v:***@k/"
    # a token as the user part, without a password
    assert redact_uri(f"http://{SECRET}@host:5000/api failed") == "http://***@host:5000/api failed"
    assert redact_uri(f"tracking store https://{SECRET}@h is unavailable") == (
        "tracking store https://***@h is unavailable"
    )
    assert (
        redact_uri("write to me@example.org or http://host/a@b")
        == "write to me@example.org or http://host/a@b"
    )


def test_package_reads_yaml_safely_and_never_evals() -> None:
    sources = {p: p.read_text() for p in (ROOT / "trainer").rglob("*.py")}
    unsafe = re.compile(r"yaml\.(unsafe_)?load\(|yaml\.load_all\(|\beval\(|\bexec\(|pickle\.loads?\(")
    hits = [
        f"{p.relative_to(ROOT)}:{i}"
        for p, text in sources.items()
        for i, line in enumerate(text.splitlines(), 1)
        if unsafe.search(line)
    ]
    assert hits == []
    assert any("(yaml.SafeLoader)" in text for text in sources.values()), "config is read by a SafeLoader"
