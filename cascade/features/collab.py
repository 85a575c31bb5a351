"""Collaborative and sequential evidence for (user, candidate) pairs, from structures linear in items.

Why these signals: GBDT rankers over several candidate generators get most of their lift from the
generators' own scores and ranks and from item-item evidence between the candidate and the user's
most recent items (Covington et al. 2016, "Deep Neural Networks for YouTube Recommendations":
candidate sources and their scores as ranker features, recency of the user's related activity;
the two-stage co-visitation + GBDT LambdaRank pipelines of the RecSys Challenge 2022 and the
Otto / H&M Kaggle winners: co-visitation counts with the last 1..N items, weighted by recency;
Ludewig & Jannach 2018, "Evaluation of session-based recommendation algorithms": recency-weighted
item-kNN is as strong as neural sequential models; Steck 2019, EASE: a closed-form item-item model).

Scale: item-item evidence reads each item's top-k co-occurrence neighbours (cascade.features.
neighbours: k * n_items) and EASE is rank-r (cascade.features.ease: r * n_items); a request costs
its recent history times k plus its candidates times r, and ranks are ranks among the candidates.

Point in time: the model is fitted on the history before the window being scored (train for the
validation window, train + validation for the test window and serving), like the two-tower; every
per-user signal reads only the user's own history and session, which end before the row's time.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from cascade.data.dataset import Catalog, Interactions
from cascade.data.idrows import IdRows
from cascade.engine.base import LOCAL, Engine
from cascade.features.ease import LowRankEase, fit_low_rank_ease
from cascade.features.neighbours import Neighbours, interaction_matrix, top_k_neighbours

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]
FILE = "collab.npz"
GENRE_RECENCY_CAP = 50  # "no item of these genres in the last 50": the default
N_EVIDENCE = 12  # columns of `CollabModel.evidence`: the COLLAB block up to the embedding columns


@dataclass(frozen=True)
class CollabConfig:
    """EASE's L2 weight and rank, the item-kNN's neighbours, and its recency weighting."""

    ease_lambda: float = 500.0
    recent: int = 20
    decay: float = 0.8  # weight of the j-th most recent item: decay**j
    source_knn_weight: float = 0.3  # candidate source: z(EASE) + w * z(recency kNN)
    neighbours: int = 400  # top-k co-occurrence neighbours kept per item (features read all of them)
    rank: int = 256  # of the low-rank EASE (>= n_items: exact)
    source_recent: int = 50  # the source pools the nearest neighbours of this many newest items
    source_neighbours: int = 200  # ... this many of each: a pool of at most 10,000 items
    source_pool: int = 2000  # ... of which the source scores this many, by pooled cosine (a catalog
    # of fewer items is never cut: at MovieLens-100k's 1,682 the source scores the whole pool)


@dataclass(frozen=True)
class UserSignals:
    """One user's collaborative state at request time (computed once, read per candidate)."""

    recent: I64  # collab rows of the newest items, newest first (at most cfg.recent)
    pool_from: I64  # collab rows of the newest items whose neighbours the source pools
    user_factor: F32  # (rank,) EASE user factor
    seen: I64  # collab rows the user has consumed
    genre_recency: F32  # (n_genres,) items since the user's last item of each genre (capped)
    recent_genres: F32  # (n_genres,) share of the last 10 items tagged with each genre


def _zscore(a: F32) -> F32:
    out: F32 = ((a - a.mean()) / (a.std() + 1e-6)).astype(np.float32)
    return out


