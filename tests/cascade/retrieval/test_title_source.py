"""The title source's nearest-text search and its TITLE block."""

from __future__ import annotations

import numpy as np

from cascade.features.registry import TITLE, names
from cascade.retrieval.title_source import nearest, title_block


def _unit(rows: list[list[float]]) -> np.ndarray:
    a = np.asarray(rows, dtype=np.float32)
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def test_nearest_orders_by_similarity_and_skips_excluded() -> None:
    text = _unit([[1, 0], [0.9, 0.1], [0, 1], [0.5, 0.5], [-1, 0]])
    ids = np.asarray([10, 11, 12, 13, 14], dtype=np.int64)
    sims = text @ _unit([[1, 0]])[0]
    assert nearest(sims, ids, 3, set()).tolist() == [10, 11, 13]
    assert nearest(sims, ids, 3, {10}).tolist() == [11, 13, 12]
    assert nearest(sims, ids, 10, {11}).tolist() == [10, 13, 12, 14]


def test_title_block_columns() -> None:
    sim = np.asarray([0.2, 0.5, 0.1], dtype=np.float32)
    block = title_block(sim, np.asarray([0, 1, 0], dtype=np.float32))
    cols = names(TITLE)
    assert block.shape == (3, len(TITLE))
    assert (block[:, cols.index("title_present")] == 1).all()
    assert np.allclose(block[:, cols.index("title_sim")], sim)
    assert np.allclose(block[:, cols.index("title_sim_gap")], [-0.3, 0.0, -0.4])
    assert block[:, cols.index("src_title")].tolist() == [0, 1, 0]
