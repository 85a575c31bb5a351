"""Redis online store: one hash per entity, every fetch one pipelined round trip."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import redis

from cascade.features.online.base import F32, I64, Fetched, ShownEntry, clears_shown
from cascade.features.online.redis_base import (
    SHOWN_LUA,
    UNSHOW_LUA,
    RedisBase,
    decode_items,
    decode_session,
    decode_shown,
    shown_args,
    user_record,
)
from cascade.features.session import RECENT_MAX, Event

_ITEMS_BODY = """
local items = {}
for i = FIRST, #ARGV do items[#items + 1] = redis.call('HGET', p .. 'i:' .. ARGV[i], 'f') end
"""
_FETCH_LUA = (
    """
local p, u = ARGV[1], ARGV[2]
local user = redis.call('HMGET', p .. 'u:' .. u, 'f', 'h', 'cf')
local sess = redis.call('HGETALL', p .. 's:' .. u)
local recent = redis.call('LRANGE', p .. 'r:' .. u, 0, RECENT - 1)
local consumed = redis.call('SMEMBERS', p .. 'c:' .. u)
local shown = redis.call('GET', p .. 'sh:' .. u)
"""
    + _ITEMS_BODY.replace("FIRST", "3")
    + "return {user, sess, recent, consumed, items, shown}"
).replace("RECENT", str(RECENT_MAX))
_ITEMS_LUA = "local p = ARGV[1]\n" + _ITEMS_BODY.replace("FIRST", "2") + "return items"


class RedisStore(RedisBase):
    """Keys: {p}u:<id> (f: features, h: history, cf: the kept item-item source), {p}i:<id> (f), session
    {p}s:/{p}r:/{p}c:<id> with a TTL, the items shown and not played {p}sh:<id> (SHOWN_ROW rows)."""

    name = "redis"

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        prefix: str = "care:",
        socket_timeout_s: float = 0.25,
        connect_timeout_s: float = 0.25,
        session_ttl_s: int = 86_400,
    ) -> None:
        self._r = redis.Redis.from_url(
            url,
            socket_timeout=socket_timeout_s,
            socket_connect_timeout=connect_timeout_s,
            retry_on_timeout=False,
            health_check_interval=0,
        )
        # one command per fetch: the server loops over the item hashes (keys are built server-side,
        # so in Redis Cluster the user's and items' keys must share a hash slot; see deploy/README.md)
        self._fetch_script = self._r.register_script(_FETCH_LUA)
        self._items_script = self._r.register_script(_ITEMS_LUA)
        self._shown_script = self._r.register_script(SHOWN_LUA)
        self._unshow_script = self._r.register_script(UNSHOW_LUA)
        self._init_redis(prefix, session_ttl_s)

    def write_users(self, user_ids: Sequence[int], features: F32, histories: Sequence[I64]) -> None:
        def run() -> None:
            pipe = self._r.pipeline(transaction=False)
            for u, f, h in zip(user_ids, features, histories, strict=True):
                pipe.hset(f"{self.prefix}u:{int(u)}", mapping=user_record(f, h))
            pipe.execute()

        self._call(run)

    def write_items(self, item_ids: Sequence[int], features: F32) -> None:
        def run() -> None:
            pipe = self._r.pipeline(transaction=False)
            for i, f in zip(item_ids, features, strict=True):
                pipe.hset(f"{self.prefix}i:{int(i)}", "f", np.asarray(f, np.float32).tobytes())
            pipe.execute()

        self._call(run)

    def fetch(self, user_id: int, item_ids: I64) -> Fetched:
        args = [self.prefix, user_id, *item_ids.tolist()]
        reply: list[Any] = self._call(lambda: self._fetch_script(args=args))
        (f, h, source), sess, recent, consumed, raw, shown = reply
        items, missing = decode_items(raw)
        pairs = dict(zip(sess[::2], sess[1::2], strict=True))
        return Fetched(
            user_features=None if f is None else np.frombuffer(f, dtype=np.float32).copy(),
            history=np.frombuffer(h, dtype=np.int64).copy() if h is not None else np.empty(0, dtype=np.int64),
            session=decode_session(pairs, recent, set(consumed)),
            items=items,
            items_missing=missing,
            source=source,
            shown=decode_shown(shown),
        )

    def write_source(self, user_id: int, blob: bytes) -> None:
        self._call(lambda: self._r.hset(f"{self.prefix}u:{int(user_id)}", "cf", blob))

    def record_shown(self, entries: Sequence[ShownEntry]) -> None:
        def run() -> None:
            pipe = self._r.pipeline(transaction=False)
            for e in entries:
                self._shown_script(
                    keys=[f"{self.prefix}sh:{int(e.user_id)}"], args=shown_args(e), client=pipe
                )
            pipe.execute()

        self._call(run)

    def fetch_items(self, item_ids: I64) -> tuple[F32, npt.NDArray[np.bool_]]:
        args = [self.prefix, *item_ids.tolist()]
        return decode_items(self._call(lambda: self._items_script(args=args)))

    def record_event(self, event: Event, genre_code: int, consuming: bool) -> None:
        p, u = self.prefix, event.user_id
        keys = (f"{p}s:{u}", f"{p}r:{u}", f"{p}c:{u}")
        pipe = self._r.pipeline(transaction=True)
        pipe.hincrby(keys[0], f"n:{event.type}", 1)
        pipe.hset(keys[0], mapping={"lg": genre_code, "lt": repr(float(event.timestamp))})
        pipe.lpush(keys[1], event.item_id)
        pipe.ltrim(keys[1], 0, RECENT_MAX - 1)
        if consuming:
            pipe.sadd(keys[2], event.item_id)
        if clears_shown(event.type):
            self._unshow_script(keys=[f"{p}sh:{u}"], args=[event.item_id], client=pipe)
        for k in keys:
            pipe.expire(k, self._ttl)
        self._call(pipe.execute)

    def delete_prefix(self) -> int:
        """Delete every key under this store's prefix (tests and re-materialization)."""

        def run() -> int:
            n = 0
            for batch in _chunks(self._r.scan_iter(match=f"{self.prefix}*", count=1000), 500):
                n += int(self._r.delete(*batch))
            return n

        return self._call(run)


def _chunks(it: Any, size: int) -> Any:
    batch: list[Any] = []
    for x in it:
        batch.append(x)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
