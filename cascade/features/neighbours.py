"""Sparse top-k item neighbours from co-occurrence: memory k * n_items, never n_items^2.

X^T X is computed in blocks of items (a sparse product per block, `_BLOCK_NNZ` bounds its size); each
item keeps its k neighbours of highest cosine (counts / sqrt(n_i n_j)), as in the item-kNN of
`implicit` and the co-visitation candidates of the two-stage RecSys Challenge pipelines.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from cascade.data.idrows import position_table
from cascade.engine.base import LOCAL, Engine

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]
_BLOCK_NNZ = 40_000_000  # co-occurrence entries per block: about 0.5 GB of temporaries


@dataclass(frozen=True)
class Neighbours:
    """k nearest items per item: cosine and raw co-occurrence count, CSR with the same pattern."""

    cos: sp.csr_matrix
    count: sp.csr_matrix

    def log_count(self, at: I64) -> F32:
        """log(1 + count) of entries `at`, read from a table by count (counts are whole numbers)."""
        out: F32 = self._log1p_table[self.count.data[at].astype(np.int64)]
        return out

    @cached_property
    def _log1p_table(self) -> F32:
        """log(1 + c) for c = 0 .. the largest count: its size is that count, not the entries' number."""
        return np.log1p(np.arange(int(self.count.data.max(initial=0.0)) + 1, dtype=np.float32))

    def gather(self, src: I64, dst: I64) -> tuple[F32, F32]:
        """Dense (len(src), len(dst)) cosine and count of each dst among each src's neighbours (0 if not)."""
        cos = np.zeros((len(src), len(dst)), dtype=np.float32)
        count = np.zeros_like(cos)
        if len(src) and len(dst):
            owner, col, at = self.hits(src, dst)
            cos[owner, col] = self.cos.data[at]
            count[owner, col] = self.count.data[at]  # the same sparsity pattern: one search serves both
        return cos, count

    def cosine(self, src: I64, dst: I64) -> F32:
        """Dense (len(src), len(dst)) cosine of each dst among each src's neighbours (0 if not)."""
        out = np.zeros((len(src), len(dst)), dtype=np.float32)
        if len(src) and len(dst):
            owner, col, at = self.hits(src, dst)
            out[owner, col] = self.cos.data[at]
        return out

    def pool(self, src: I64, weights: F32, per_row: int) -> tuple[I64, F32]:
        """The first `per_row` neighbours of each `src` row with their weighted cosine sum.

        Rows hold their neighbours by cosine, best first, so these are each row's `per_row` nearest.
        """
        starts = self.cos.indptr[src]
        take = np.minimum(self.cos.indptr[src + 1] - starts, per_row)
        at = _entries(starts, take)
        w = np.repeat(weights.astype(np.float32), take) * self.cos.data[at]
        rows, inv = np.unique(self.cos.indices[at], return_inverse=True)
        score = np.zeros(len(rows), dtype=np.float32)
        np.add.at(score, inv, w)
        return rows.astype(np.int64), score

    def hits(self, src: I64, dst: I64) -> tuple[I64, I64, I64]:
        """(position in src, position in dst, entry) of every dst found among a src row's neighbours,
        by position in src.

        dst holds distinct rows (or -1: none). A row -> position table, filled for dst and emptied
        again, finds them: a request touches its own entries only, never the whole table.
        """
        starts = self.cos.indptr[src]  # (not np.diff of the whole indptr: a million items per request)
        take = self.cos.indptr[src + 1] - starts
        at = _entries(starts, take)
        table = position_table(self.cos.shape[1])
        known = np.flatnonzero(dst >= 0)[::-1]  # reversed: a repeated row keeps its first position
        table[dst[known]] = known
        try:
            pos = table[self.cos.indices[at]]
        finally:
            table[dst[known]] = -1
        hit = np.flatnonzero(pos >= 0)
        owner = np.repeat(np.arange(len(src)), take)
        return owner[hit], pos[hit].astype(np.int64), at[hit]


def _entries(starts: I64, take: I64) -> I64:
    """Entry indices starts[i] .. starts[i] + take[i] - 1 of every row i, concatenated."""
    ends = np.cumsum(take)
    return np.repeat(starts - (ends - take), take) + np.arange(int(ends[-1]) if len(ends) else 0)


def interaction_matrix(user_rows: I64, item_rows: I64, n_users: int, n_items: int) -> sp.csr_matrix:
    """Binary users x items CSR (repeated pairs count once)."""
    data = np.ones(len(user_rows), dtype=np.float32)
    x = sp.csr_matrix((data, (user_rows, item_rows)), shape=(n_users, n_items), dtype=np.float32)
    x.sum_duplicates()
    x.data[:] = 1.0
    return x


def top_k_neighbours(x: sp.csr_matrix, k: int, engine: Engine = LOCAL) -> Neighbours:
    """Each item's k neighbours by cosine of co-occurrence (ties: lower row first), self excluded."""
    n_items = x.shape[1]
    xt = x.T.tocsr()  # items x users
    counts = np.asarray(xt.getnnz(axis=1), dtype=np.float32)
    norm = np.sqrt(np.maximum(counts, 1.0))
    # per item, the co-occurrence entries it can have: sum over its users of their history length
    per_item = np.asarray(xt @ np.asarray(x.getnnz(axis=1), dtype=np.float64)).ravel()
    bounds = _blocks(per_item, _BLOCK_NNZ / engine.workers)  # a block per worker within the budget
    parts = [(xt[a:b], a) for a, b in itertools.pairwise(bounds)]
    blocks = engine.map(_block_top_k, parts, x, norm, k)
    r, j = np.concatenate([b[0] for b in blocks]), np.concatenate([b[1] for b in blocks])
    # CSR built from its arrays keeps each row's order: neighbours by cosine, best first
    indptr = np.r_[0, np.cumsum(np.bincount(r, minlength=n_items))].astype(np.int64)
    shape = (n_items, n_items)
    cos_m = sp.csr_matrix((np.concatenate([b[2] for b in blocks]), j, indptr), shape=shape)
    cnt_m = sp.csr_matrix((np.concatenate([b[3] for b in blocks]), j, indptr), shape=shape)
    return Neighbours(cos_m, cnt_m)


def _block_top_k(
    part: tuple[sp.csr_matrix, int], x: sp.csr_matrix, norm: F32, k: int
) -> tuple[I64, I64, F32, F32]:
    """Rows, columns, cosines and counts of the top k neighbours of the items in one block."""
    xt_block, a = part
    b = a + xt_block.shape[0]
    c = (xt_block @ x).tocoo()
    r, j, v = c.row.astype(np.int64) + a, c.col.astype(np.int64), c.data.astype(np.float32)
    keep = r != j
    r, j, v = r[keep], j[keep], v[keep]
    cos = v / norm[r] / norm[j]
    order = np.lexsort((j, -cos, r))  # by row, then cosine descending, then column
    r, j, v, cos = r[order], j[order], v[order], cos[order]
    starts = np.searchsorted(r, np.arange(a, b))
    rank = np.arange(len(r)) - np.repeat(starts, np.diff(np.r_[starts, len(r)]))
    top = rank < k
    return r[top], j[top], cos[top], v[top]


def _blocks(weights: npt.NDArray[np.float64], budget: float) -> list[int]:
    """Row bounds [0, ..., n] cutting `weights` into consecutive blocks of about `budget` each."""
    cum = np.cumsum(weights)
    cuts = np.searchsorted(cum, np.arange(budget, cum[-1] if len(cum) else 0.0, budget))
    return sorted({0, *(int(c) + 1 for c in cuts), len(weights)})
