"""Synthetic items derive from real parents: ids after the real ones, parents' genres, unit vectors."""

from __future__ import annotations

import numpy as np

from cascade.data.dataset import Dataset
from cascade.features.registry import ITEM_BATCH, index
from cascade.scale.catalog import (
    SyntheticItems,
    extend_catalog,
    synthetic_features,
    synthetic_items,
    synthetic_vectors,
)


def test_items_extend_the_real_catalog(ml100k: Dataset) -> None:
    real = ml100k.catalog
    items = synthetic_items(real, 5000, seed=3)
    assert items.item_ids[0] == real.item_ids.max() + 1 and len(np.unique(items.item_ids)) == 5000
    catalog = extend_catalog(real, items)
    assert len(catalog) == len(real) + 5000
    for i in (0, 4999):
        row = catalog.row(int(items.item_ids[i]))
        assert catalog.genres[row] == real.genres[int(items.parents[i])]
        assert catalog.titles[row] == items.titles[i] and catalog.years[row] == items.years[i]
    parent_years = real.years[items.parents]
    known = parent_years > 0
    assert np.all(np.abs(items.years[known] - parent_years[known]) <= 3) and np.all(items.years[~known] == 0)
    again = synthetic_items(real, 5000, seed=3)
    assert again.titles == items.titles and np.array_equal(again.parents, items.parents)


def test_features_and_vectors_follow_the_parent() -> None:
    rng = np.random.default_rng(0)
    base_vectors = rng.standard_normal((50, 16)).astype(np.float32)
    base_vectors /= np.linalg.norm(base_vectors, axis=1, keepdims=True)
    base_features = np.abs(rng.standard_normal((50, len(ITEM_BATCH)))).astype(np.float32)
    parents = rng.integers(0, 50, 2000).astype(np.int64)
    vectors = synthetic_vectors(base_vectors, parents, seed=1, chunk=700)
    assert vectors.shape == (2000, 16)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    nearest = np.argmax(vectors @ base_vectors.T, axis=1)
    assert np.mean(nearest == parents) > 0.9  # each stays in its parent's neighbourhood

    items = SyntheticItems(np.arange(2000, dtype=np.int64) + 100, parents, np.full(2000, 1999), ["t"] * 2000)
    feats = synthetic_features(base_features, items, seed=1)
    pop = index(ITEM_BATCH, "item_log_pop")
    assert np.all(feats[:, pop] <= base_features[parents, pop] + 1e-5)
    assert np.all(feats[:, index(ITEM_BATCH, "item_year")] == 1999)
    genre = index(ITEM_BATCH, "item_genre_unknown")
    assert np.array_equal(feats[:, genre:], base_features[parents, genre:])
