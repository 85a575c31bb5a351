"""Classical baselines on the same split and protocol as the cascade.

Protocol (DESIGN.md "The split"): for the scored window ('val' or 'test'), each user's candidates are
the whole catalog minus every item the user interacted with before the window; the top k (10) are
scored against the user's window items. Models are fit on the history before the window: train for
'val', train+validation for 'test'.

- popularity: items by interaction count in the fit data (ties by item id).
- EASE (Steck 2019): B = I - P diag(1/diag(P)), P = (X^T X + lambda I)^-1, closed form; scores X B.
- item-kNN: cosine item-item similarity on the binary matrix, each item keeps its `neighbors` most
  similar items; scores X S.
- recency item-kNN (eval.sequential): cosine similarity to the user's last 20 items, weighted
  decay**j for the j-th most recent (decay tuned).
- SASRec (eval.sasrec): a small causal transformer trained with full-softmax next-item loss; its
  number of epochs is tuned on validation, then it is refit on train+validation.

Hyper-parameters (EASE lambda, kNN neighbours) are tuned on the validation window by NDCG@k, then the
model is refit on train+validation for the test window.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from cascade.data.dataset import Catalog, Interactions
from cascade.data.split import Split
from cascade.metrics import accuracy, ndcg_at_k
from eval.sasrec import SASRec, SASRecConfig, sasrec_scorer, train_sasrec
from eval.sequential import RKNN_DECAYS, UserScorer, cosine, recency_knn_scorer, sequences

F64 = npt.NDArray[np.float64]
Scorer = Callable[[F64], F64]  # user rows of X -> scores over all catalog columns

EASE_LAMBDAS: tuple[float, ...] = (100.0, 250.0, 350.0, 500.0, 750.0, 1000.0)
KNN_NEIGHBORS: tuple[int, ...] = (20, 50, 100, 200)
SASREC = SASRecConfig()


@dataclass
class BaselineResult:
    name: str
    params: dict[str, float]
    lists: dict[int, list[int]]  # user -> top-k item ids
    per_user: dict[int, dict[str, float]]  # user -> accuracy metrics
    tuning: dict[str, float] = field(default_factory=dict)  # param value -> validation NDCG


class Matrix:
    """Binary user x item matrix of the interactions before a window, over the whole catalog."""

    def __init__(self, history: Interactions, catalog: Catalog, users: Sequence[int]) -> None:
        self.users = [int(u) for u in users]
        self.user_row = {u: r for r, u in enumerate(self.users)}
        self.item_ids = catalog.item_ids.astype(np.int64)
        self.x = np.zeros((len(self.users), len(catalog)), dtype=np.float64)
        keep = np.isin(history.user, np.asarray(self.users, dtype=np.int64))
        rows = np.fromiter((self.user_row[int(u)] for u in history.user[keep]), dtype=np.int64)
        self.x[rows, catalog.rows(history.item[keep])] = 1.0


def popularity_scorer(m: Matrix) -> Scorer:
    counts = m.x.sum(axis=0)
    # break ties by item id (lower first) with a tiny, strictly smaller-than-one offset
    tie = -np.argsort(np.argsort(m.item_ids)) / (10.0 * len(m.item_ids))
    scores = counts + tie
    return lambda rows: np.broadcast_to(scores, rows.shape).copy()


def ease_weights(x: F64, lam: float) -> F64:
    g = x.T @ x
    g[np.diag_indices_from(g)] += lam
    p = np.linalg.inv(g)
    b = -p / np.diag(p)[None, :]
    b[np.diag_indices_from(b)] = 0.0
    return b


def ease_scorer(m: Matrix, lam: float) -> Scorer:
    b = ease_weights(m.x, lam)
    return lambda rows: rows @ b


def knn_weights(x: F64, neighbors: int) -> F64:
    norms = np.sqrt(x.sum(axis=0))
    norms[norms == 0] = 1.0
    s: F64 = (x.T @ x) / norms[:, None] / norms[None, :]
    np.fill_diagonal(s, 0.0)
    if neighbors < s.shape[0]:
        cut = np.argpartition(-s, neighbors, axis=1)[:, neighbors:]
        np.put_along_axis(s, cut, 0.0, axis=1)
    return s


def knn_scorer(m: Matrix, neighbors: int) -> Scorer:
    s = knn_weights(m.x, neighbors)
    return lambda rows: rows @ s


def top_k(m: Matrix, scorer: Scorer, users: Sequence[int], k: int) -> dict[int, list[int]]:
    """Top k per user over the catalog minus the user's history (the rows of X)."""
    return top_k_users(m, lambda us: scorer(m.x[[m.user_row[u] for u in us]]), users, k)


