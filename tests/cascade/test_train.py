"""The ranker's early-stopping split holds out whole users."""

from __future__ import annotations

import numpy as np

from cascade.train import held_out_groups


def test_a_users_groups_sit_on_one_side_of_the_split() -> None:
    owners = np.repeat(np.arange(400, dtype=np.int64), 2)  # an untitled and a titled group per user
    valid = held_out_groups(owners, seed=7)
    assert (valid[0::2] == valid[1::2]).all()
    assert 0.10 < valid[0::2].mean() < 0.20  # about 15% of the users


def test_the_split_is_seeded_and_ignores_group_order() -> None:
    base = np.asarray([3, 3, 5, 8, 8, 13, 21, 21, 34] * 20, dtype=np.int64)
    owners = base + np.repeat(np.arange(20), 9) * 100  # 100 users, one to two groups each
    a = held_out_groups(owners, seed=1)
    assert (a == held_out_groups(owners, seed=1)).all()
    order = np.random.default_rng(0).permutation(len(owners))
    assert (held_out_groups(owners[order], seed=1) == a[order]).all()
    assert not (a == held_out_groups(owners, seed=2)).all()
