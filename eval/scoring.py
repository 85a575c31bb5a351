"""Per-user metrics of a list, aggregates per system, and paired comparisons (the numbers of the report)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from cascade.data.dataset import Catalog
from cascade.metrics import accuracy
from eval.metrics.bootstrap import paired_bootstrap_ci
from eval.metrics.change import change_metrics
from eval.metrics.coverage import catalog_coverage
from eval.metrics.diversity import genre_coverage, ild_embedding, ild_genre
from eval.metrics.novelty import novelty, popularity_counts, self_information

Vectors = Mapping[int, npt.NDArray[np.floating]]

# metrics compared between arms with a paired bootstrap CI
COMPARED = ("ndcg@10", "recall@10", "hit_rate@10", "mrr@10", "ild_genre", "ild_embedding", "genre_coverage",
            "novelty")  # fmt: skip


@dataclass
class ItemInfo:
    """What the list metrics need to know about items."""

    genres: dict[int, tuple[str, ...]]  # "unknown" left out
    n_genres: int
    self_info: dict[int, float]
    vectors: Vectors | None
    catalog_size: int

    @staticmethod
    def build(catalog: Catalog, popularity_items: Sequence[int], vectors: Vectors | None) -> ItemInfo:
        ids = [int(i) for i in catalog.item_ids]
        genres = {i: tuple(g for g in catalog.genres[catalog.row(i)] if g != "unknown") for i in ids}
        n_genres = len([g for g in catalog.genre_names if g != "unknown"])
        info = self_information(popularity_counts(popularity_items), ids)
        return ItemInfo(genres, n_genres, info, vectors, len(ids))


def list_metrics(
    items: Sequence[int],
    relevant: set[int],
    info: ItemInfo,
    k: int,
    ranker_order: Sequence[int] | None = None,
) -> dict[str, float]:
    """Accuracy, diversity, novelty and (when the ranker's order is known) change metrics of one list."""
    top = list(items[:k])
    out = accuracy(top, relevant, k)
    out["ild_genre"] = ild_genre(top, info.genres)
    out["ild_embedding"] = ild_embedding(top, info.vectors) if info.vectors is not None else math.nan
    out["genre_coverage"] = genre_coverage(top, info.genres, info.n_genres)
    out["novelty"] = novelty(top, info.self_info)
    if ranker_order is not None:
        out.update(change_metrics(top, ranker_order, k))
    return out


def aggregate(
    lists: Mapping[int, Sequence[int]],
    per_user: Mapping[int, Mapping[str, float]],
    users: Sequence[int],
    info: ItemInfo,
    k: int,
) -> dict[str, float]:
    """Mean of every per-user metric over `users` (nan ignored), plus catalog coverage and n."""
    names = sorted({m for u in users for m in per_user[u]})
    out: dict[str, float] = {}
    for m in names:
        vals = np.asarray([per_user[u].get(m, math.nan) for u in users], dtype=np.float64)
        out[m] = float(np.nanmean(vals)) if np.any(~np.isnan(vals)) else math.nan
    out["catalog_coverage"] = catalog_coverage([lists[u] for u in users], info.catalog_size, k)
    out["n_users"] = float(len(users))
    return out


def compare(
    a: Mapping[int, Mapping[str, float]],
    b: Mapping[int, Mapping[str, float]],
    users: Sequence[int],
    n_boot: int,
    seed: int,
    metrics: Sequence[str] = COMPARED,
) -> dict[str, dict[str, float]]:
    """Paired bootstrap CI of mean(a - b) per metric over `users`."""
    out: dict[str, dict[str, float]] = {}
    for m in metrics:
        x = [a[u].get(m, math.nan) for u in users]
        y = [b[u].get(m, math.nan) for u in users]
        ci = paired_bootstrap_ci(x, y, n_boot=n_boot, seed=seed)
        out[m] = {"mean_diff": ci.mean_diff, "lo": ci.lo, "hi": ci.hi, "n": float(ci.n),
                  "excludes_zero": float(ci.excludes_zero())}  # fmt: skip
    return out


def clean(value: Any) -> Any:
    """JSON-safe: nan/inf become None, numpy scalars become Python numbers, recursively."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
