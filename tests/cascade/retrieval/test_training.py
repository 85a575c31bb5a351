"""Training examples are point-in-time, pooling is a masked mean, and a seeded run is reproducible."""

from __future__ import annotations

import numpy as np
import torch

from cascade.data.dataset import Dataset, Interactions
from cascade.data.split import Split
from cascade.retrieval.encode import age_bucket, catalog_content, gender_index, year_bucket
from cascade.retrieval.training import (
    batch_items,
    build_demographics,
    build_examples,
    build_vocab,
    train_two_tower,
)
from cascade.retrieval.two_tower import TwoTowerConfig, masked_mean


def test_buckets() -> None:
    assert [year_bucket(y) for y in (0, 1920, 1930, 1995, 1998, 2005)] == [0, 1, 2, 11, 14, 14]
    assert [age_bucket(a) for a in (None, 7, 18, 30, 60)] == [0, 1, 2, 3, 7]
    assert [gender_index(g) for g in ("M", "F", None, "x")] == [1, 2, 0, 0]


def test_examples_only_see_strictly_earlier_events(ds: Dataset) -> None:
    ids = ds.catalog.item_ids
    inter = Interactions(
        user=np.array([1, 1, 1, 2, 1], dtype=np.int64),
        item=ids[[3, 1, 2, 4, 0]].astype(np.int64),
        rating=np.ones(5, dtype=np.float32),
        ts=np.array([30, 10, 20, 5, 40], dtype=np.int64),
    )
    vocab = build_vocab(ds.users, inter)
    ex = build_examples(inter, ds.catalog, vocab, history_len=3)
    u1 = ex.user == vocab.user_index(1)
    # user 1 in time order: rows 1, 2, 3, 0 -> targets with right-aligned histories (row + 1, 0 = pad)
    np.testing.assert_array_equal(ex.target[u1], [1, 2, 3, 0])
    np.testing.assert_array_equal(ex.history[u1], [[0, 0, 0], [0, 0, 2], [0, 2, 3], [2, 3, 4]])
    np.testing.assert_array_equal(ex.history[~u1], [[0, 0, 0]])


def test_batch_pooling_is_the_masked_mean_over_the_catalog() -> None:
    """Pooling over the batch's own items equals pooling over every catalog vector."""
    rng = np.random.default_rng(0)
    catalog = torch.from_numpy(rng.standard_normal((9, 3)).astype(np.float32))
    hist = np.array([[0, 1, 2, 3], [0, 0, 0, 6], [0, 0, 0, 0]])  # row + 1; 0 pads
    mask = hist > 0
    mask[0, 3] = False
    used, tgt_at, hist_at = batch_items(np.array([8, 1, 4]), hist)
    assert used.tolist() == [0, 1, 2, 4, 5, 8]  # targets and history rows only
    vecs = catalog[used]
    pooled = masked_mean(vecs, torch.from_numpy(hist_at), torch.from_numpy(mask))
    torch.testing.assert_close(pooled[0], catalog[[0, 1]].mean(0))
    torch.testing.assert_close(pooled[1], catalog[5])
    assert torch.equal(pooled[2], torch.zeros(3))
    torch.testing.assert_close(vecs[torch.from_numpy(tgt_at)], catalog[[8, 1, 4]])


def _tiny_run(ds: Dataset, split: Split, text: np.ndarray, seed: int) -> dict[str, torch.Tensor]:
    train = split.train.take(split.train.user <= 30)
    cfg = TwoTowerConfig(epochs=1, batch_size=256)
    vocab = build_vocab(ds.users, train)
    ex = build_examples(train, ds.catalog, vocab, cfg.history_len)
    res = train_two_tower(
        catalog_content(ds.catalog, text, vocab), ex, vocab, build_demographics(ds.users, vocab), cfg, seed
    )
    assert np.isfinite(res.losses).all()
    return res.model.state_dict()


def test_seeded_training_is_reproducible(ds: Dataset, split: Split, text: np.ndarray) -> None:
    a, b, c = (_tiny_run(ds, split, text, s) for s in (3, 3, 4))  # ~2k examples each
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert any(not torch.equal(a[k], c[k]) for k in a)
