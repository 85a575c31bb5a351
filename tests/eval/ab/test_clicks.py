"""The cascade click model: its extremes, its examination curve and its determinism."""

from __future__ import annotations

import numpy as np
import pytest

from eval.ab.clicks import CascadeClickModel

ITEMS = [10, 11, 12, 13, 14]


def test_perfect_user_plays_every_wanted_item_and_likes_by_rating() -> None:
    m = CascadeClickModel(attract=1.0, noise=0.0, patience=1.0, satisfied=0.0, like_rating=4)
    plays = m.examine(ITEMS, {11: 5.0, 14: 2.0}, np.random.default_rng(0))
    assert [(p.position, p.item_id, p.liked) for p in plays] == [(2, 11, True), (5, 14, False)]


def test_satisfied_user_stops_after_the_first_play() -> None:
    m = CascadeClickModel(attract=1.0, noise=1.0, patience=1.0, satisfied=1.0)
    assert [p.position for p in m.examine(ITEMS, {}, np.random.default_rng(0))] == [1]


def test_impatient_user_only_examines_the_top() -> None:
    m = CascadeClickModel(attract=1.0, patience=0.0)
    assert m.examine(ITEMS, {12: 5.0}, np.random.default_rng(0)) == []
    assert [p.item_id for p in m.examine(ITEMS, {10: 5.0}, np.random.default_rng(0))] == [10]


def test_examination_decays_with_position_and_matches_simulation() -> None:
    m = CascadeClickModel(attract=1.0, patience=0.8, satisfied=1.0)
    assert m.examination(3) == pytest.approx([1.0, 0.8, 0.64])
    rng = np.random.default_rng(1)
    hits = sum(bool(m.examine(ITEMS, {12: 5.0}, rng)) for _ in range(4000))
    assert abs(hits / 4000 - 0.64) < 0.04


def test_same_seed_same_plays_and_bad_parameters_rejected() -> None:
    m = CascadeClickModel(attract=0.5, noise=0.2)
    a = m.examine(ITEMS, {11: 4.0}, np.random.default_rng(7))
    assert a == m.examine(ITEMS, {11: 4.0}, np.random.default_rng(7))
    with pytest.raises(ValueError, match="patience"):
        CascadeClickModel(patience=1.5)
