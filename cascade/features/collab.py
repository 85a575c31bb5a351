"""Collaborative and sequential evidence for (user, candidate) pairs, from dense item x item matrices.

Why these signals: GBDT rankers over several candidate generators get most of their lift from the
generators' own scores and ranks and from item-item evidence between the candidate and the user's
most recent items (Covington et al. 2016, "Deep Neural Networks for YouTube Recommendations":
candidate sources and their scores as ranker features, recency of the user's related activity;
the two-stage co-visitation + GBDT LambdaRank pipelines of the RecSys Challenge 2022 and the
Otto / H&M Kaggle winners: co-visitation counts with the last 1..N items, weighted by recency;
Ludewig & Jannach 2018, "Evaluation of session-based recommendation algorithms": recency-weighted
item-kNN is as strong as neural sequential models; Steck 2019, EASE: a closed-form item-item model).

Point in time: the matrices are fitted on the history before the window being scored (train for
the validation window, train + validation for the test window and serving), like the two-tower;
every per-user signal reads only the user's own history and session, which end before the row's
time. The matrices are float32 and loaded with the artifacts (1,682 items: 11 MB each).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from cascade.data.dataset import Catalog, Interactions
from cascade.data.idrows import IdRows

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]
FILE = "collab.npz"
GENRE_RECENCY_CAP = 50  # "no item of these genres in the last 50": the default
N_EVIDENCE = 12  # columns of `CollabModel.evidence`: the COLLAB block up to the embedding columns


@dataclass(frozen=True)
class CollabConfig:
    """EASE's L2 weight, and the recency-weighted item-kNN over the last `recent` items."""

    ease_lambda: float = 500.0
    recent: int = 20
    decay: float = 0.8  # weight of the j-th most recent item: decay**j
    source_knn_weight: float = 0.3  # candidate source: z(EASE) + w * z(recency kNN)


@dataclass(frozen=True)
class UserSignals:
    """One user's collaborative state at request time (computed once, read per candidate)."""

    recent: I64  # collab rows of the newest items, newest first (at most cfg.recent)
    ease: F32  # (n_items,) EASE score of every item
    knn: F32  # (n_items,) recency-weighted item-kNN score of every item
    seen: I64  # collab rows the user has consumed
    genre_recency: F32  # (n_genres,) items since the user's last item of each genre (capped)
    recent_genres: F32  # (n_genres,) share of the last 10 items tagged with each genre
    recent_cos: F32  # (len(recent), n_items) cosine rows of the recent items
    recent_log_cooc: F32  # (len(recent), n_items) log co-occurrence rows of the recent items


def ease_weights(x: npt.NDArray[np.float64], lam: float) -> npt.NDArray[np.float64]:
    """EASE (Steck 2019): B = I - P diag(1/diag(P)), P = (X^T X + lambda I)^-1, zero diagonal."""
    g = x.T @ x
    g[np.diag_indices_from(g)] += lam
    p = np.linalg.inv(g)
    b: npt.NDArray[np.float64] = -p / np.diag(p)[None, :]
    b[np.diag_indices_from(b)] = 0.0
    return b


def cosine_from_counts(cooc: F32) -> F32:
    """Co-occurrence counts normalized by sqrt(n_i n_j) (the diagonal holds n_i), diagonal zeroed."""
    n = np.sqrt(np.maximum(np.diag(cooc), 1.0)).astype(np.float32)
    out: F32 = (cooc / n[:, None] / n[None, :]).astype(np.float32)
    np.fill_diagonal(out, 0.0)
    return out


def _z(a: F32) -> F32:
    out: F32 = ((a - a.mean()) / (a.std() + 1e-6)).astype(np.float32)
    return out


