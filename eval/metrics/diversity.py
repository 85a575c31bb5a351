"""Intra-list diversity and per-list genre coverage.

ILD is the mean pairwise dissimilarity over all unordered pairs of a list's items:
genre-based with dissimilarity 1 - Jaccard(genres_a, genres_b), embedding-based with 1 - cos(v_a, v_b).
A list with fewer than two items has no pairs; its ILD is defined as 0.0.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from itertools import combinations

import numpy as np
import numpy.typing as npt


def jaccard(a: Collection[str], b: Collection[str]) -> float:
    """|a & b| / |a | b|; two empty sets are identical (1.0)."""
    sa, sb = set(a), set(b)
    union = sa | sb
    return 1.0 if not union else len(sa & sb) / len(union)


def ild_genre(items: Sequence[int], genres: Mapping[int, Collection[str]]) -> float:
    """Mean over item pairs of 1 - Jaccard(genres)."""
    pairs = list(combinations(items, 2))
    if not pairs:
        return 0.0
    return sum(1.0 - jaccard(genres[a], genres[b]) for a, b in pairs) / len(pairs)


def ild_embedding(items: Sequence[int], vectors: Mapping[int, npt.NDArray[np.floating]]) -> float:
    """Mean over item pairs of 1 - cosine(vectors); a zero vector has cosine 0 with everything."""
    if len(items) < 2:
        return 0.0
    m = np.stack([np.asarray(vectors[i], dtype=np.float64) for i in items])
    norms = np.linalg.norm(m, axis=1)
    m = m / np.where(norms > 0, norms, 1.0)[:, None]
    sim = m @ m.T
    iu = np.triu_indices(len(items), k=1)
    return float(np.mean(1.0 - sim[iu]))


def genre_coverage(items: Sequence[int], genres: Mapping[int, Collection[str]], n_genres: int) -> float:
    """Distinct genres in the list / `n_genres` (the genres a list could cover)."""
    if n_genres <= 0:
        raise ValueError("n_genres must be positive")
    covered = set().union(*(set(genres[i]) for i in items)) if items else set()
    return len(covered) / n_genres
