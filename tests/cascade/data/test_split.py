from __future__ import annotations

import numpy as np

from cascade.data.dataset import Dataset, Interactions
from cascade.data.split import Split, split_by_user


def test_sizes_on_the_real_data(ml100k: Dataset, ml_split: Split) -> None:
    assert len(ml100k.users.user_ids) == 943
    assert len(ml100k.catalog) == 1682
    assert len(ml100k.interactions) == 100_000
    assert (len(ml_split.train), len(ml_split.val), len(ml_split.test)) == (81_140, 9_430, 9_430)
    for part in (ml_split.val, ml_split.test):
        counts = np.bincount(part.user)
        assert set(counts[counts > 0].tolist()) == {10}


def test_windows_follow_time_per_user(ml_split: Split) -> None:
    for u in (1, 100, 943):
        tr = ml_split.train.ts[ml_split.train.user == u]
        va = ml_split.val.ts[ml_split.val.user == u]
        te = ml_split.test.ts[ml_split.test.user == u]
        assert tr.max() <= va.min() and va.max() <= te.min()


def test_ties_are_broken_by_item_id() -> None:
    inter = Interactions(
        user=np.ones(22, dtype=np.int64),
        item=np.arange(22, 0, -1, dtype=np.int64),
        rating=np.ones(22, dtype=np.float32),
        ts=np.zeros(22, dtype=np.int64),
    )
    sp = split_by_user(inter)
    assert sorted(sp.train.item.tolist()) == [1, 2]
    assert sorted(sp.test.item.tolist()) == list(range(13, 23))


def test_history_before_windows(ml_split: Split) -> None:
    assert len(ml_split.history_before("val")) == 81_140
    assert len(ml_split.history_before("test")) == 90_570