class CollabModel:
    """EASE weights, co-occurrence counts and cosine similarity over the catalog's items."""

    def __init__(self, item_ids: I64, ease: F32, cooc: F32, genres: F32, cfg: CollabConfig) -> None:
        self.item_ids = np.asarray(item_ids, dtype=np.int64)
        self.ease, self.cooc, self.genres, self.cfg = ease, cooc, genres, cfg
        self.cos = cosine_from_counts(cooc)
        self.log_cooc = np.log1p(cooc).astype(np.float32)
        np.fill_diagonal(self.log_cooc, 0.0)
        self._row = IdRows(self.item_ids)
        self._decay = (cfg.decay ** np.arange(cfg.recent)).astype(np.float32)

    @classmethod
    def fit(cls, history: Interactions, catalog: Catalog, cfg: CollabConfig | None = None) -> CollabModel:
        """Fit on `history` (every item of the catalog gets a row, with or without interactions)."""
        cfg = cfg or CollabConfig()
        users, urow = np.unique(history.user, return_inverse=True)
        x = np.zeros((len(users), len(catalog)), dtype=np.float64)
        x[urow, catalog.rows(history.item)] = 1.0
        ease = ease_weights(x, cfg.ease_lambda).astype(np.float32)
        cooc = (x.T @ x).astype(np.float32)
        return cls(catalog.item_ids.copy(), ease, cooc, catalog.genre_matrix(), cfg)

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
        recent = rows[: self.cfg.recent]
        seen = np.unique(rows)
        ease = self.ease[seen].sum(axis=0) if len(seen) else np.zeros(len(self), np.float32)
        w = self._decay[: len(recent)]
        recent_cos = self.cos[recent]
        knn = w @ recent_cos if len(recent) else np.zeros(len(self), np.float32)
        n_genres = self.genres.shape[1]
        first = np.full(n_genres, float(GENRE_RECENCY_CAP), dtype=np.float32)
        shares = np.zeros(n_genres, dtype=np.float32)
        if len(rows):
            has = self.genres[rows[:GENRE_RECENCY_CAP]] > 0
            first = np.where(has.any(axis=0), has.argmax(axis=0), first).astype(np.float32)
            shares = has[:10].mean(axis=0).astype(np.float32)
        return UserSignals(
            recent, ease.astype(np.float32), knn.astype(np.float32), seen, first, shares,
            recent_cos, self.log_cooc[recent],
        )  # fmt: skip

    def source(self, sig: UserSignals, exclude: I64, n: int) -> I64:
        """The item-item candidate source: top n collab rows by z(EASE) + w z(kNN), `exclude` rows dropped."""
        score = _z(sig.ease) + self.cfg.source_knn_weight * _z(sig.knn)
        score[exclude] = -np.inf
        top = np.argpartition(-score, min(n, len(score) - 1))[:n]
        top = top[np.isfinite(score[top])]
        order: I64 = top[np.argsort(-score[top], kind="stable")]
        return order

    def evidence(self, sig: UserSignals, rows: I64, genres: F32) -> F32:
        """Item-item and genre-recency evidence for candidate `rows` (-1: unknown) with their genre rows."""
        known = rows >= 0
        r = np.where(known, rows, 0)
        out = np.zeros((len(rows), N_EVIDENCE), dtype=np.float32)
        out[:, 0] = sig.ease[r]
        out[:, 1] = _rank_of(sig.ease, sig.seen)[r]
        out[:, 2] = sig.knn[r]
        out[:, 3] = _rank_of(sig.knn, sig.seen)[r]
        if len(sig.recent):
            cos = sig.recent_cos.take(r, axis=1)  # (L, m): rows first, then columns (not np.ix_)
            out[:, 4] = sig.recent_log_cooc.take(r, axis=1).sum(axis=0)
            out[:, 5] = cos.mean(axis=0)
            out[:, 6] = cos[0]
            out[:, 7] = cos[:3].mean(axis=0)
            out[:, 8] = cos[:10].mean(axis=0)
            out[:, 9] = cos[:10].max(axis=0)
        out[~known, :10] = 0.0
        out[~known, 1] = out[~known, 3] = float(len(self))
        g = genres
        rec = np.where(g > 0, sig.genre_recency[None, :], float(GENRE_RECENCY_CAP))
        out[:, 10] = rec.min(axis=1)
        out[:, 11] = g @ sig.recent_genres / np.maximum(g.sum(axis=1), 1.0)
        return out

    def save(self, folder: Path) -> None:
        np.savez(
            folder / FILE, item_ids=self.item_ids, ease=self.ease, cooc=self.cooc, genres=self.genres,
            config=np.asarray(list(asdict(self.cfg).values()), dtype=np.float64),
        )  # fmt: skip

    @classmethod
    def load(cls, folder: Path) -> CollabModel:
        a = np.load(folder / FILE)
        names = list(CollabConfig.__dataclass_fields__)
        values = a["config"].tolist()
        kw = {k: (int(v) if k == "recent" else float(v)) for k, v in zip(names, values, strict=True)}
        cfg = CollabConfig(**kw)  # type: ignore[arg-type]
        return cls(a["item_ids"], a["ease"], a["cooc"], a["genres"], cfg)


def _rank_of(score: F32, seen: I64) -> F32:
    """Each row's rank (0 best) by `score` among the rows not in `seen`."""
    s = score.copy()
    s[seen] = -np.inf
    order = np.argsort(-s, kind="stable")
    rank = np.empty(len(s), dtype=np.float32)
    rank[order] = np.arange(len(s), dtype=np.float32)
    return rank
