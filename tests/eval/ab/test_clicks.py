"""The cascade click model: its extremes, its examination curve and its determinism."""

from __future__ import annotations

import numpy as np
import pytest

from eval.ab.clicks import CascadeClickModel, ReturnModel, return_draws

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


def test_returns_after_empty_visits_by_the_model() -> None:
    stays, leaves = ReturnModel(after_empty=1.0), ReturnModel(after_empty=0.0)
    played, draws = [True, False, True, False, False], [0.99, 0.2, 0.99, 0.5, 0.99]
    assert stays.visits(played, draws) == 5  # the old audience: every visit made
    assert leaves.visits(played, draws) == 2  # gone after the first visit without a play
    # a draw below after_empty returns; the last visit needs no draw
    assert ReturnModel(after_empty=0.3).visits(played, draws) == 4
    assert ReturnModel(after_empty=0.3, after_play=0.0).visits(played, draws) == 1
    assert leaves.visits([False], [0.99]) == 1 and leaves.visits([], []) == 0
    with pytest.raises(ValueError, match="after_empty"):
        ReturnModel(after_empty=1.5)


def test_return_draws_are_seeded_per_user_and_apart_from_the_clicks() -> None:
    assert return_draws(3, 7, 4) == return_draws(3, 7, 4) and return_draws(3, 7, 4) != return_draws(3, 8, 4)
    assert return_draws(3, 7, 4) != np.random.default_rng([3, 7]).random(4).tolist()  # the clicks' stream
    share = np.mean([u < 0.85 for s in range(50) for u in return_draws(s, 1, 20)])
    assert 0.8 < share < 0.9  # uniform draws: P(return after an empty visit) is after_empty
