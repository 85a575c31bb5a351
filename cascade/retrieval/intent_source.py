"""The title's quota at the ranker's cut: the best-scored candidates that fit the title's intent.

The ranker keeps its top n for the re-ranker. Under a playlist title the re-ranker can only follow
the title as far as those n hold items of the genres it asks for; for a niche theme ("dusty saloon
standoffs") they often hold fewer than five. An arm that asks for a quota q (`TitleQuota`) gets the
ranker's top n - q, then the ranker's best-scored q of the remaining retrieved candidates whose fit
with the intent (its probability on the item's genres) reaches MIN_FIT: still in the ranker's order,
still personal, and the ranker's own top n - q untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from cascade.data.dataset import Catalog

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
MIN_FIT = 0.5  # the intent's probability on an item's genres for it to count as on-theme


@runtime_checkable
class TitleQuota(Protocol):
    """A re-ranker that wants `title_candidates` on-theme candidates among those it is given."""

    title_candidates: int

    def genre_weights(self, title: str, names: tuple[str, ...]) -> F64 | None:
        """The title intent's probability per genre (`names`: the catalog's columns); None: no reading."""
        ...


def item_fit(weights: F64, catalog: Catalog, item_ids: I64) -> F64:
    """Per item, the intent's probability on its genres (capped at 1)."""
    rows = catalog.rows(item_ids)
    fit: F64 = np.minimum(catalog.genre_matrix()[rows].astype(np.float64) @ weights, 1.0)
    return fit


def title_cut(scores: F32, n: int, quota: int, fit_of: Callable[[I64], F64] | None) -> I64:
    """Rows of the top n by score, its last `quota` given to the best-scored later rows whose fit
    (`fit_of(rows)`) reaches MIN_FIT; where fewer rows fit, the ranker's own fill the rest."""
    order = np.argsort(-scores, kind="stable").astype(np.int64)
    q = max(0, min(quota, n))
    if q == 0 or fit_of is None:
        return order[:n]
    rest = order[n - q :]
    fits = fit_of(rest) >= MIN_FIT
    take = np.flatnonzero(fits)[:q]
    if len(take) < q:  # too few fit: the ranker's next rows fill the quota
        take = np.sort(np.concatenate([take, np.flatnonzero(~fits)[: q - len(take)]]))
    return np.concatenate([order[: n - q], rest[take]])
