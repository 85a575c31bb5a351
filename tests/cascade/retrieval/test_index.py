"""The FAISS wrapper: exact search is brute force, approximate search agrees with it, adds and save/load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cascade.retrieval.index import IndexConfig, VectorIndex
from cascade.retrieval.synthetic import unit_vectors


def _ids(n: int) -> np.ndarray:
    return np.arange(1000, 1000 + n, dtype=np.int64)


def test_auto_picks_exact_below_threshold_and_approx_above() -> None:
    cfg = IndexConfig(exact_max=100, approx="hnsw")
    assert cfg.resolve(100) == "flat" and cfg.resolve(101) == "hnsw"
    assert IndexConfig(exact_max=100).resolve(5000) == "ivf"


def test_default_serves_movielens_exactly_and_a_50k_catalog_by_ivf() -> None:
    assert IndexConfig().resolve(1682) == "flat"
    assert IndexConfig().resolve(20_000) == "flat"
    assert IndexConfig().resolve(50_000) == "ivf"


def test_exact_matches_brute_force() -> None:
    x = unit_vectors(2000, 16, seed=1)
    q = unit_vectors(5, 16, seed=2)
    index = VectorIndex(16, IndexConfig(kind="flat")).build(_ids(2000), x)
    scores, ids = index.search(q, 10)
    expected = np.argsort(-(q @ x.T), axis=1, kind="stable")[:, :10]
    np.testing.assert_array_equal(ids, _ids(2000)[expected])
    np.testing.assert_allclose(scores, np.take_along_axis(q @ x.T, expected, axis=1), rtol=1e-5)


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_approximate_recall_against_exact(kind: str) -> None:
    x = unit_vectors(20_000, 32, seed=3, structure="clustered")
    q = unit_vectors(30, 32, seed=4, structure="clustered")
    exact = VectorIndex(32, IndexConfig(kind="flat")).build(_ids(20_000), x)
    approx = VectorIndex(32, IndexConfig(kind=kind, ivf_nlist=128, ivf_nprobe=64)).build(_ids(20_000), x)  # type: ignore[arg-type]
    _, truth = exact.search(q, 100)
    _, found = approx.search(q, 100)
    recall = np.mean([len(np.intersect1d(a, b)) / 100 for a, b in zip(found, truth, strict=True)])
    assert recall >= 0.9, recall


def test_search_unseen_drops_seen_and_returns_n_unique() -> None:
    x = unit_vectors(300, 8, seed=5)
    index = VectorIndex(8).build(_ids(300), x)
    q = x[0]
    _, top = index.search(q, 60)
    seen = {int(i) for i in top[0][:40]}
    ids, scores = index.search_unseen(q, 50, seen)
    assert len(ids) == 50 and len(set(ids.tolist())) == 50
    assert not seen & set(ids.tolist())
    assert np.all(np.diff(scores) <= 1e-6)
    ids, _ = index.search_unseen(q, 1000, seen)  # more than exist: everything unseen
    assert len(ids) == 300 - len(seen)


def test_runtime_add_is_searchable_and_ids_stay_unique() -> None:
    x = unit_vectors(100, 8, seed=6)
    index = VectorIndex(8).build(_ids(100), x)
    new = unit_vectors(1, 8, seed=7)
    index.add(np.array([7], dtype=np.int64), new)
    _, ids = index.search(new, 1)
    assert ids[0, 0] == 7 and len(index) == 101
    with pytest.raises(ValueError):
        index.add(np.array([7], dtype=np.int64), new)


@pytest.mark.parametrize("kind", ["flat", "ivf", "hnsw"])
def test_save_load_round_trip(kind: str, tmp_path: Path) -> None:
    x = unit_vectors(3000, 16, seed=8)
    q = unit_vectors(4, 16, seed=9)
    index = VectorIndex(16, IndexConfig(kind=kind, ivf_nlist=32)).build(_ids(3000), x)  # type: ignore[arg-type]
    index.save(tmp_path / "ix")
    back = VectorIndex.load(tmp_path / "ix")
    assert back.kind == kind and len(back) == 3000
    for a, b in zip(index.search(q, 20), back.search(q, 20), strict=True):
        np.testing.assert_array_equal(a, b)
