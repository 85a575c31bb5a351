"""Sequential baselines' shared input, and the recency-weighted item-kNN (Ludewig & Jannach 2018).

recency kNN: cosine item-item similarity on the binary matrix of the fit data; a user's score for an
item is sum_j decay**j * sim(h_j, item) over their last `recent` items h_0 (newest), h_1, ...
The decay and the history length are tuned on the validation window like EASE's lambda.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from cascade.data.dataset import Catalog, Interactions

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
UserScorer = Callable[[Sequence[int]], F64]  # user ids -> scores over all catalog columns

RKNN_DECAYS: tuple[float, ...] = (0.6, 0.7, 0.8, 0.9)
RKNN_RECENT = 20


def sequences(history: Interactions, catalog: Catalog) -> dict[int, I64]:
    """Each user's catalog rows in time order (ties by item id)."""
    return {u: catalog.rows(items) for u, items in history.by_user().items()}


def cosine(x: F64) -> F64:
    """Item x item cosine similarity of a binary user x item matrix, zero diagonal."""
    norms = np.sqrt(x.sum(axis=0))
    norms[norms == 0] = 1.0
    s: F64 = (x.T @ x) / norms[:, None] / norms[None, :]
    np.fill_diagonal(s, 0.0)
    return s


def recency_knn_scorer(sim: F64, seqs: dict[int, I64], decay: float, recent: int = RKNN_RECENT) -> UserScorer:
    """Scores sum_j decay**j sim(h_j, .) over each user's last `recent` items, newest first."""
    weights = decay ** np.arange(recent, dtype=np.float64)

    def score(users: Sequence[int]) -> F64:
        out = np.zeros((len(users), sim.shape[0]), dtype=np.float64)
        for r, u in enumerate(users):
            h = seqs.get(u, np.empty(0, np.int64))[-recent:][::-1]
            if len(h):
                out[r] = weights[: len(h)] @ sim[h]
        return out

    return score
