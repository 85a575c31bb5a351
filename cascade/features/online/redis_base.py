"""What both Redis stores share: error mapping, the catalog log, and the hash encodings.

A subclass sets `self._r` (its client) and calls `_init_redis` in its constructor; every command
goes through `_call`, which turns a connection failure into StoreUnavailable (the breaker's signal).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from redis.exceptions import ClusterError, ReadOnlyError, RedisClusterException, TryAgainError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from cascade.features.online.base import (
    F32,
    I64,
    ITEM_DEFAULTS,
    SHOWN_KEEP,
    SHOWN_TTL_S,
    CatalogEntry,
    ShownEntry,
    StoreUnavailable,
)
from cascade.features.registry import EVENT_TYPES
from cascade.features.session import SessionState
from cascade.types import NOTHING_SHOWN, Shown

T = TypeVar("T")
# ClusterError (CLUSTERDOWN), TRYAGAIN and READONLY: a failover in progress, as unavailable as a dead node
_ERRORS = (
    RedisConnectionError,
    RedisTimeoutError,
    RedisClusterException,
    ClusterError,
    TryAgainError,
    ReadOnlyError,
    OSError,
)
# the catalog log: KEYS[1] the set of claimed ids, KEYS[2] the list of entries (one slot in a cluster)
CLAIM_LUA = """
if redis.call('SADD', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[2])
return 1
"""

# The items shown to a user: one string of 16-byte rows (<i4 item, <i4 count, <f8 last) in the order they
# were last recorded, oldest first (fetch decodes it with one np.frombuffer and sorts by item). SHOWN_LUA:
# KEYS[1] the string; ARGV: time, keep, ttl, the answer's items (ascending, distinct). An answer's items
# leave their old rows and are appended; the oldest rows beyond `keep` are dropped. No sort, no row
# decoded but its item id.
SHOWN_ROW = np.dtype([("item", "<i4"), ("count", "<i4"), ("last", "<f8")])
SHOWN_LUA = """
local k, ts, keep = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2])
local blob = redis.call('GET', k) or ''
local now = {}
for a = 4, #ARGV do now[tonumber(ARGV[a])] = true end
local kept, prior = {}, {}
for pos = 1, #blob, 16 do
  local i = struct.unpack('<i4', blob, pos)
  if now[i] then
    local _, n, t = struct.unpack('<i4i4d', blob, pos)
    prior[i] = {n, t}
  else
    kept[#kept + 1] = string.sub(blob, pos, pos + 15)
  end
end
local rows, first = {}, math.max(1, #kept + (#ARGV - 3) - keep + 1)
for r = first, #kept do rows[#rows + 1] = kept[r] end
for a = 4, #ARGV do
  local i = tonumber(ARGV[a])
  local old = prior[i]
  if old then
    rows[#rows + 1] = struct.pack('<i4i4d', i, old[1] + 1, math.max(old[2], ts))
  else
    rows[#rows + 1] = struct.pack('<i4i4d', i, 1, ts)
  end
end
redis.call('SET', k, table.concat(rows), 'EX', ARGV[3])
return #rows
"""
# unshow(key, item): the item's row out of a shown string (an event's script calls it)
UNSHOW_FUNCTION = """
local function unshow(k, item)
  local blob = redis.call('GET', k)
  if not blob then return end
  local out = {}
  for pos = 1, #blob, 16 do
    if struct.unpack('<i4', blob, pos) ~= item then out[#out + 1] = string.sub(blob, pos, pos + 15) end
  end
  if #out == 0 then redis.call('DEL', k) else redis.call('SET', k, table.concat(out), 'KEEPTTL') end
end
"""
UNSHOW_LUA = UNSHOW_FUNCTION + "unshow(KEYS[1], tonumber(ARGV[1]))\nreturn 1\n"


def shown_args(entry: ShownEntry) -> list[int | float | str]:
    """SHOWN_LUA's arguments for one answer."""
    return [repr(float(entry.ts)), SHOWN_KEEP, SHOWN_TTL_S, *sorted({int(i) for i in entry.item_ids})]


def decode_shown(blob: bytes | None) -> Shown:
    """A shown string (None: nothing shown) as Shown."""
    if not blob:
        return NOTHING_SHOWN
    rows = np.frombuffer(blob, dtype=SHOWN_ROW)
    rows = rows[np.argsort(rows["item"], kind="stable")]
    return Shown(
        rows["item"].astype(np.int64), rows["count"].astype(np.int64), rows["last"].astype(np.float64)
    )


class RedisBase:
    """A Redis-backed store's shared half: `_call`, ping/close, and the catalog log (one slot)."""

    name: str
    prefix: str
    _r: Any
    _ttl: int

    def _init_redis(self, prefix: str, session_ttl_s: int) -> None:
        self.prefix = prefix
        self._ttl = session_ttl_s
        self._claim_script = self._r.register_script(CLAIM_LUA)
        self._catalog_keys = catalog_keys(prefix)

    def _call(self, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except _ERRORS as exc:
            raise StoreUnavailable(f"{self.name} unavailable: {exc}") from exc

    def claim_item(self, entry: CatalogEntry) -> bool:
        args = [entry.item_id, entry.encode()]
        return bool(self._call(lambda: self._claim_script(keys=list(self._catalog_keys), args=args)))

    def catalog_since(self, cursor: int) -> list[CatalogEntry]:
        raw = self._call(lambda: self._r.lrange(self._catalog_keys[1], max(cursor, 0), -1))
        return [CatalogEntry.decode(b) for b in raw]

    def ping(self) -> None:
        self._call(self._r.ping)

    def close(self) -> None:
        self._r.close()


def catalog_keys(prefix: str) -> tuple[str, str]:
    """The catalog log's claimed-id set and entry list, hash-tagged to one slot for Redis Cluster."""
    return f"{prefix}{{catalog}}:ids", f"{prefix}{{catalog}}:log"


def user_record(features: F32, history: I64) -> Mapping[str | bytes, bytes | float | int | str]:
    """A user's hash in either Redis store: f = float32 features, h = int64 history, raw bytes."""
    return {"f": np.asarray(features, np.float32).tobytes(), "h": np.asarray(history, np.int64).tobytes()}


def decode_items(raw: list[bytes | None]) -> tuple[F32, npt.NDArray[np.bool_]]:
    missing = np.fromiter((b is None for b in raw), dtype=np.bool_, count=len(raw))
    if not raw:
        return np.empty((0, len(ITEM_DEFAULTS)), dtype=np.float32), missing
    filler = ITEM_DEFAULTS.tobytes()
    items = np.frombuffer(b"".join(filler if b is None else b for b in raw), dtype=np.float32)
    return items.reshape(len(raw), len(ITEM_DEFAULTS)).copy(), missing


def decode_session(sess: dict[bytes, bytes], recent: list[bytes], consumed: set[bytes]) -> SessionState:
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
