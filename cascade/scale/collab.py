"""The trained collaborative model grown to the synthetic catalog, so the item-item source runs at scale.

Every item's family is its parent and the parent's synthetic children. An item's k neighbours are its
parent's neighbours, each replaced by a random member of that neighbour's family, with the cosine
and count scaled by U(0.8, 1.0); a child's EASE factor row is its parent's plus noise. Serving cost
(history * k neighbours, candidates * rank) is then what a model fitted on that catalog would have;
the scores are plausible, not learned, so this is for latency and memory, not for accuracy.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from cascade.data.dataset import Catalog
from cascade.features.collab import CollabModel
from cascade.features.ease import LowRankEase
from cascade.features.neighbours import Neighbours

I64 = npt.NDArray[np.int64]
FACTOR_NOISE = 0.1  # relative to the parent's factor row norm


def _family_member(parents: I64, n_real: int, targets: I64, rng: np.random.Generator) -> I64:
    """For each real row in `targets`, a uniformly random member of its family (itself or a child)."""
    order = np.argsort(parents, kind="stable")
    size = np.bincount(parents, minlength=n_real)  # children per real item
    start = np.r_[0, np.cumsum(size)[:-1]]
    pick = (rng.random(len(targets)) * (size[targets] + 1)).astype(np.int64)  # 0: the real item
    child = order[start[targets] + np.maximum(pick - 1, 0)] + n_real
    return np.where(pick == 0, targets, child).astype(np.int64)


def grow_collab(
    real: CollabModel, catalog: Catalog, parents: I64, seed: int, rank: int, neighbours: int
) -> CollabModel:
    """The real model over `catalog` (the real items, then one synthetic item per entry of `parents`).

    rank, neighbours: EASE factors and neighbours per item kept (the leading ones, best first):
    fewer than trained bound the memory at millions of items.
    """
    rng = np.random.default_rng(seed)
    n_real, n = len(real), len(catalog)
    origin = np.r_[np.arange(n_real), parents].astype(np.int64)  # each row's real parent (itself if real)
    base_cos = real.neighbours.cos
    per = np.minimum(np.diff(base_cos.indptr), neighbours)[origin]
    indptr = np.r_[0, np.cumsum(per)].astype(np.int64)
    src_start = base_cos.indptr[:-1]
    # entry positions of each row's parent list, without a Python loop over rows
    offs = np.arange(indptr[-1]) - np.repeat(indptr[:-1], per)
    entry = np.repeat(src_start[origin], per) + offs
    targets = base_cos.indices[entry].astype(np.int64)
    cols = _family_member(parents, n_real, targets, rng)
    scale = rng.uniform(0.8, 1.0, len(entry)).astype(np.float32)
    cos = sp.csr_matrix((base_cos.data[entry] * scale, cols, indptr), shape=(n, n))
    count = sp.csr_matrix((real.neighbours.count.data[entry] * scale, cols, indptr), shape=(n, n))
    # no sum_duplicates: it would sort rows by column; each row stays in its parent's best-first order
    r = min(rank, real.ease.v.shape[1])
    base_v, d = np.ascontiguousarray(real.ease.v[:, :r]), real.ease.d[:r]
    v = base_v[origin]
    norms = np.linalg.norm(base_v, axis=1)[origin][n_real:, None]
    noise = rng.standard_normal((n - n_real, r), dtype=np.float32)
    v[n_real:] += noise * (FACTOR_NOISE * norms / np.sqrt(r)).astype(np.float32)
    denom = np.maximum(1.0 - np.einsum("ir,ir,r->i", v, v, d), 1e-6).astype(np.float32)
    ease = LowRankEase(v, d, denom)
    return CollabModel(catalog.item_ids, Neighbours(cos, count), ease, catalog.genre_matrix(), real.cfg)
