"""Redis Cluster online store: hash-tagged keys, and one pipelined round trip per shard a fetch touches.

A user's record and session keys share the tag {u<id>} (one slot, so one shard and an atomic event
script); item features live in ITEM_BUCKETS hashes tagged {ib<k>} (k = item id mod ITEM_BUCKETS),
spread over the shards, so 500 items cost one HMGET per bucket, and all of a fetch's commands go out
as one cluster pipeline: each shard gets its commands in one write and answers in one read.
"""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from redis.cluster import RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException, ResponseError

from cascade.features.online.base import (
    F32,
    I64,
    Fetched,
    NotReplicated,
    ShownEntry,
    StoreUnavailable,
    clears_shown,
)
from cascade.features.online.redis_base import (
    SHOWN_LUA,
    UNSHOW_FUNCTION,
    RedisBase,
    decode_items,
    decode_session,
    decode_shown,
    shown_args,
    user_record,
)
from cascade.features.session import RECENT_MAX, Event

ITEM_BUCKETS = 16
_REFRESH_ERRORS = (RedisClusterException, RedisConnectionError, ResponseError, OSError)
_EVENT_LUA = (
    UNSHOW_FUNCTION
    + """
local s, r, c = KEYS[1], KEYS[2], KEYS[3]
redis.call('HINCRBY', s, 'n:' .. ARGV[1], 1)
redis.call('HSET', s, 'lg', ARGV[2], 'lt', ARGV[3])
redis.call('LPUSH', r, ARGV[4])
redis.call('LTRIM', r, 0, tonumber(ARGV[7]) - 1)
if ARGV[5] == '1' then redis.call('SADD', c, ARGV[4]) end
if ARGV[8] == '1' then unshow(KEYS[4], tonumber(ARGV[4])) end
for i = 1, 3 do redis.call('EXPIRE', KEYS[i], tonumber(ARGV[6])) end
return 1
"""
)


