"""How far a re-ranked list moved from the ranker's order, over the top k of each.

- position_overlap_at_k: share of the k positions holding the same item in both lists.
- overlap_at_k: share of top-k(b) that top-k(a) keeps.
- Kendall tau-a and Spearman rho on the items shared by both top-k lists, each ranked 1..n within the
  shared set (lists are permutations, so there are no ties). Undefined (nan) with fewer than 2 shared.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import combinations


def position_overlap_at_k(a: Sequence[int], b: Sequence[int], k: int = 10) -> float:
    return sum(1 for x, y in zip(a[:k], b[:k], strict=False) if x == y) / k


def overlap_at_k(items: Sequence[int], ref: Sequence[int], k: int = 10) -> float:
    """Share of `ref`'s top k that `items`' top k keeps (nan when `ref` is empty): the one overlap helper."""
    top = set(ref[:k])
    return len(top & set(items[:k])) / len(top) if top else float("nan")


def _shared_ranks(a: Sequence[int], b: Sequence[int], k: int) -> tuple[list[int], list[int]]:
    top_b = {item: r for r, item in enumerate(b[:k])}
    shared = [item for item in a[:k] if item in top_b]
    order_b = sorted(shared, key=lambda item: top_b[item])
    rank_b = {item: r for r, item in enumerate(order_b)}
    return list(range(len(shared))), [rank_b[item] for item in shared]


def kendall_tau_at_k(a: Sequence[int], b: Sequence[int], k: int = 10) -> float:
    """(concordant - discordant) / pairs over the shared items; nan with fewer than 2."""
    ra, rb = _shared_ranks(a, b, k)
    n = len(ra)
    if n < 2:
        return math.nan
    s = sum(1 if (ra[i] - ra[j]) * (rb[i] - rb[j]) > 0 else -1 for i, j in combinations(range(n), 2))
    return s / (n * (n - 1) / 2)


def spearman_at_k(a: Sequence[int], b: Sequence[int], k: int = 10) -> float:
    """1 - 6 sum d^2 / (n (n^2 - 1)) over the shared items; nan with fewer than 2."""
    ra, rb = _shared_ranks(a, b, k)
    n = len(ra)
    if n < 2:
        return math.nan
    d2 = sum((x - y) ** 2 for x, y in zip(ra, rb, strict=True))
    return 1.0 - 6.0 * d2 / (n * (n * n - 1))


def change_metrics(reranked: Sequence[int], ranker: Sequence[int], k: int = 10) -> dict[str, float]:
    return {
        f"position_overlap@{k}": position_overlap_at_k(reranked, ranker, k),
        f"set_overlap@{k}": overlap_at_k(reranked, ranker, k),
        f"kendall_tau@{k}": kendall_tau_at_k(reranked, ranker, k),
        f"spearman@{k}": spearman_at_k(reranked, ranker, k),
    }
