"""Redis online store: one hash per entity, every fetch one pipelined round trip."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from cascade.features.online.base import F32, I64, ITEM_DEFAULTS, CatalogEntry, Fetched, StoreUnavailable
from cascade.features.registry import EVENT_TYPES
from cascade.features.session import RECENT_MAX, Event, SessionState

T = TypeVar("T")
_ITEMS_BODY = """
local items = {}
for i = FIRST, #ARGV do items[#items + 1] = redis.call('HGET', p .. 'i:' .. ARGV[i], 'f') end
"""
_FETCH_LUA = (
    """
local p, u = ARGV[1], ARGV[2]
local user = redis.call('HMGET', p .. 'u:' .. u, 'f', 'h')
local sess = redis.call('HGETALL', p .. 's:' .. u)
local recent = redis.call('LRANGE', p .. 'r:' .. u, 0, RECENT - 1)
local consumed = redis.call('SMEMBERS', p .. 'c:' .. u)
"""
    + _ITEMS_BODY.replace("FIRST", "3")
    + "return {user, sess, recent, consumed, items}"
).replace("RECENT", str(RECENT_MAX))
_ITEMS_LUA = "local p = ARGV[1]\n" + _ITEMS_BODY.replace("FIRST", "2") + "return items"
_ERRORS = (RedisConnectionError, RedisTimeoutError, OSError)
# the catalog log: KEYS[1] the set of claimed ids, KEYS[2] the list of entries (one slot in a cluster)
CLAIM_LUA = """
if redis.call('SADD', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[2])
return 1
"""


class CatalogLog:
    """The shared catalog log of both Redis stores: a set of claimed ids and a list of entries, one slot."""

    _r: Any
    _call: Callable[[Callable[[], Any]], Any]

    def _init_catalog_log(self, prefix: str) -> None:
        self._claim_script = self._r.register_script(CLAIM_LUA)
        self._catalog_keys = catalog_keys(prefix)

    def claim_item(self, entry: CatalogEntry) -> bool:
        args = [entry.item_id, entry.encode()]
        return bool(self._call(lambda: self._claim_script(keys=list(self._catalog_keys), args=args)))

    def catalog_since(self, cursor: int) -> list[CatalogEntry]:
        raw = self._call(lambda: self._r.lrange(self._catalog_keys[1], max(cursor, 0), -1))
        return [CatalogEntry.decode(b) for b in raw]


class RedisStore(CatalogLog):
    """Keys: {p}u:<id> (f: features, h: history), {p}i:<id> (f), session {p}s:/{p}r:/{p}c:<id> with a TTL."""

    name = "redis"

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        prefix: str = "care:",
        socket_timeout_s: float = 0.25,
        connect_timeout_s: float = 0.25,
        session_ttl_s: int = 86_400,
    ) -> None:
        self.prefix = prefix
        self._ttl = session_ttl_s
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
        self._init_catalog_log(prefix)

    def _call(self, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except _ERRORS as exc:
            raise StoreUnavailable(f"redis unavailable: {exc}") from exc

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
        (f, h), sess, recent, consumed, raw = reply
        items, missing = _decode_items(raw)
        pairs = dict(zip(sess[::2], sess[1::2], strict=True))
        return Fetched(
            user_features=None if f is None else np.frombuffer(f, dtype=np.float32).copy(),
            history=np.frombuffer(h, dtype=np.int64).copy() if h is not None else np.empty(0, dtype=np.int64),
            session=_session(pairs, recent, set(consumed)),
            items=items,
            items_missing=missing,
        )

    def fetch_items(self, item_ids: I64) -> tuple[F32, npt.NDArray[np.bool_]]:
        args = [self.prefix, *item_ids.tolist()]
        return _decode_items(self._call(lambda: self._items_script(args=args)))

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
        for k in keys:
            pipe.expire(k, self._ttl)
        self._call(pipe.execute)

    def ping(self) -> None:
        self._call(self._r.ping)

    def close(self) -> None:
        self._r.close()

    def delete_prefix(self) -> int:
        """Delete every key under this store's prefix (tests and re-materialization)."""

        def run() -> int:
            n = 0
            for batch in _chunks(self._r.scan_iter(match=f"{self.prefix}*", count=1000), 500):
                n += int(self._r.delete(*batch))
            return n

        return self._call(run)


def catalog_keys(prefix: str) -> tuple[str, str]:
    """The catalog log's claimed-id set and entry list, hash-tagged to one slot for Redis Cluster."""
    return f"{prefix}{{catalog}}:ids", f"{prefix}{{catalog}}:log"


def user_record(features: F32, history: I64) -> Mapping[str | bytes, bytes | float | int | str]:
    """A user's hash in either Redis store: f = float32 features, h = int64 history, raw bytes."""
    return {"f": np.asarray(features, np.float32).tobytes(), "h": np.asarray(history, np.int64).tobytes()}


def _decode_items(raw: list[bytes | None]) -> tuple[F32, npt.NDArray[np.bool_]]:
    missing = np.fromiter((b is None for b in raw), dtype=np.bool_, count=len(raw))
    if not raw:
        return np.empty((0, len(ITEM_DEFAULTS)), dtype=np.float32), missing
    filler = ITEM_DEFAULTS.tobytes()
    items = np.frombuffer(b"".join(filler if b is None else b for b in raw), dtype=np.float32)
    return items.reshape(len(raw), len(ITEM_DEFAULTS)).copy(), missing


def _chunks(it: Any, size: int) -> Any:
    batch: list[Any] = []
    for x in it:
        batch.append(x)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _session(sess: dict[bytes, bytes], recent: list[bytes], consumed: set[bytes]) -> SessionState:
    if not sess and not recent:
        return SessionState()
    counts = {t: int(sess.get(f"n:{t}".encode(), 0)) for t in EVENT_TYPES}
    lt = sess.get(b"lt")
    return SessionState(
        recent=tuple(int(x) for x in recent),
        counts={k: v for k, v in counts.items() if v},
        last_genre=int(sess.get(b"lg", b"-1")),
        last_ts=float(lt) if lt is not None else None,
        consumed=frozenset(int(x) for x in consumed),
    )
