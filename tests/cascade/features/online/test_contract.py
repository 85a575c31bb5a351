"""One contract suite, run against every online-store backend (in-process and a real Redis)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import numpy as np
import pytest

from cascade.features.online import (
    MemoryStoreConfig,
    OnlineStore,
    RedisClusterStoreConfig,
    RedisStoreConfig,
    create_store,
)
from cascade.features.online.base import ITEM_DEFAULTS, SHOWN_KEEP, CatalogEntry, ShownEntry
from cascade.features.online.breaker import BreakerStore
from cascade.features.online.cluster_local import LocalCluster
from cascade.features.online.item_cache import ItemCache
from cascade.features.online.redis_cluster import RedisClusterStore
from cascade.features.online.redis_store import RedisStore
from cascade.features.registry import ITEM_BATCH, USER_BATCH
from cascade.features.session import Event

REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture(params=["memory", "redis", "redis+breaker", "redis+breaker+item-cache", "redis-cluster"])
def store(request: pytest.FixtureRequest) -> Iterator[OnlineStore]:
    if request.param == "memory":
        s = create_store(MemoryStoreConfig())
        yield s
        return
    if request.param == "redis-cluster":
        cluster: LocalCluster = request.getfixturevalue("redis_cluster")
        c = create_store(
            RedisClusterStoreConfig(url=cluster.url, prefix=f"care-test-{uuid.uuid4().hex[:8]}:")
        )
        assert isinstance(c, RedisClusterStore)
        try:
            yield c
        finally:
            c.delete_prefix()
            c.close()
        return
    s = create_store(RedisStoreConfig(url=REDIS_URL, prefix=f"care-test-{uuid.uuid4().hex[:8]}:"))
    assert isinstance(s, RedisStore)
    try:
        if request.param == "redis+breaker+item-cache":  # what the service runs on a remote store
            yield ItemCache(BreakerStore(s), ttl_s=60.0)
        else:
            yield BreakerStore(s) if request.param == "redis+breaker" else s
    finally:
        s.delete_prefix()
        s.close()


def _vec(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random((n, len(ITEM_BATCH))).astype(np.float32)


def test_items_round_trip_and_missing_defaults(store: OnlineStore) -> None:
    feats = _vec(3, 0)
    store.write_items([10, 11, 12], feats)
    items, missing = store.fetch_items(np.asarray([12, 99, 10], dtype=np.int64))
    np.testing.assert_array_equal(items[0], feats[2])
    np.testing.assert_array_equal(items[1], ITEM_DEFAULTS)
    np.testing.assert_array_equal(items[2], feats[0])
    assert missing.tolist() == [False, True, False]


def test_overwrite_item(store: OnlineStore) -> None:
    store.write_items([10], _vec(1, 0))
    store.write_items([10], _vec(1, 1))
    items, _ = store.fetch_items(np.asarray([10], dtype=np.int64))
    np.testing.assert_array_equal(items[0], _vec(1, 1)[0])


def test_user_and_items_in_one_fetch(store: OnlineStore) -> None:
    uf = np.arange(len(USER_BATCH), dtype=np.float32)
    store.write_users([5], uf[None, :], [np.asarray([3, 1, 2], dtype=np.int64)])
    store.write_items(list(range(1, 501)), _vec(500, 2))
    got = store.fetch(5, np.arange(1, 501, dtype=np.int64))
    assert got.user_features is not None
    np.testing.assert_array_equal(got.user_features, uf)
    assert got.history.tolist() == [3, 1, 2]
    assert got.items.shape == (500, len(ITEM_BATCH)) and not got.items_missing.any()


def test_the_kept_source_comes_back_with_the_user(store: OnlineStore) -> None:
    uf = np.arange(len(USER_BATCH), dtype=np.float32)
    store.write_users([7], uf[None, :], [np.asarray([4, 2], dtype=np.int64)])
    assert store.fetch(7, np.empty(0, dtype=np.int64)).source is None
    blob = bytes(range(16)) + np.arange(5, dtype="<i4").tobytes()
    store.write_source(7, blob)
    got = store.fetch(7, np.arange(1, 4, dtype=np.int64))
    assert got.source == blob and got.history.tolist() == [4, 2]  # in the same fetch as the user
    store.write_source(7, blob[:16])  # replaced, not appended
    assert store.fetch(7, np.empty(0, dtype=np.int64)).source == blob[:16]
    store.write_users([7], uf[None, :], [np.asarray([4, 2, 9], dtype=np.int64)])  # re-materialized
    assert store.fetch(7, np.empty(0, dtype=np.int64)).history.tolist() == [4, 2, 9]


def test_shown_items_come_back_with_the_user_counted_and_timed(store: OnlineStore) -> None:
    uf = np.arange(len(USER_BATCH), dtype=np.float32)
    store.write_users([8], uf[None, :], [np.asarray([4, 2], dtype=np.int64)])
    assert len(store.fetch(8, np.empty(0, dtype=np.int64)).shown) == 0
    store.record_shown([ShownEntry(8, (30, 10, 20), 1000.5), ShownEntry(9, (10,), 5.0)])
    store.record_shown([ShownEntry(8, (20, 40), 1060.25)])
    got = store.fetch(8, np.arange(1, 4, dtype=np.int64))
    assert got.history.tolist() == [4, 2]  # in the same fetch as the user
    assert got.shown.entries() == {10: (1, 1000.5), 20: (2, 1060.25), 30: (1, 1000.5), 40: (1, 1060.25)}
    assert got.shown.item_ids.tolist() == [10, 20, 30, 40]  # sorted: looked up by binary search
    store.record_shown([ShownEntry(8, (40,), 900.0)])  # an older request time never moves "last" back
    assert store.fetch(8, np.empty(0, dtype=np.int64)).shown.entries()[40] == (2, 1060.25)
    assert store.fetch(9, np.empty(0, dtype=np.int64)).shown.entries() == {10: (1, 5.0)}  # per user


def test_an_event_but_a_view_clears_its_shown_item(store: OnlineStore) -> None:
    store.record_shown([ShownEntry(3, (1, 2, 3, 4), 50.0), ShownEntry(5, (2,), 50.0)])
    store.record_event(Event(3, 2, "play", 51.0), genre_code=1, consuming=True)
    store.record_event(Event(3, 3, "click", 52.0), genre_code=1, consuming=False)
    store.record_event(Event(3, 4, "view", 53.0), genre_code=1, consuming=False)
    assert sorted(store.fetch(3, np.empty(0, dtype=np.int64)).shown.entries()) == [1, 4]
    assert store.fetch(5, np.empty(0, dtype=np.int64)).shown.entries() == {2: (1, 50.0)}  # not another's


def test_shown_items_are_bounded_to_the_most_recent(store: OnlineStore) -> None:
    first = tuple(range(1, 61))
    later = tuple(range(101, 161))
    store.record_shown([ShownEntry(4, first, 10.0)])
    store.record_shown([ShownEntry(4, later, 20.0)])
    kept = store.fetch(4, np.empty(0, dtype=np.int64)).shown.entries()
    assert len(kept) == SHOWN_KEEP
    assert set(later) <= set(kept)  # the newest showing is always kept
    dropped = len(first) + len(later) - SHOWN_KEEP
    assert sorted(set(first) & set(kept)) == list(first[dropped:])  # oldest first; in an answer, lower ids
    store.record_shown([ShownEntry(4, (first[-1],), 30.0)])  # shown again: now the most recent
    store.record_shown([ShownEntry(4, tuple(range(201, 211)), 40.0)])
    again = store.fetch(4, np.empty(0, dtype=np.int64)).shown.entries()
    assert again[first[-1]] == (2, 30.0) and len(again) == SHOWN_KEEP
    assert set(first[dropped : dropped + 10]).isdisjoint(again)  # ten new rows pushed the ten oldest out
    assert first[dropped + 10] in again


def test_unknown_user_is_cold(store: OnlineStore) -> None:
    got = store.fetch(123456, np.empty(0, dtype=np.int64))
    assert got.user_features is None and len(got.history) == 0
    assert got.session.recent == () and got.session.counts == {}


def test_events_update_the_session(store: OnlineStore) -> None:
    store.record_event(Event(7, 100, "view", 1000.0), genre_code=3, consuming=False)
    store.record_event(Event(7, 101, "play", 1005.0), genre_code=5, consuming=True)
    store.record_event(Event(7, 102, "play", 1010.0), genre_code=8, consuming=True)
    s = store.fetch(7, np.empty(0, dtype=np.int64)).session
    assert s.recent == (102, 101, 100)
    assert s.counts == {"view": 1, "play": 2}
    assert s.last_genre == 8 and s.last_ts == 1010.0
    assert s.consumed == frozenset({101, 102})
    f = s.features(now=1020.0)
    assert f[0] == pytest.approx(np.log1p(3)) and f[-2] == pytest.approx(np.log1p(10.0))


def test_sessions_are_per_user(store: OnlineStore) -> None:
    store.record_event(Event(1, 100, "like", 1.0), genre_code=1, consuming=True)
    assert store.fetch(2, np.empty(0, dtype=np.int64)).session.recent == ()


def test_ping(store: OnlineStore) -> None:
    store.ping()


def test_the_catalog_log_claims_each_id_once_and_reads_in_order(store: OnlineStore) -> None:
    a = CatalogEntry(5000, "Star Trek: Ünïcode Voyage", 1996, ("Action", "Sci-Fi"))
    b = CatalogEntry(5001, 'A "quoted" title', 0, ("unknown",))
    assert store.catalog_since(0) == []
    assert store.claim_item(a) is True
    assert store.claim_item(CatalogEntry(5000, "another title", 2000, ("Drama",))) is False
    assert store.claim_item(b) is True
    assert store.catalog_since(0) == [a, b]  # the losing claim left no entry
    assert store.catalog_since(1) == [b]
    assert store.catalog_since(2) == []


def test_a_second_client_reads_the_same_catalog_log(
    store: OnlineStore, request: pytest.FixtureRequest
) -> None:
    """What a second worker sees: another connection over the same keys (the in-process store is one
    process's own, so its 'second client' is itself)."""
    entry = CatalogEntry(7000, "Shared", 1999, ("Drama",))
    assert store.claim_item(entry)
    inner = store.inner if isinstance(store, ItemCache) else store
    inner = inner.inner if isinstance(inner, BreakerStore) else inner
    if isinstance(inner, RedisStore):
        other: OnlineStore = RedisStore(REDIS_URL, prefix=inner.prefix)
    elif isinstance(inner, RedisClusterStore):
        other = RedisClusterStore(request.getfixturevalue("redis_cluster").url, prefix=inner.prefix)
    else:
        other = store
    assert other.catalog_since(0) == [entry]
    assert other.claim_item(entry) is False
