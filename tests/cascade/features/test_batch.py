"""Point-in-time correctness of batch features."""

from __future__ import annotations

import numpy as np

from cascade.data.dataset import Dataset, Interactions
from cascade.features.batch import BatchFeatures
from cascade.features.registry import ITEM_BATCH, USER_BATCH, index


def test_item_features_ignore_events_at_or_after_as_of(ml100k: Dataset) -> None:
    inter = ml100k.interactions
    item = 50
    ts = np.sort(inter.ts[inter.item == item])
    t = int(ts[100])  # exactly 100 events strictly before (ties aside)
    bf = BatchFeatures(inter, ml100k.catalog, ml100k.users)
    row = bf.items(np.asarray([item]), np.asarray([t]))[0]
    expected = int((ts < t).sum())
    assert np.isclose(row[index(ITEM_BATCH, "item_log_pop")], np.log1p(expected))


def test_future_events_do_not_change_past_rows(ml100k: Dataset) -> None:
    """Appending events after t leaves every feature as of t unchanged."""
    inter = ml100k.interactions
    t = int(np.median(inter.ts))
    past = inter.take(inter.ts < t)
    users = ml100k.users.user_ids[:50]
    items = ml100k.catalog.item_ids
    a = BatchFeatures(past, ml100k.catalog, ml100k.users)
    b = BatchFeatures(inter, ml100k.catalog, ml100k.users)
    ua = a.users_block(users, np.full(len(users), t))
    ub = b.users_block(users, np.full(len(users), t))
    np.testing.assert_allclose(ua, ub, rtol=1e-5)
    np.testing.assert_allclose(a.items(items, np.full(len(items), t)), b.items(items, np.full(len(items), t)))
    # and a later as-of does see the new events
    later = b.items(items, np.full(len(items), int(inter.ts.max()) + 1))
    assert (later[:, 0] > a.items(items, np.full(len(items), t))[:, 0]).any()


def test_user_block_matches_a_direct_computation(ml100k: Dataset) -> None:
    inter = ml100k.interactions
    u = 7
    t = int(np.quantile(inter.ts[inter.user == u], 0.5))
    mask = (inter.user == u) & (inter.ts < t)
    bf = BatchFeatures(inter, ml100k.catalog, ml100k.users)
    row = bf.users_block(np.asarray([u]), np.asarray([t]))[0]
    assert np.isclose(row[index(USER_BATCH, "user_log_n")], np.log1p(mask.sum()))
    assert np.isclose(row[index(USER_BATCH, "user_mean_rating")], inter.rating[mask].mean(), atol=1e-4)
    genre = row[index(USER_BATCH, "user_genre_unknown") :]
    assert np.isclose(genre.sum(), 1.0, atol=1e-5)


def test_unknown_user_gets_documented_defaults(ml100k: Dataset) -> None:
    bf = BatchFeatures(ml100k.interactions, ml100k.catalog, ml100k.users)
    row = bf.users_block(np.asarray([999_999]), np.asarray([10**9]))[0]
    assert row[index(USER_BATCH, "user_log_n")] == 0.0
    assert row[index(USER_BATCH, "user_mean_rating")] == 3.5
    assert row[index(USER_BATCH, "user_gender_m")] == 0.5
    empty = Interactions(*(np.empty(0, dtype=d) for d in (np.int64, np.int64, np.float32, np.int64)))
    assert len(bf.history(999_999, 10**9)) == 0 and len(empty) == 0
