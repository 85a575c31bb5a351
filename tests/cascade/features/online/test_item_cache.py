"""The in-process item-feature cache over a real Redis: reads through, sees other writers, expires."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import numpy as np
import pytest

from cascade.features.online import RedisStoreConfig, StoreUnavailable, create_store
from cascade.features.online.base import ITEM_DEFAULTS
from cascade.features.online.item_cache import ItemCache, cached
from cascade.features.online.redis_store import RedisStore
from cascade.features.registry import ITEM_BATCH

REDIS_URL = "redis://127.0.0.1:6379/15"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def redis_store() -> Iterator[RedisStore]:
    s = create_store(RedisStoreConfig(url=REDIS_URL, prefix=f"care-test-{uuid.uuid4().hex[:8]}:"))
    assert isinstance(s, RedisStore)
    try:
        yield s
    finally:
        s.delete_prefix()
        s.close()


def _feats(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random((n, len(ITEM_BATCH))).astype(np.float32)


def test_reads_through_once_then_serves_from_memory(redis_store: RedisStore) -> None:
    redis_store.write_items([1, 2, 3], _feats(3, 0))
    cache = ItemCache(redis_store, ttl_s=60.0)
    ids = np.asarray([3, 1, 9], dtype=np.int64)
    first, missing = cache.fetch_items(ids)
    np.testing.assert_array_equal(first[:2], _feats(3, 0)[[2, 0]])
    np.testing.assert_array_equal(first[2], ITEM_DEFAULTS)
    assert missing.tolist() == [False, False, True]
    assert len(cache) == 2  # the id the store lacks is not cached
    redis_store.delete_prefix()  # the store forgets; the cache still answers
    again, missing = cache.fetch_items(ids[:2])
    np.testing.assert_array_equal(again, first[:2])
    assert not missing.any()


def test_an_item_another_worker_adds_is_found_on_first_request(redis_store: RedisStore) -> None:
    cache = ItemCache(redis_store, ttl_s=60.0)
    assert cache.fetch_items(np.asarray([7], dtype=np.int64))[1].tolist() == [True]
    other = ItemCache(redis_store, ttl_s=60.0)  # another process writes item 7
    other.write_items([7], _feats(1, 1))
    got, missing = cache.fetch_items(np.asarray([7], dtype=np.int64))
    assert missing.tolist() == [False]
    np.testing.assert_array_equal(got, _feats(1, 1))


def test_rematerialized_features_show_after_the_ttl(redis_store: RedisStore) -> None:
    clock = Clock()
    redis_store.write_items([1], _feats(1, 0))
    cache = ItemCache(redis_store, ttl_s=60.0, clock=clock)
    cache.fetch_items(np.asarray([1], dtype=np.int64))
    redis_store.write_items([1], _feats(1, 5))  # a batch job re-materializes item 1
    clock.now = 59.0
    np.testing.assert_array_equal(cache.fetch_items(np.asarray([1], dtype=np.int64))[0], _feats(1, 0))
    clock.now = 61.0
    np.testing.assert_array_equal(cache.fetch_items(np.asarray([1], dtype=np.int64))[0], _feats(1, 5))


def test_user_fetch_carries_only_the_misses(redis_store: RedisStore) -> None:
    redis_store.write_items([1, 2], _feats(2, 0))
    redis_store.write_users([5], _feats(1, 3)[:, :1].repeat(1, axis=0), [np.asarray([1], dtype=np.int64)])
    cache = ItemCache(redis_store, ttl_s=60.0)
    cache.fetch_items(np.asarray([1], dtype=np.int64))
    f = cache.fetch(5, np.asarray([1, 2, 4], dtype=np.int64))
    assert f.history.tolist() == [1]
    np.testing.assert_array_equal(f.items[:2], _feats(2, 0))
    assert f.items_missing.tolist() == [False, False, True]
    assert len(cache) == 2


def test_misses_fail_like_the_store_when_it_is_down() -> None:
    dead = create_store(
        RedisStoreConfig(url="redis://127.0.0.1:1/0", socket_timeout_s=0.1, connect_timeout_s=0.1)
    )
    cache = ItemCache(dead, ttl_s=60.0)
    with pytest.raises(StoreUnavailable):
        cache.fetch_items(np.asarray([1], dtype=np.int64))
    dead.close()


def test_a_zero_ttl_serves_the_store_itself(redis_store: RedisStore) -> None:
    assert cached(redis_store, 0.0) is redis_store
    wrapped = cached(redis_store, 60.0)
    assert isinstance(wrapped, ItemCache) and wrapped.inner is redis_store
