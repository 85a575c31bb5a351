from __future__ import annotations

import math

import pytest

from cascade.metrics import accuracy, hit_rate_at_k, mrr_at_k, ndcg_at_k, recall_at_k


def test_golden_values() -> None:
    ranked = [5, 1, 7, 2, 9]
    relevant = {1, 2, 3}
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(ranked, relevant, 5) == pytest.approx(dcg / idcg)
    assert recall_at_k(ranked, relevant, 5) == pytest.approx(2 / 3)
    assert hit_rate_at_k(ranked, relevant, 5) == 1.0
    assert mrr_at_k(ranked, relevant, 5) == pytest.approx(0.5)


def test_cutoff_and_empty() -> None:
    assert ndcg_at_k([5, 1], {1}, 1) == 0.0
    assert mrr_at_k([5, 1], {1}, 1) == 0.0
    assert accuracy([1], set(), 10) == {"ndcg@10": 0.0, "recall@10": 0.0, "hit_rate@10": 0.0, "mrr@10": 0.0}
    assert ndcg_at_k([1, 2], {1, 2}, 10) == pytest.approx(1.0)
