"""Redis Cluster specifics: hash-tagged keys, and one round trip per shard a fetch touches."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from redis.cluster import key_slot
from redis.connection import Connection

from cascade.features.online.base import ITEM_DEFAULTS
from cascade.features.online.cluster_local import LocalCluster
from cascade.features.online.redis_cluster import ITEM_BUCKETS, RedisClusterStore
from cascade.features.registry import USER_BATCH


class CountingConnection(Connection):
    """Counts writes to the socket, per node port: one per round trip."""

    writes: dict[int, int] = {}  # noqa: RUF012 (class-wide on purpose: the pool builds the instances)

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        CountingConnection.writes[self.port] = CountingConnection.writes.get(self.port, 0) + 1
        super().send_packed_command(command, check_health)


@pytest.fixture
def store(redis_cluster: LocalCluster) -> Iterator[RedisClusterStore]:
    s = RedisClusterStore(
        redis_cluster.url, prefix=f"care-rc-{uuid.uuid4().hex[:8]}:", connection_class=CountingConnection
    )
    try:
        yield s
    finally:
        s.delete_prefix()
        s.close()


def test_a_users_keys_share_one_slot(store: RedisClusterStore) -> None:
    slots = {key_slot(store.user_key(42, kind).encode()) for kind in "usrc"}
    assert len(slots) == 1
    assert len({key_slot(store.bucket_key(b).encode()) for b in range(ITEM_BUCKETS)}) > 1


def test_items_spread_over_every_shard(store: RedisClusterStore, redis_cluster: LocalCluster) -> None:
    store.write_items(list(range(1, 501)), np.ones((500, len(ITEM_DEFAULTS)), dtype=np.float32))
    holders = {store.shard_of(store.bucket_key(b)) for b in range(ITEM_BUCKETS)}
    assert holders == set(redis_cluster.ports)
    items, missing = store.fetch_items(np.asarray([1, 250, 500, 501], dtype=np.int64))
    assert missing.tolist() == [False, False, False, True] and (items[:3] == 1.0).all()


def test_a_fetch_is_one_round_trip_per_shard_touched(store: RedisClusterStore) -> None:
    rng = np.random.default_rng(0)
    store.write_users(
        [9], rng.random((1, len(USER_BATCH)), dtype=np.float32), [np.asarray([1, 2], dtype=np.int64)]
    )
    store.write_items(list(range(1, 501)), rng.random((500, len(ITEM_DEFAULTS)), dtype=np.float32))
    store.fetch(9, np.arange(1, 501, dtype=np.int64))  # warm: connections open, slots known
    CountingConnection.writes.clear()
    got = store.fetch(9, np.arange(1, 501, dtype=np.int64))
    assert not got.items_missing.any() and got.history.tolist() == [1, 2]
    assert len(CountingConnection.writes) == 3  # 500 items touch every shard ...
    assert set(CountingConnection.writes.values()) == {1}  # ... and each shard is written to once
    CountingConnection.writes.clear()
    store.fetch(9, np.empty(0, dtype=np.int64))
    assert list(CountingConnection.writes.values()) == [1]  # the user alone: one shard, one trip
