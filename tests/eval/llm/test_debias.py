"""The PriDe-style prior: recovered from shuffled windows of known item effects and position prior."""

from __future__ import annotations

import numpy as np
import pytest

from eval.llm.debias import ShuffledWindow, debiased, estimate_prior


def _windows(prior: np.ndarray, item_scale: float, n_windows: int = 60, k: int = 3) -> list[ShuffledWindow]:
    rng = np.random.default_rng(0)
    out = []
    for u in range(n_windows):
        items = rng.normal(0.0, item_scale, 20)
        pos = np.stack([rng.permutation(20) for _ in range(k)])
        raw = items[None, :] + prior[pos] + rng.normal(0.0, 0.01, (k, 20))
        out.append(ShuffledWindow(u, raw, pos, items > np.median(items), [1.0] * k))
    return out


def test_a_dominant_prior_is_recovered_and_named_as_most_of_the_variance() -> None:
    prior = np.linspace(3.0, -3.0, 20)
    est = estimate_prior(_windows(prior, item_scale=0.3))
    assert np.allclose(est.values, prior - prior.mean(), atol=0.05)
    # a candidate's mean over 3 shuffles still carries a third of the prior's spread
    assert est.share > 0.9 and est.item_share < 0.4


def test_debiased_scores_keep_only_the_items() -> None:
    prior = np.linspace(3.0, -3.0, 20)
    ws = _windows(prior, item_scale=1.0)
    est = estimate_prior(ws)
    d = debiased(ws[0], est.values)
    assert np.corrcoef(d[0], d[1])[0, 1] > 0.99  # two shuffles agree once the positions are taken out
    assert np.corrcoef(ws[0].raw[0], ws[0].raw[1])[0, 1] < 0.5


def test_no_prior_gives_a_share_near_zero() -> None:
    est = estimate_prior(_windows(np.zeros(20), item_scale=1.0))
    assert est.share == pytest.approx(0.0, abs=0.01) and est.item_share > 0.95
