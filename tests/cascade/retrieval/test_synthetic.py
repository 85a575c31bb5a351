"""The synthetic scale check returns one row per (size, index kind) with sane numbers."""

from __future__ import annotations

import numpy as np

from cascade.retrieval.index import IndexConfig
from cascade.retrieval.synthetic import scale_rows, unit_vectors


def test_unit_vectors_are_unit_and_seeded() -> None:
    a, b = unit_vectors(1000, 16, 0, chunk=300), unit_vectors(1000, 16, 0)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(a, b)


def test_scale_rows_small() -> None:
    rows = scale_rows(sizes=(2000, 8000), dim=16, k=50, n_queries=10, config=IndexConfig(ivf_nprobe=64),
                      hnsw_max=2000, structure="clustered")  # fmt: skip
    assert [(r.n_items, r.kind) for r in rows] == [
        (2000, "flat"),
        (2000, "ivf"),
        (2000, "hnsw"),
        (8000, "flat"),
        (8000, "ivf"),
    ]
    for r in rows:
        assert r.p50_ms > 0 and r.p99_ms >= r.p50_ms and r.build_s >= 0
        assert r.recall_at_k == 1.0 if r.kind == "flat" else r.recall_at_k > 0.8, r
