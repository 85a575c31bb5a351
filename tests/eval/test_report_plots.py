"""The report's plots: the CI bars take intervals whose end sits a rounding error inside the mean."""

from __future__ import annotations

from pathlib import Path

from eval.report import plot_ci_bars


def test_ci_bars_accept_an_interval_ending_a_rounding_error_past_its_mean(tmp_path: Path) -> None:
    # what the fresh clone's A/B simulation produced: lo = mean + 6e-9 (a percentile of the same values)
    comparisons = {
        "treatment": {"plays_per_user": {"mean_diff": 0.01, "lo": 0.01 + 6e-9, "hi": 0.025}},
        "other": {"plays_per_user": {"mean_diff": -0.02, "lo": -0.04, "hi": -0.02 - 1e-12}},
    }
    out = tmp_path / "ci_bars.png"
    plot_ci_bars(out, comparisons, ["plays_per_user"], baseline="control")
    assert out.is_file() and out.stat().st_size > 1000
