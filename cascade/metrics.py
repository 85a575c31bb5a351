"""Top-k ranking metrics for one list against a set of relevant items (binary relevance)."""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence


def ndcg_at_k(ranked: Sequence[int], relevant: Collection[int], k: int = 10) -> float:
    if not relevant:
        return 0.0
    dcg = sum(1.0 / math.log2(r + 2) for r, item in enumerate(ranked[:k]) if item in relevant)
    ideal = sum(1.0 / math.log2(r + 2) for r in range(min(k, len(relevant))))
    return dcg / ideal


def recall_at_k(ranked: Sequence[int], relevant: Collection[int], k: int = 10) -> float:
    if not relevant:
        return 0.0
    return sum(1 for item in ranked[:k] if item in relevant) / len(relevant)


def hit_rate_at_k(ranked: Sequence[int], relevant: Collection[int], k: int = 10) -> float:
    return 1.0 if any(item in relevant for item in ranked[:k]) else 0.0


def mrr_at_k(ranked: Sequence[int], relevant: Collection[int], k: int = 10) -> float:
    for r, item in enumerate(ranked[:k]):
        if item in relevant:
            return 1.0 / (r + 1)
    return 0.0


ACCURACY = {"ndcg": ndcg_at_k, "recall": recall_at_k, "hit_rate": hit_rate_at_k, "mrr": mrr_at_k}


def accuracy(ranked: Sequence[int], relevant: Collection[int], k: int = 10) -> dict[str, float]:
    """All four accuracy metrics at k, keyed like 'ndcg@10'."""
    return {f"{name}@{k}": fn(ranked, relevant, k) for name, fn in ACCURACY.items()}
