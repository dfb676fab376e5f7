"""Model behaviour: ranking, gates, and a whole (small) training run as MLflow records it.

(unit layer)"""

from __future__ import annotations

import pytest
from support.search import recipe, result  # noqa: F401 (fixtures)

from trainer.errors import EXIT_GATE, GateError, TrainerError
from trainer.recipe.settings import Recipe
from trainer.search.results import rank
from trainer.search.selection import select


def test_rank_orders_by_cv_r2() -> None:
    ranked = rank([result("a", 0.40), result("b", 0.55), result("c", -0.1), result("d", 0.50)])
    assert [r.name for r in ranked] == ["b", "d", "a", "c"]


def test_rank_breaks_exact_ties_by_complexity_then_name() -> None:
    ranked = rank(
        [
            result("zeta", 0.5, complexity=3),
            result("beta", 0.5, complexity=3),
            result("alpha", 0.5, complexity=7),
            result("gamma", 0.5, complexity=1),
            result("best", 0.6, complexity=9),
        ]
    )
    assert [r.name for r in ranked] == ["best", "gamma", "beta", "zeta", "alpha"]


def test_rank_treats_float_noise_as_a_tie() -> None:
    """Scores equal to 10 decimals are a tie: the simpler model wins, not the noise."""
    ranked = rank([result("forest", 0.5 + 1e-13, complexity=7), result("ridge", 0.5, complexity=2)])
    assert [r.name for r in ranked] == ["ridge", "forest"]


def test_rank_is_independent_of_input_order() -> None:
    results = [result(n, s, c) for n, s, c in [("a", 0.5, 2), ("b", 0.5, 1), ("c", 0.7, 5), ("d", 0.5, 1)]]
    expected = [r.name for r in rank(results)]
    assert expected == ["c", "b", "d", "a"]
    assert [r.name for r in rank(results[::-1])] == expected


def test_select_picks_the_best_passing_candidate(recipe: Recipe) -> None:
    selection = select(
        [result("dummy", 0.0, 0), result("linear", 0.48, 1), result("ridge", 0.49, 2)], recipe.gates
    )
    assert selection.winner.name == "ridge"
    assert selection.baseline.name == "dummy"
    board = selection.leaderboard
    assert list(board["candidate"]) == ["ridge", "linear", "dummy"]
    assert list(board["rank"]) == [1, 2, 3]
    assert list(board["status"]) == ["selected", "passed", "baseline"]


def test_select_skips_candidates_that_do_not_beat_the_baseline_enough(recipe: Recipe) -> None:
    """min_improvement 0.05: 0.33 is above min_cv_r2 0.3 but only 0.03 above the baseline."""
    selection = select(
        [result("dummy", 0.30, 0), result("linear", 0.33, 1), result("ridge", 0.36, 2)], recipe.gates
    )
    assert selection.winner.name == "ridge"
    status = dict(zip(selection.leaderboard["candidate"], selection.leaderboard["status"], strict=True))
    assert status["linear"].startswith("rejected: beats baseline by")


def test_select_never_picks_the_baseline(recipe: Recipe) -> None:
    with pytest.raises(GateError):
        select([result("dummy", 0.9, 0), result("linear", 0.5, 1)], recipe.gates)


def test_select_raises_gate_error_when_all_below_min_cv_r2(recipe: Recipe) -> None:
    with pytest.raises(GateError) as info:
        select([result("dummy", 0.0, 0), result("linear", 0.2, 1), result("ridge", 0.25, 2)], recipe.gates)
    error = info.value
    assert error.exit_code == EXIT_GATE == 3
    assert "quality gates" in str(error)
    assert "'ridge'" in str(error)
    assert list(error.leaderboard["candidate"]) == ["ridge", "linear", "dummy"]
    assert all(s.startswith("rejected") or s == "baseline" for s in error.leaderboard["status"])


def test_child_runs_written_in_the_background_report_the_first_failure() -> None:
    from trainer.recording.candidate_runs import ChildRuns

    written: list[int] = []

    def refused() -> None:
        raise RuntimeError("store refused the write")

    with ChildRuns() as children:
        children.submit("one", written.append, 1)
        children.submit("writing 'two'", refused)
        children.submit("three", written.append, 2)
        with pytest.raises(TrainerError, match="writing 'two' failed: RuntimeError: store refused"):
            children.wait()
    assert written == [1], "once the store refused a write, the rest are not attempted"
    with ChildRuns() as children:
        children.wait()  # nothing pending
        children.check()


@pytest.mark.parametrize("stop", [GateError, KeyboardInterrupt], ids=["gate-refusal", "signal"])
def test_child_runs_are_all_written_when_the_training_stops(stop: type[BaseException]) -> None:
    import threading

    from trainer.recording.candidate_runs import ChildRuns

    release, written = threading.Event(), []
    with pytest.raises(stop), ChildRuns() as children:
        children.submit("slow", lambda: (release.wait(10), written.append("in progress")))
        children.submit("queued", written.append, "queued")
        threading.Timer(0.2, release.set).start()  # the queued write is still waiting when it stops
        raise stop("stopped")
    assert written == ["in progress", "queued"], "every candidate searched before it keeps its run"


def test_a_write_lost_after_the_training_failed_is_named(caplog: pytest.LogCaptureFixture) -> None:
    from trainer.recording.candidate_runs import ChildRuns

    def refused() -> None:
        raise RuntimeError("store refused the write")

    with pytest.raises(GateError), ChildRuns() as children:
        children.submit("recording candidate 'ridge' in the tracking store", refused)
        raise GateError("no candidate passed the quality gates")
    assert (
        "recording candidate 'ridge' in the tracking store failed: RuntimeError: store refused" in caplog.text
    )
