"""The trained item-item model grown to a synthetic catalog: neighbours come from the parents' families."""

from __future__ import annotations

import numpy as np

from cascade.data.dataset import Catalog, Interactions
from cascade.features.collab import CollabConfig, CollabModel
from cascade.scale.catalog import SyntheticItems, extend_catalog
from cascade.scale.collab import grow_collab


def _real() -> tuple[CollabModel, Catalog]:
    rng = np.random.default_rng(0)
    n_items, n_users = 30, 200
    items = rng.integers(1, n_items + 1, 3000)
    users = rng.integers(1, n_users + 1, 3000)
    inter = Interactions(users, items, np.ones(3000, np.float32), np.arange(3000, dtype=np.int64))
    ids = np.arange(1, n_items + 1, dtype=np.int64)
    catalog = Catalog(ids, [f"t{i}" for i in ids], np.full(n_items, 1990), [("Drama",)] * n_items)
    return CollabModel.fit(inter, catalog, CollabConfig(neighbours=10, rank=8)), catalog


def test_grown_rows_follow_their_parents() -> None:
    real, catalog = _real()
    parents = np.repeat(np.arange(30), 3)  # three children per real item
    synthetic = SyntheticItems(np.arange(1000, 1090, dtype=np.int64), parents, np.full(90, 1990), ["x"] * 90)
    grown = grow_collab(real, extend_catalog(catalog, synthetic), parents, seed=1, rank=4, neighbours=6)
    assert len(grown) == 120 and grown.ease.v.shape == (120, 4)
    family = np.r_[np.arange(30), parents]  # each row's real origin
    for row in (0, 45, 119):
        got = grown.neighbours.cos[row]
        want = real.neighbours.cos[family[row]]
        assert got.nnz == min(6, want.nnz)
        # each neighbour is a member of a parent-neighbour's family, at up to the parent's cosine
        assert set(family[got.indices]) <= set(want.indices[:6])
        assert (got.data <= want.data[:6] + 1e-6).all() and (got.data >= 0.8 * want.data[:6] - 1e-6).all()
    assert (grown.neighbours.cos.indices >= 30).any()  # synthetic items are reachable as neighbours
    child, parent = grown.ease.v[30], real.ease.v[0, :4]
    assert np.dot(child, parent) / np.linalg.norm(child) / np.linalg.norm(parent) > 0.9
    sig = grown.signals(history=[1000, 1, 2])
    top = grown.source(sig, grown.rows([1000, 1, 2]), 20)
    assert len(top) > 0 and not set(top.tolist()) & set(grown.rows([1000, 1, 2]).tolist())