def top_k_users(m: Matrix, scorer: UserScorer, users: Sequence[int], k: int) -> dict[int, list[int]]:
    """Top k per user over the catalog minus the user's history, from per-user scores."""
    rows = m.x[[m.user_row[u] for u in users]]
    scores = scorer(users)
    scores[rows > 0] = -np.inf
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return {u: [int(i) for i in m.item_ids[t]] for u, t in zip(users, top, strict=True)}


def window_truth(window: Interactions) -> dict[int, set[int]]:
    return {u: {int(i) for i in items} for u, items in window.by_user().items()}


def _evaluate(lists: dict[int, list[int]], truth: dict[int, set[int]], k: int) -> dict[int, dict[str, float]]:
    return {u: accuracy(lists[u], truth.get(u, set()), k) for u in lists}


def _mean_ndcg(lists: dict[int, list[int]], truth: dict[int, set[int]], k: int) -> float:
    return float(np.mean([ndcg_at_k(lists[u], truth.get(u, set()), k) for u in lists]))


def run_baselines(
    split: Split,
    catalog: Catalog,
    k: int = 10,
    users: Sequence[int] | None = None,
    include: Sequence[str] = ("popularity", "ease", "item_knn", "recency_knn", "sasrec"),
    ease_lambdas: Sequence[float] = EASE_LAMBDAS,
    knn_neighbors: Sequence[int] = KNN_NEIGHBORS,
    rknn_decays: Sequence[float] = RKNN_DECAYS,
    sasrec: SASRecConfig = SASREC,
    seed: int = 0,
) -> dict[str, BaselineResult]:
    """Tune on the validation window, report on the test window, for `users` (default: all test users)."""
    all_users = sorted(
        set(split.train.user.tolist()) | set(split.val.user.tolist()) | set(split.test.user.tolist())
    )
    scored = sorted(users) if users is not None else sorted(set(split.test.user.tolist()))
    val_m = Matrix(split.history_before("val"), catalog, all_users)
    test_m = Matrix(split.history_before("test"), catalog, all_users)
    val_truth, test_truth = window_truth(split.val), window_truth(split.test)
    val_users = sorted(set(split.val.user.tolist()))
    results: dict[str, BaselineResult] = {}

    def finish(name: str, params: dict[str, float], scorer: Scorer, tuning: dict[str, float]) -> None:
        lists = top_k(test_m, scorer, scored, k)
        results[name] = BaselineResult(name, params, lists, _evaluate(lists, test_truth, k), tuning)

    if "popularity" in include:
        finish("popularity", {}, popularity_scorer(test_m), {})
    tuned: list[tuple[str, str, Sequence[float], Callable[[Matrix, float], Scorer]]] = []
    if "ease" in include:
        tuned.append(("ease", "lambda", ease_lambdas, lambda m, v: ease_scorer(m, v)))
    if "item_knn" in include:
        tuned.append(("item_knn", "neighbors", knn_neighbors, lambda m, v: knn_scorer(m, int(v))))
    for name, param, grid, make in tuned:
        tuning = {}
        for v in grid:
            tuning[f"{v:g}"] = _mean_ndcg(top_k(val_m, make(val_m, float(v)), val_users, k), val_truth, k)
        best = max(grid, key=lambda v: (tuning[f"{v:g}"], -float(v)))
        finish(name, {param: float(best)}, make(test_m, float(best)), tuning)
    val_seqs = sequences(split.history_before("val"), catalog)
    test_seqs = sequences(split.history_before("test"), catalog)

    def finish_users(
        name: str, params: dict[str, float], scorer: UserScorer, tuning: dict[str, float]
    ) -> None:
        lists = top_k_users(test_m, scorer, scored, k)
        results[name] = BaselineResult(name, params, lists, _evaluate(lists, test_truth, k), tuning)

    if "recency_knn" in include:
        sim_val, sim_test = cosine(val_m.x), cosine(test_m.x)
        tuning = {}
        for d in rknn_decays:
            lists = top_k_users(val_m, recency_knn_scorer(sim_val, val_seqs, d), val_users, k)
            tuning[f"{d:g}"] = _mean_ndcg(lists, val_truth, k)
        best = max(rknn_decays, key=lambda d: (tuning[f"{d:g}"], -d))
        finish_users("recency_knn", {"decay": best}, recency_knn_scorer(sim_test, test_seqs, best), tuning)
    if "sasrec" in include:
        tuning = {}

        def on_eval(epoch: int, model: SASRec) -> None:
            lists = top_k_users(val_m, sasrec_scorer(model, val_seqs), val_users, k)
            tuning[f"{epoch}"] = _mean_ndcg(lists, val_truth, k)

        n_items = len(catalog)
        train_sasrec(val_seqs, n_items, sasrec, seed, sasrec.epochs, on_eval)
        epochs = int(max(tuning, key=lambda e: (tuning[e], -int(e))))
        model = train_sasrec(test_seqs, n_items, sasrec, seed, epochs)
        finish_users("sasrec", {"epochs": float(epochs)}, sasrec_scorer(model, test_seqs), tuning)
    return results
