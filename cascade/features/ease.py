"""EASE (Steck 2019) through a rank-r eigendecomposition of the Gram matrix: memory r * n_items.

With G = X^T X ~ V diag(s) V^T (top r), (G + lambda I)^-1 = (I - V diag(d) V^T) / lambda with
d = s / (s + lambda), exact on V's span. EASE's B_ij = -P_ij / P_jj then gives, for an item j the
user has not consumed, score_j = (x V diag(d)) . V_j / (1 - sum_r d_r V_jr^2): a user factor from the
history and one item factor per item, so a request costs history * r plus candidates * r. With
r >= n_items it is exact EASE. V comes from a randomized range finder (Halko et al. 2011) with
power iterations; X^T (X Q) is summed over blocks of users, so nothing users x r is held.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from cascade.engine.base import LOCAL, Engine

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]
_OVERSAMPLE = 64
_POWER_ITERS = 3
_USER_BLOCK = 65_536


@dataclass(frozen=True)
class LowRankEase:
    """Item factors V (n_items, r), shrinkage d (r,) and each item's 1 - sum_r d_r V_jr^2."""

    v: F32
    d: F32
    denom: F32

    def user_factor(self, seen: I64) -> F32:
        """x V diag(d) for a user who consumed the `seen` rows."""
        out: F32 = (self.v[seen].sum(axis=0) * self.d).astype(np.float32)
        return out

    def scores(self, user: F32, rows: I64) -> F32:
        """EASE scores of `rows` (meaningful for rows the user has not consumed)."""
        out: F32 = ((self.v[rows] @ user) / self.denom[rows]).astype(np.float32)
        return out


def _gram_times(blocks: list[sp.csr_matrix], q: F32, engine: Engine) -> F32:
    """X^T X Q, summed over blocks of users."""
    out = np.zeros_like(q)
    for part in engine.map(_block_gram_times, blocks, q):
        out += part
    return out


def _block_gram_times(xb: sp.csr_matrix, q: F32) -> F32:
    out: F32 = np.asarray(xb.T @ (xb @ q), dtype=np.float32)
    return out


def _orth(a: F32) -> F32:
    q, _ = np.linalg.qr(a)
    return q.astype(np.float32)


def fit_low_rank_ease(
    x: sp.csr_matrix, lam: float, rank: int, seed: int = 0, engine: Engine = LOCAL
) -> LowRankEase:
    """Rank-`rank` EASE of the users x items matrix `x` (rank >= n_items: exact)."""
    n_items = x.shape[1]
    step = _USER_BLOCK if engine.workers == 1 else -(-x.shape[0] // engine.workers)
    blocks = [x[a : a + step] for a in range(0, x.shape[0], step)]
    width = min(rank + _OVERSAMPLE, n_items)
    rng = np.random.default_rng(seed)
    if width == n_items:
        q = np.eye(n_items, dtype=np.float32)
    else:
        q = _orth(_gram_times(blocks, rng.standard_normal((n_items, width), dtype=np.float32), engine))
        for _ in range(_POWER_ITERS):
            q = _orth(_gram_times(blocks, q, engine))
    gq = _gram_times(blocks, q, engine)
    small = (q.T.astype(np.float64) @ gq.astype(np.float64) + gq.T.astype(np.float64) @ q) / 2.0
    s, w = np.linalg.eigh(small)
    top = np.argsort(-s)[: min(rank, n_items)]
    s = np.maximum(s[top], 0.0)
    v = (q.astype(np.float64) @ w[:, top]).astype(np.float32)
    d = (s / (s + lam)).astype(np.float32)
    denom = 1.0 - np.einsum("ir,ir,r->i", v, v, d)
    return LowRankEase(v, d, np.maximum(denom, 1e-6).astype(np.float32))