class RedisClusterStore(RedisBase):
    """Keys: {p}{u<id>}:u|s|r|c|sh per user (one slot), {p}{ib<k>} item-feature buckets (field: item id)."""

    name = "redis-cluster"

    def __init__(
        self,
        url: str = "redis://127.0.0.1:7000",
        prefix: str = "care:",
        socket_timeout_s: float = 0.25,
        connect_timeout_s: float = 0.25,
        session_ttl_s: int = 86_400,
        min_replicas: int = 0,
        replica_timeout_ms: int = 100,
        **redis_options: Any,
    ) -> None:
        """min_replicas > 0: an event counts as written only once that many replicas have it (WAIT)."""
        if "{" in prefix or "}" in prefix:
            raise ValueError(f"prefix {prefix!r}: braces would change the keys' hash tags")
        self._r: RedisCluster[bytes] = RedisCluster.from_url(
            url, socket_timeout=socket_timeout_s, socket_connect_timeout=connect_timeout_s, **redis_options
        )
        self._event_script = self._r.register_script(_EVENT_LUA)  # type: ignore[attr-defined]
        self._shown_script = self._r.register_script(SHOWN_LUA)  # type: ignore[attr-defined]
        self._init_redis(prefix, session_ttl_s)
        self._min_replicas, self._replica_timeout_ms = min_replicas, replica_timeout_ms
        self._refreshed = 0.0

    # ---- keys ---------------------------------------------------------------------------------
    def user_key(self, user_id: int, kind: str) -> str:
        return f"{self.prefix}{{u{int(user_id)}}}:{kind}"

    def bucket_key(self, bucket: int) -> str:
        return f"{self.prefix}{{ib{bucket}}}"

    def shard_of(self, key: str) -> int:
        """The port of the primary that holds `key`."""
        node = self._r.get_node_from_key(key)
        if node is None:
            raise StoreUnavailable(f"no node holds {key!r}")
        return int(node.port)

    # ---- writes -------------------------------------------------------------------------------
    def write_users(self, user_ids: Sequence[int], features: F32, histories: Sequence[I64]) -> None:
        def run() -> None:
            pipe = self._r.pipeline()
            for u, f, h in zip(user_ids, features, histories, strict=True):
                pipe.hset(self.user_key(int(u), "u"), mapping=user_record(f, h))
            pipe.execute()

        self._call(run)

    def write_items(self, item_ids: Sequence[int], features: F32) -> None:
        by_bucket: dict[int, dict[str, bytes]] = defaultdict(dict)
        for i, f in zip(item_ids, features, strict=True):
            by_bucket[int(i) % ITEM_BUCKETS][str(int(i))] = np.asarray(f, np.float32).tobytes()

        def run() -> None:
            pipe = self._r.pipeline()
            for b, mapping in by_bucket.items():
                pipe.hset(self.bucket_key(b), mapping=mapping)  # type: ignore[arg-type]
            pipe.execute()

        self._call(run)

    def record_event(self, event: Event, genre_code: int, consuming: bool) -> None:
        u = event.user_id
        keys = [self.user_key(u, "s"), self.user_key(u, "r"), self.user_key(u, "c"), self.user_key(u, "sh")]
        args = [
            event.type,
            genre_code,
            repr(float(event.timestamp)),
            event.item_id,
            "1" if consuming else "0",
            self._ttl,
            RECENT_MAX,
            "1" if clears_shown(event.type) else "0",
        ]
        if self._min_replicas:
            self._call(lambda: self._record_replicated(keys, args))
        else:
            self._call(lambda: self._event_script(keys=keys, args=args))

    def _record_replicated(self, keys: list[str], args: list[Any]) -> None:
        """The event script, then WAIT, on one connection to the user's primary (WAIT counts the writes of
        its own connection); NotReplicated when fewer replicas than asked confirm it in time."""
        node = self._r.get_node_from_key(keys[0])
        if node is None or node.redis_connection is None:
            self._refresh_slots()
            raise StoreUnavailable(f"{self.name}: no primary known for {keys[0]!r}")
        pipe = node.redis_connection.pipeline(transaction=False)
        pipe.eval(_EVENT_LUA, len(keys), *keys, *args)
        pipe.execute_command("WAIT", self._min_replicas, self._replica_timeout_ms)  # type: ignore[no-untyped-call]
        try:
            _, acked = pipe.execute()
        except (ResponseError, RedisConnectionError, OSError) as exc:  # MOVED, CLUSTERDOWN, a dead primary
            self._refresh_slots()
            raise StoreUnavailable(f"{self.name}: event not written on {node.name}: {exc}") from exc
        if int(acked) < self._min_replicas:
            raise NotReplicated(
                f"event on {node.name} confirmed by {acked} of {self._min_replicas} replica(s) "
                f"in {self._replica_timeout_ms} ms"
            )

    def _refresh_slots(self) -> None:
        """Re-read the slot map after a failover (at most twice a second: the cluster may still be voting)."""
        now = time.monotonic()
        if now - self._refreshed < 0.5:
            return
        self._refreshed = now
        with contextlib.suppress(*_REFRESH_ERRORS):
            self._r.nodes_manager.initialize()

    # ---- reads --------------------------------------------------------------------------------
    def _queue_items(self, pipe: Any, item_ids: I64) -> list[tuple[int, list[int]]]:
        """One HMGET per bucket touched; returns (bucket, positions) in queue order."""
        positions: dict[int, list[int]] = defaultdict(list)
        ids = item_ids.tolist()
        for n, i in enumerate(ids):
            positions[i % ITEM_BUCKETS].append(n)
        plan = list(positions.items())
        for b, pos in plan:
            pipe.hmget(self.bucket_key(b), [str(ids[p]) for p in pos])
        return plan

    @staticmethod
    def _gather(n: int, plan: list[tuple[int, list[int]]], replies: list[Any]) -> list[bytes | None]:
        raw: list[bytes | None] = [None] * n
        for (_, pos), values in zip(plan, replies, strict=True):
            for p, v in zip(pos, values, strict=True):
                raw[p] = v
        return raw

    def fetch(self, user_id: int, item_ids: I64) -> Fetched:
        def run() -> list[Any]:
            pipe = self._r.pipeline()
            pipe.hmget(self.user_key(user_id, "u"), ["f", "h", "cf"])
            pipe.hgetall(self.user_key(user_id, "s"))
            pipe.lrange(self.user_key(user_id, "r"), 0, RECENT_MAX - 1)
            pipe.smembers(self.user_key(user_id, "c"))
            pipe.get(self.user_key(user_id, "sh"))
            plan = self._queue_items(pipe, item_ids)
            out: list[Any] = pipe.execute()
            return [*out[:5], self._gather(len(item_ids), plan, out[5:])]

        (f, h, source), sess, recent, consumed, shown, raw = self._call(run)
        items, missing = decode_items(raw)
        return Fetched(
            user_features=None if f is None else np.frombuffer(f, dtype=np.float32).copy(),
            history=np.frombuffer(h, dtype=np.int64).copy() if h is not None else np.empty(0, dtype=np.int64),
            session=decode_session(sess, recent, set(consumed)),
            items=items,
            items_missing=missing,
            source=source,
            shown=decode_shown(shown),
        )

    def write_source(self, user_id: int, blob: bytes) -> None:
        self._call(lambda: self._r.hset(self.user_key(int(user_id), "u"), "cf", blob))

    def record_shown(self, entries: Sequence[ShownEntry]) -> None:
        def run() -> None:  # one script call per answer, each on its user's primary
            for e in entries:
                self._shown_script(keys=[self.user_key(e.user_id, "sh")], args=shown_args(e))

        self._call(run)

    def fetch_items(self, item_ids: I64) -> tuple[F32, npt.NDArray[np.bool_]]:
        def run() -> list[bytes | None]:
            if len(item_ids) == 0:
                return []
            pipe = self._r.pipeline()
            plan = self._queue_items(pipe, item_ids)
            return self._gather(len(item_ids), plan, pipe.execute())

        return decode_items(self._call(run))

    def ping(self) -> None:
        self._call(lambda: self._r.ping(target_nodes=RedisCluster.PRIMARIES))

    def delete_prefix(self) -> int:
        """Delete every key under this store's prefix on every shard (tests)."""

        def run() -> int:
            keys = list(self._r.scan_iter(match=f"{self.prefix}*", count=1000))
            pipe = self._r.pipeline()
            for k in keys:
                pipe.delete(k)
            pipe.execute()
            return len(keys)

        return self._call(run)
