"""The title source's nearest-text search and its TITLE block."""

from __future__ import annotations

import numpy as np

from cascade.features.registry import TITLE, names
from cascade.retrieval.title_source import TitleScores, TitleScoresCache, nearest, title_block


def _unit(rows: list[list[float]]) -> np.ndarray:
    a = np.asarray(rows, dtype=np.float32)
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def test_nearest_orders_by_similarity_and_skips_excluded() -> None:
    text = _unit([[1, 0], [0.9, 0.1], [0, 1], [0.5, 0.5], [-1, 0]])
    ids = np.asarray([10, 11, 12, 13, 14], dtype=np.int64)
    scores = TitleScores.of(text, _unit([[1, 0]])[0])
    none = np.empty(0, dtype=np.int64)
    assert nearest(scores, ids, 3, none).tolist() == [10, 11, 13]
    assert nearest(scores, ids, 3, np.asarray([10])).tolist() == [11, 13, 12]
    assert nearest(scores, ids, 10, np.asarray([11])).tolist() == [10, 13, 12, 14]


def test_nearest_past_the_sorted_head_sorts_all_it_needs() -> None:
    rng = np.random.default_rng(0)
    text = _unit(rng.normal(size=(50, 4)).tolist())
    full = TitleScores.of(text, text[0])
    short = TitleScores(full.sims, full.head[:5])  # a head shorter than n + excluded
    ids = np.arange(100, 150, dtype=np.int64)
    exclude = ids[full.head[:8]]
    assert nearest(short, ids, 10, exclude).tolist() == nearest(full, ids, 10, exclude).tolist()
    assert nearest(short, ids, 10, exclude).tolist() == ids[full.head[8:18]].tolist()


def test_cache_reuses_a_title_and_resets_when_items_are_added() -> None:
    text = _unit([[1, 0], [0, 1], [1, 1]])
    title = _unit([[1, 0]])[0]
    cache = TitleScoresCache()
    first = cache.get(text, title)
    assert cache.get(text, title) is first
    grown = np.concatenate([text, _unit([[1, 0.1]])])
    again = cache.get(grown, title)
    assert again is not first and len(again.sims) == 4


def test_cache_drops_the_least_recently_used_past_its_budget() -> None:
    text = _unit([[1, 0], [0, 1], [1, 1]])
    one = TitleScores.of(text, _unit([[1, 0]])[0])
    cache = TitleScoresCache(max_bytes=2 * (one.sims.nbytes + one.head.nbytes))
    a, b, c = (_unit([[1, x]])[0] for x in (0.0, 0.5, 1.0))
    kept_a, kept_b = cache.get(text, a), cache.get(text, b)
    assert cache.get(text, a) is kept_a  # a is now the most recently used
    cache.get(text, c)  # over budget: b goes
    assert cache.get(text, a) is kept_a
    assert cache.get(text, b) is not kept_b


def test_title_block_columns() -> None:
    sim = np.asarray([0.2, 0.5, 0.1], dtype=np.float32)
    block = title_block(sim, np.asarray([0, 1, 0], dtype=np.float32))
    cols = names(TITLE)
    assert block.shape == (3, len(TITLE))
    assert (block[:, cols.index("title_present")] == 1).all()
    assert np.allclose(block[:, cols.index("title_sim")], sim)
    assert np.allclose(block[:, cols.index("title_sim_gap")], [-0.3, 0.0, -0.4])
    assert block[:, cols.index("src_title")].tolist() == [0, 1, 0]
