"""Within-window AUC, Kendall's tau and the user interval against hand-worked values."""

from __future__ import annotations

import math

import pytest

from eval.llm.stats import interval, kendall, percentiles, window_auc


def test_window_auc_counts_pairs_and_half_ties() -> None:
    assert window_auc([3.0, 2.0, 1.0], [True, False, False]) == 1.0
    assert window_auc([1.0, 2.0, 3.0], [True, False, False]) == 0.0
    # relevant 2.0 beats 1.0, loses to 3.0, ties 2.0: (1 + 0 + 0.5) / 3
    assert window_auc([2.0, 3.0, 1.0, 2.0], [True, False, False, False]) == pytest.approx(0.5)
    assert math.isnan(window_auc([1.0, 2.0], [False, False]))
    assert math.isnan(window_auc([1.0, 2.0], [True, True]))


def test_kendall_of_same_reversed_and_constant_scores() -> None:
    assert kendall([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert kendall([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert kendall([1, 2, 3], [5, 5, 5]) == 0.0


def test_interval_drops_nan_and_brackets_the_mean() -> None:
    c = interval([0.5, 0.7, float("nan"), 0.6], n_boot=500)
    assert c["n"] == 3 and c["mean"] == pytest.approx(0.6) and c["lo"] <= 0.6 <= c["hi"]
    assert percentiles([1.0, 2.0, 3.0])["p50"] == 2.0 and math.isnan(percentiles([])["p95"])
