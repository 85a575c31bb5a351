"""Novelty: mean self-information -log2 p(i) of a list's items, p from train popularity.

p(i) = (c_i + 1) / (N + |catalog|), with c_i the item's interactions in the training data and N all
training interactions (add-one smoothing, so never-seen items have a finite, high self-information).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence


def self_information(counts: Mapping[int, int], catalog: Iterable[int]) -> dict[int, float]:
    """-log2 p(i) for every catalog item under add-one smoothed popularity."""
    items = list(catalog)
    total = sum(counts.get(i, 0) for i in items) + len(items)
    return {i: -math.log2((counts.get(i, 0) + 1) / total) for i in items}


def popularity_counts(train_items: Iterable[int]) -> dict[int, int]:
    """Interaction count per item."""
    return dict(Counter(int(i) for i in train_items))


def novelty(items: Sequence[int], info: Mapping[int, float]) -> float:
    """Mean self-information of the list (0.0 for an empty list)."""
    return sum(info[i] for i in items) / len(items) if items else 0.0
