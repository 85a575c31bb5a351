"""Candidate sources merged: the two-tower's FAISS search, the item-item (EASE + recency kNN) source,
and, when the request has a playlist title, the title source (cascade.retrieval.title_source).

The merged list keeps the title source's top `TITLE_QUOTA` and the item-item source's top
`collab_quota`, then fills up to n with the two-tower's order (duplicates dropped). Every candidate
carries its rank in each source and the user's collaborative state, from which the ranker's COLLAB
block is computed (`evidence`), and its similarity to the title (`title_features`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from cascade.data.dataset import Catalog
from cascade.data.idrows import first_seen, positions, ranks_in
from cascade.features.collab import N_EVIDENCE, CollabModel, UserSignals
from cascade.features.registry import COLLAB
from cascade.retrieval.kept_source import decode, encode, model_tag, source_key
from cascade.retrieval.retriever import TwoTowerRetriever
from cascade.retrieval.title_source import TITLE_QUOTA, TitleScoresCache, nearest, title_block
from cascade.types import Candidates, UserView

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]
COLLAB_QUOTA = 200  # of the 500 candidates, the item-item source's top 200 come first
FRESH_MIN_FIT = (
    0.35  # a fresh item joins the candidates when its genres hold this share of the user's recent items
)
FRESH_MAX = 5  # at most this many fresh candidates per request
_EMB = N_EVIDENCE  # first embedding column of the COLLAB block
_SRC = N_EVIDENCE + 3  # first source column
_PER_CANDIDATE = ("item_ids", "scores", "tt_rank", "collab_rank", "rows", "vectors", "fresh_fit")


@dataclass(frozen=True)
class SourcedCandidates(Candidates):
    """Merged candidates; scores are two-tower inner products for every candidate."""

    tt_rank: F32  # rank in the two-tower list (its length where absent)
    collab_rank: F32  # rank in the item-item list (its length where absent)
    rows: I64  # collab rows (-1: item unknown to the collab model)
    signals: UserSignals
    vectors: F32  # (m, dim) two-tower vectors of the candidates
    recent: F32  # (k, dim) two-tower vectors of the user's newest items, newest first
    fresh_fit: F32  # content fit of fresh items (unknown to the collab model) with the user; 0 otherwise
    title_sim: F32 | None = None  # cosine of the playlist title with each candidate's text; None: no title
    title_src: F32 | None = None  # 1 where the title source retrieved the candidate
    keep: bytes | None = None  # the item-item source computed for this request, to keep with the user
    n_retrieved: int = 0  # candidates retrieved, of which these are the head (0: these are all of them)

    def scored_head(self, n: int) -> SourcedCandidates:
        """The head the ranker scores: the first n by best source rank, every title-source and fresh
        candidate with them, in retrieval order (all of them when there are no more than n).

        On the test window, scoring the first 100 to 200 of 500 kept NDCG@10 within 0.001
        (cascade/ranking/head.py). Title-source and fresh candidates that neither source ranked sit at
        the end of the order, and are kept: the title quota and the exploration slot pick from them.
        """
        m = len(self)
        if m <= n:
            return self
        keep = np.arange(m) < n
        keep |= self.fresh_fit > 0
        if self.title_src is not None:
            keep |= self.title_src > 0
        at = np.flatnonzero(keep)
        cut = {f: getattr(self, f)[at] for f in _PER_CANDIDATE}
        if self.title_sim is not None and self.title_src is not None:
            cut |= {"title_sim": self.title_sim[at], "title_src": self.title_src[at]}
        return replace(self, **cut, n_retrieved=self.n_retrieved or m)


class BlendedRetriever:
    """The Retriever protocol over both sources; `evidence` computes the COLLAB block."""

    def __init__(
        self,
        two_tower: TwoTowerRetriever,
        collab: CollabModel,
        catalog: Catalog,
        collab_quota: int = COLLAB_QUOTA,
    ) -> None:
        self.two_tower, self.collab, self.catalog, self.collab_quota = (
            two_tower,
            collab,
            catalog,
            collab_quota,
        )
        self._fresh: I64 = np.empty(0, dtype=np.int64)
        self._indexed = -1
        self._titles = TitleScoresCache()
        self._tag = model_tag(collab)  # kept item-item lists of another model never match

    def fresh_items(self) -> I64:
        """Indexed items the collab model does not know (added after it was fitted)."""
        ids = self.two_tower.item_ids()
        if len(ids) != self._indexed:
            self._indexed = len(ids)
            self._fresh = ids[self.collab.rows_or_missing(ids) < 0]
        return self._fresh

    def _fresh_fit(self, sig: UserSignals, exclude: I64) -> tuple[I64, F32]:
        """Fresh items, best first, whose genres fit the user's recent items (the content source)."""
        fresh = self.fresh_items()
        if len(fresh) and len(exclude):
            fresh = fresh[~np.isin(fresh, exclude)]
        if not len(fresh) or not len(sig.recent):
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        share = self.collab.genres[sig.recent].mean(axis=0)
        g = self._genre_rows(fresh)
        fit = (g @ share) / np.maximum(g.sum(axis=1), 1.0)
        keep = np.flatnonzero(fit >= FRESH_MIN_FIT)
        keep = keep[np.argsort(-fit[keep], kind="stable")][:FRESH_MAX]
        return fresh[keep], fit[keep].astype(np.float32)

    def _genre_rows(self, item_ids: I64) -> F32:
        return self.catalog.genre_matrix()[self.catalog.rows(item_ids)]

    def retrieve(self, user: UserView, n: int, title: F32 | None = None) -> SourcedCandidates:
        """About n candidates: the title source's and the item-item source's heads, then the two-tower's.

        title: the playlist title's unit MiniLM embedding (None: no title, no title source).
        """
        tt = self.two_tower
        exclude = user.excluded()
        excl = np.fromiter(exclude, dtype=np.int64, count=len(exclude))
        q = tt.user_vector(user)
        tt_ids, _ = tt.index.search_unseen(q, n, excl)
        cf_rows, sig, keep = self._source(user, excl, n)
        cf_ids = self.collab.item_ids[cf_rows]
        quota = min(self.collab_quota, n)
        fresh, fit = self._fresh_fit(sig, excl)
        text = None if title is None else tt.text_vectors()
        # every indexed item's cosine with the title; None: no title, or no text to match it with
        by_title = None if title is None or text is None else self._titles.get(text, title)
        title_ids = np.empty(0, dtype=np.int64)
        if by_title is not None:
            title_ids = nearest(by_title, tt.item_ids(), TITLE_QUOTA, excl)
        parts = (fresh, title_ids, cf_ids[:quota], tt_ids, cf_ids[quota:])
        ids, rows, size = _dense_rows(tt, parts)
        first = first_seen(rows, size)[:n]  # the parts concatenated, each id at its first position only
        merged, merged_rows = ids[first], rows[first]
        start = np.cumsum([0, *(len(p) for p in parts)])  # where each part starts in `rows`
        cf_rows = np.concatenate((rows[start[2] : start[3]], rows[start[4] : start[5]]))  # cf_ids, in order
        tt_rank = _ranks(merged_rows, rows[start[3] : start[4]], size)
        cf_rank = _ranks(merged_rows, cf_rows, size)
        vecs = tt.vectors_of(merged)
        newest = list(dict.fromkeys((*user.session_items, *reversed(user.history[-10:]))))[:10]
        recent = tt.vectors_of(np.asarray(newest, dtype=np.int64))
        # best first by the better of the two source ranks (ties: two-tower first)
        order = np.lexsort((tt_rank, np.minimum(tt_rank, cf_rank)))
        merged, tt_rank, cf_rank, vecs = merged[order], tt_rank[order], cf_rank[order], vecs[order]
        rows = self.collab.rows_or_missing(merged)
        scores = (vecs @ q).astype(np.float32)
        at = positions(fresh, merged)  # -1: not a fresh item
        fresh_fit = np.where(at >= 0, fit[np.maximum(at, 0)] if len(fit) else 0.0, 0.0).astype(np.float32)
        sim = src = None
        if by_title is not None:
            sim = by_title.sims[np.maximum(tt.rows(merged), 0)]  # every candidate is indexed
            src = (positions(title_ids, merged) >= 0).astype(np.float32)
        return SourcedCandidates(
            merged, scores, tt_rank, cf_rank, rows, sig, vecs, recent, fresh_fit, sim, src, keep
        )

    def _source(self, user: UserView, excl: I64, n: int) -> tuple[I64, UserSignals, bytes | None]:
        """The item-item source's rows and the user's signals: kept with the user when the key matches,
        else computed (and returned encoded, to be kept)."""
        key = source_key(self._tag, n, user, excl)
        kept = decode(user.stored_source, key)
        if kept is not None:
            return *kept, None
        sig = self.collab.signals(user.history, user.session_items)
        rows = self.collab.source(sig, self.collab.rows(excl), n)
        return rows, sig, encode(key, rows, sig)

    def source_blob(self, user: UserView, n: int) -> bytes | None:
        """The item-item source and signals to keep for `user` (on an event); None when the kept ones
        still match."""
        exclude = user.excluded()
        excl = np.fromiter(exclude, dtype=np.int64, count=len(exclude))
        return self._source(user, excl, n)[2]

    @staticmethod
    def title_features(retrieved: SourcedCandidates) -> F32 | None:
        """The TITLE block of the registry for these candidates; None without a title (defaults)."""
        if retrieved.title_sim is None or retrieved.title_src is None:
            return None
        return title_block(retrieved.title_sim, retrieved.title_src)

    def evidence(self, retrieved: SourcedCandidates) -> F32:
        """The COLLAB block of the registry for these candidates."""
        m = len(retrieved)
        out = np.empty((m, len(COLLAB)), dtype=np.float32)
        out[:, :N_EVIDENCE] = self.collab.evidence(
            retrieved.signals, retrieved.rows, self._genre_rows(retrieved.item_ids)
        )
        vecs, rec = retrieved.vectors, retrieved.recent
        for j, k in enumerate((1, 3, 10)):
            out[:, _EMB + j] = vecs @ rec[:k].mean(axis=0) if len(rec) else 0.0
        n_tt = retrieved.n_retrieved or len(retrieved)
        out[:, _SRC] = retrieved.tt_rank < n_tt
        out[:, _SRC + 1] = retrieved.collab_rank < n_tt
        out[:, _SRC + 2] = retrieved.collab_rank
        return out


def _dense_rows(tt: TwoTowerRetriever, parts: tuple[I64, ...]) -> tuple[I64, I64, int]:
    """The parts' ids concatenated, a dense row per distinct id, and the number of rows: the index's
    rows, and rows past them for ids the index lacks (one per distinct id)."""
    ids = np.concatenate(parts).astype(np.int64, copy=False)
    rows = tt.rows(ids)
    size = len(tt.item_ids())
    unknown = rows < 0
    if unknown.any():
        _, extra = np.unique(ids[unknown], return_inverse=True)
        rows = rows.copy()
        rows[unknown] = size + extra
        size += int(extra.max()) + 1
    return ids, rows, size


def _ranks(rows: I64, source: I64, size: int) -> F32:
    """Rank of each of `rows` in `source`, distinct rows below `size` (len(source) where absent)."""
    r = ranks_in(rows, source, size)
    return np.where(r >= 0, r, len(source)).astype(np.float32)
