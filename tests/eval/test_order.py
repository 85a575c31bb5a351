"""Order sensitivity: agreement of score vectors, and its summary over users."""

from __future__ import annotations

import numpy as np
import pytest

from eval.order import agreement, markdown, summarize


def test_agreement_of_identical_reversed_and_partial_orders() -> None:
    a = np.arange(20, dtype=np.float64)
    same = agreement(a, a + 3.0)
    assert same == {"spearman": pytest.approx(1.0), "top1_same": 1.0, "overlap@5": 1.0}
    rev = agreement(a, -a)
    assert rev["spearman"] == pytest.approx(-1.0) and rev["top1_same"] == 0.0 and rev["overlap@5"] == 0.0
    b = a.copy()
    b[[19, 14]] = b[[14, 19]]  # the best and the sixth swap places
    part = agreement(a, b)
    assert (
        part["top1_same"] == 0.0 and part["overlap@5"] == pytest.approx(0.8) and 0.8 < part["spearman"] < 1.0
    )
    assert agreement(a, np.zeros(20))["spearman"] == 0.0  # a constant scorer carries no order


def test_summarize_means_with_intervals_and_the_markdown_table() -> None:
    per_user = [
        {"spearman": 0.5, "top1_same": 1.0, "overlap@5": 0.6},
        {"spearman": 0.7, "top1_same": 0.0, "overlap@5": 0.8},
    ]
    s = summarize(per_user, n_boot=200, seed=0)
    assert s["n"] == 2 and s["spearman"]["mean"] == pytest.approx(0.6)
    assert s["spearman"]["lo"] <= 0.6 <= s["spearman"]["hi"]
    text = markdown(
        {
            "users": 2,
            "passes": 2,
            "prompt": "fused",
            "models": {"base": s, "tuned": {"skipped": "no adapter"}},
        }
    )
    assert "| base | 0.600 [" in text and "| tuned | skipped: no adapter" in text