class CollabModel:
    """Top-k item neighbours (cosine and counts) and a low-rank EASE over the catalog's items."""

    def __init__(
        self, item_ids: I64, neighbours: Neighbours, ease: LowRankEase, genres: F32, cfg: CollabConfig
    ) -> None:
        self.item_ids = np.asarray(item_ids, dtype=np.int64)
        self.neighbours, self.ease, self.genres, self.cfg = neighbours, ease, genres, cfg
        self._row = IdRows(self.item_ids)
        self._decay = (cfg.decay ** np.arange(max(cfg.recent, cfg.source_recent))).astype(np.float32)

    @classmethod
    def fit(
        cls,
        history: Interactions,
        catalog: Catalog,
        cfg: CollabConfig | None = None,
        seed: int = 0,
        engine: Engine = LOCAL,
    ) -> CollabModel:
        """Fit on `history` (every item of the catalog gets a row, with or without interactions)."""
        cfg = cfg or CollabConfig()
        users, urow = np.unique(history.user, return_inverse=True)
        x = interaction_matrix(urow.astype(np.int64), catalog.rows(history.item), len(users), len(catalog))
        neighbours = top_k_neighbours(x, cfg.neighbours, engine)
        ease = fit_low_rank_ease(x, cfg.ease_lambda, cfg.rank, seed, engine)
        return cls(catalog.item_ids.copy(), neighbours, ease, catalog.genre_matrix(), cfg)

    def __len__(self) -> int:
        return len(self.item_ids)

    def rows(self, item_ids: Sequence[int] | I64) -> I64:
        """Collab rows of the items it knows (items added after the fit are skipped)."""
        return self._row.known_rows(item_ids)

    def rows_or_missing(self, item_ids: I64) -> I64:
        """Collab row of each item, -1 where unknown."""
        return self._row.rows(item_ids)

    def signals(self, history: Sequence[int], session: Sequence[int] = ()) -> UserSignals:
        """From the batch history (oldest first) and the session (newest first)."""
        newest = list(dict.fromkeys((*session, *reversed(history))))
        rows = self.rows(newest)
        seen = np.unique(rows)
        n_genres = self.genres.shape[1]
        first = np.full(n_genres, float(GENRE_RECENCY_CAP), dtype=np.float32)
        shares = np.zeros(n_genres, dtype=np.float32)
        if len(rows):
            has = self.genres[rows[:GENRE_RECENCY_CAP]] > 0
            first = np.where(has.any(axis=0), has.argmax(axis=0), first).astype(np.float32)
            shares = has[:10].mean(axis=0).astype(np.float32)
        return UserSignals(
            rows[: self.cfg.recent], rows[: self.cfg.source_recent], self.ease.user_factor(seen),
            seen, first, shares,
        )  # fmt: skip

    def knn(self, sig: UserSignals, rows: I64) -> F32:
        """Recency-weighted item-kNN score of `rows`: sum_j decay^j cos(recent_j, row)."""
        cos = self.neighbours.cosine(sig.recent, rows)
        out: F32 = (self._decay[: len(sig.recent)] @ cos).astype(np.float32)
        return out

    def source_score(self, sig: UserSignals, rows: I64) -> F32:
        """The item-item source's score of `rows`: z(EASE) + w z(kNN), z over `rows`."""
        ease, knn = self.ease.scores(sig.user_factor, rows), self.knn(sig, rows)
        return _zscore(ease) + self.cfg.source_knn_weight * _zscore(knn)

    def source(self, sig: UserSignals, exclude: I64, n: int) -> I64:
        """The item-item source: the newest items' neighbours, top n by z(EASE) + w z(kNN), `exclude` dropped.

        Work: source_recent * source_neighbours items pooled, at most source_pool of them scored with
        rank-r EASE; no full-catalog vector.
        """
        weights = self._decay[: len(sig.pool_from)]
        pool, pooled = self.neighbours.pool(sig.pool_from, weights, self.cfg.source_neighbours)
        keep = ~np.isin(pool, exclude)
        pool, pooled = pool[keep], pooled[keep]
        if len(pool) > self.cfg.source_pool:
            pool = pool[np.argpartition(-pooled, self.cfg.source_pool - 1)[: self.cfg.source_pool]]
        if not len(pool):
            return pool
        score = self.source_score(sig, pool)
        top = np.argpartition(-score, min(n, len(score) - 1))[:n]
        order: I64 = pool[top[np.lexsort((pool[top], -score[top]))]]
        return order

    def evidence(self, sig: UserSignals, rows: I64, genres: F32) -> F32:
        """Item-item and genre-recency evidence for candidate `rows` (-1: unknown) with their genre rows.

        Ranks are among the known candidates (0 best; unknown: the number of candidates). The
        neighbour columns are sums over the (recent item, candidate) pairs that are neighbours, added
        recent item by recent item in float32: bit for bit the column sums and means of the dense
        (recent x candidates) matrices, without building them (tests/cascade/features/test_collab.py).
        """
        known = rows >= 0
        m, k = len(rows), len(sig.recent)
        out = np.zeros((m, N_EVIDENCE), dtype=np.float32)
        out[:, 0] = self.ease.scores(sig.user_factor, np.where(known, rows, 0))
        if k:
            nb = self.neighbours
            owner, col, at = nb.hits(sig.recent, np.where(known, rows, -1))
            cos = nb.cos.data[at]
            dense = np.zeros((k, m), dtype=np.float32)
            dense[owner, col] = cos
            out[:, 2] = self._decay[:k] @ dense
            out[:, 4] = _column_sum(np.zeros(m, dtype=np.float32), col, nb.log_count(at))
            c1, c3, c10 = np.searchsorted(owner, (1, 3, 10))  # hits of the newest 1, 3 and 10 items
            acc = _column_sum(np.zeros(m, dtype=np.float32), col[:c1], cos[:c1])
            out[:, 6] = acc
            out[:, 7] = _column_sum(acc, col[c1:c3], cos[c1:c3]) / min(k, 3)
            out[:, 8] = _column_sum(acc, col[c3:c10], cos[c3:c10]) / min(k, 10)
            out[:, 5] = _column_sum(acc, col[c10:], cos[c10:]) / k
            top = np.zeros(m, dtype=np.float32)  # cosines are positive: 0 where no pair is neighbours
            np.maximum.at(top, col[:c10], cos[:c10])
            out[:, 9] = top
        out[~known, :10] = 0.0
        out[:, 1] = _rank_among(out[:, 0], known)
        out[:, 3] = _rank_among(out[:, 2], known)
        g = genres
        rec = np.where(g > 0, sig.genre_recency[None, :], float(GENRE_RECENCY_CAP))
        out[:, 10] = rec.min(axis=1)
        out[:, 11] = g @ sig.recent_genres / np.maximum(g.sum(axis=1), 1.0)
        return out

    def save(self, folder: Path) -> None:
        nb = self.neighbours
        np.savez(
            folder / FILE, item_ids=self.item_ids, genres=self.genres,
            nb_indptr=nb.cos.indptr, nb_indices=nb.cos.indices, nb_cos=nb.cos.data, nb_count=nb.count.data,
            ease_v=self.ease.v, ease_d=self.ease.d, ease_denom=self.ease.denom,
            config=np.asarray(json.dumps(asdict(self.cfg))),
        )  # fmt: skip

    @classmethod
    def load(cls, folder: Path) -> CollabModel:
        with np.load(folder / FILE) as a:
            cfg = CollabConfig(**json.loads(str(a["config"])))
            n = len(a["item_ids"])
            pattern = (a["nb_indices"], a["nb_indptr"])
            nb = Neighbours(
                sp.csr_matrix((a["nb_cos"], *pattern), shape=(n, n)),
                sp.csr_matrix((a["nb_count"], *pattern), shape=(n, n)),
            )
            ease = LowRankEase(a["ease_v"], a["ease_d"], a["ease_denom"])
            return cls(a["item_ids"], nb, ease, a["genres"], cfg)


def _column_sum(acc: F32, col: I64, values: F32) -> F32:
    """acc[col] += values, in order (a column's values are added one by one, in float32); acc returned."""
    np.add.at(acc, col, values)
    return acc


def _rank_among(score: F32, known: npt.NDArray[np.bool_]) -> F32:
    """Each known candidate's rank (0 best) by `score` among the known candidates; unknown: len(score)."""
    s = np.where(known, score, -np.inf)
    order = np.argsort(-s, kind="stable")
    rank = np.empty(len(s), dtype=np.float32)
    rank[order] = np.arange(len(s), dtype=np.float32)
    rank[~known] = float(len(s))
    return rank
