"""Offline quality of retrieval on a window of the split: recall@500 and top-10 accuracy vs popularity."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from cascade.data.dataset import Users
from cascade.data.split import Split
from cascade.metrics import accuracy
from cascade.types import Retriever, UserView

IntArray = npt.NDArray[np.int64]
N_RETRIEVE = 500


def user_views(users: Users | None, history: dict[int, IntArray]) -> dict[int, UserView]:
    """Known-user views with demographics and the given batch history (also their seen set)."""
    row = {int(u): r for r, u in enumerate(users.user_ids)} if users is not None else {}
    out: dict[int, UserView] = {}
    for uid, items in history.items():
        r = row.get(uid)
        hist = tuple(int(i) for i in items)
        age, gender, occupation = (
            (int(users.age[r]), users.gender[r], users.occupation[r])
            if users is not None and r is not None
            else (None, None, None)
        )
        out[uid] = UserView(uid, True, age, gender, occupation, history=hist, seen=frozenset(hist))
    return out


def _evaluate(
    rank: Callable[[UserView], IntArray], split: Split, window: str, users: Users | None
) -> dict[str, float]:
    relevant = split.window(window).by_user()
    views = user_views(users, split.history_before(window).by_user())
    totals: dict[str, float] = {}
    for uid, items in relevant.items():
        view = views.get(uid, UserView(uid, True))
        ranked = [int(i) for i in rank(view)]
        rel = {int(i) for i in items}
        scores = accuracy(ranked, rel, 10) | {f"recall@{N_RETRIEVE}": len(rel & set(ranked)) / len(rel)}
        for k, v in scores.items():
            totals[k] = totals.get(k, 0.0) + v
    return {k: v / max(len(relevant), 1) for k, v in totals.items()}


def evaluate_retrieval(
    retriever: Retriever, split: Split, window: str = "test", users: Users | None = None
) -> dict[str, float]:
    """recall@500, ndcg/recall/hit_rate/mrr@10 of the retriever's own order, averaged over users."""
    users = users if users is not None else getattr(retriever, "users", None)
    return _evaluate(lambda u: retriever.retrieve(u, N_RETRIEVE).item_ids, split, window, users)


def evaluate_popularity(split: Split, catalog_ids: IntArray, window: str = "test") -> dict[str, float]:
    """The same metrics for 'most interacted-with before the window', seen items excluded."""
    hist = split.history_before(window)
    counts = dict(zip(*np.unique(hist.item, return_counts=True), strict=True))
    pop = np.array([counts.get(i, 0) for i in catalog_ids])
    order = catalog_ids[np.lexsort((catalog_ids, -pop))]

    def rank(u: UserView) -> IntArray:
        top = order[: N_RETRIEVE + len(u.seen)]
        return top[~np.isin(top, list(u.seen))][:N_RETRIEVE]

    return _evaluate(rank, split, window, None)
