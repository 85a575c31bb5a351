from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cascade.features.registry import RANKER_FEATURES
from cascade.metrics import ndcg_at_k
from cascade.ranking.xgb import RankerConfig, XGBRanker

F = len(RANKER_FEATURES)


def _groups(seed: int, n_groups: int = 60, size: int = 50) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Relevance planted in column 3 (plus noise): a ranker must learn to sort by it."""
    rng = np.random.default_rng(seed)
    x = rng.random((n_groups * size, F)).astype(np.float32)
    y = (x[:, 3] + 0.1 * rng.random(len(x)) > 0.9).astype(np.float32)
    return x, y, np.full(n_groups, size, dtype=np.int64)


def test_learns_a_planted_signal_and_is_deterministic(tmp_path: Path) -> None:
    cfg = RankerConfig(num_rounds=60, early_stopping=10)
    a, fit = XGBRanker.train(_groups(0), _groups(1), seed=3, config=cfg)
    b, _ = XGBRanker.train(_groups(0), _groups(1), seed=3, config=cfg)
    assert a.version == b.version
    assert fit["valid_ndcg@10"] > 0.8  # 0.984-0.988 over seeds 0-3; column 3 has >60x the next gain
    x, y, _ = _groups(2, n_groups=1)
    order = np.argsort(-a.score(x))
    relevant = set(np.flatnonzero(y).tolist())
    assert ndcg_at_k(order.tolist(), relevant, 10) > ndcg_at_k(list(range(len(y))), relevant, 10)
    a.save(tmp_path / "r.ubj")
    c = XGBRanker.load(tmp_path / "r.ubj")
    np.testing.assert_array_equal(c.score(x), a.score(x))
    assert c.version == a.version
    assert next(iter(a.importance())) == RANKER_FEATURES[3].name


def test_without_early_stopping_every_round_is_kept() -> None:
    cfg = RankerConfig(num_rounds=15, early_stopping=None)
    ranker, fit = XGBRanker.train(_groups(0), _groups(1), seed=3, config=cfg)
    assert ranker.booster.num_boosted_rounds() == 15
    assert fit["best_iteration"] == 14.0
    x, y, sizes = _groups(1)
    assert fit["valid_ndcg@10"] == pytest.approx(_mean_ndcg(ranker.score(x), y, sizes), abs=1e-6)


def _mean_ndcg(scores: np.ndarray, y: np.ndarray, sizes: np.ndarray) -> float:
    """The validation curve's last value, recomputed from the kept booster's scores."""
    out, start = [], 0
    for g in sizes:
        order = np.argsort(-scores[start : start + g], kind="stable")
        relevant = set(np.flatnonzero(y[start : start + g]).tolist())
        out.append(ndcg_at_k(order.tolist(), relevant, 10) if relevant else 1.0)
        start += g
    return float(np.mean(out))
