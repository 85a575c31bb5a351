"""Item batch features held in process, read through to a remote online store.

Every request reads the batch features of the ~200 candidates it scores, which change only when batch
features are re-materialized or an item is added. Fetching them from Redis each time cost about
1 ms of round trip, 50 KB of reply and 500 server-side HGETs per request, and blocked the worker's
event loop meanwhile. Here a request reads only the ids this process has not seen from the store
(in the same round trip as the user). Ids the store lacks are not cached, so an item that another
worker adds is found on its first request; everything expires `ttl_s` after it was loaded, so a
re-materialization is visible within that time. Cached items are served while the store is down.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from cascade.data.idrows import IdRows
from cascade.features.online.base import (
    F32,
    I64,
    ITEM_DEFAULTS,
    CatalogEntry,
    Fetched,
    OnlineStore,
    ShownEntry,
)
from cascade.features.session import Event

_WIDTH = len(ITEM_DEFAULTS)


class ItemCache:
    """An OnlineStore that keeps item features of the wrapped store in process for `ttl_s`."""

    def __init__(self, inner: OnlineStore, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.inner, self.name, self._ttl, self._clock = inner, inner.name, ttl_s, clock
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self._rows = IdRows()
        self._feats: F32 = np.empty((0, _WIDTH), dtype=np.float32)
        self._loaded = self._clock()

    def __len__(self) -> int:
        return len(self._rows)

    def _lookup(self, item_ids: I64) -> tuple[F32, npt.NDArray[np.bool_]]:
        """Cached rows (defaults elsewhere) and the mask of ids not cached."""
        with self._lock:
            if self._clock() - self._loaded > self._ttl:
                self._reset()
            rows = self._rows.rows(item_ids)
            miss = rows < 0
            out = np.empty((len(item_ids), _WIDTH), dtype=np.float32)
            out[~miss] = self._feats[rows[~miss]]
        return out, miss

    def _keep(self, item_ids: I64, feats: F32) -> None:
        with self._lock:
            fresh = {int(i): r for r, i in enumerate(item_ids.tolist()) if int(i) not in self._rows}
            if fresh:
                self._rows.extend(fresh)
                self._feats = np.vstack([self._feats, feats[list(fresh.values())]])

    def _fill(
        self, item_ids: I64, out: F32, miss: npt.NDArray[np.bool_], got: F32, gone: npt.NDArray[np.bool_]
    ) -> npt.NDArray[np.bool_]:
        """Put the store's answer for the missed ids into `out`; cache the ones it has."""
        out[miss] = got
        missing = np.zeros(len(item_ids), dtype=np.bool_)
        missing[miss] = gone
        self._keep(item_ids[miss][~gone], got[~gone])
        return missing

    def fetch_items(self, item_ids: I64) -> tuple[F32, npt.NDArray[np.bool_]]:
        out, miss = self._lookup(item_ids)
        if not miss.any():
            return out, np.zeros(len(item_ids), dtype=np.bool_)
        got, gone = self.inner.fetch_items(item_ids[miss])
        return out, self._fill(item_ids, out, miss, got, gone)

    def fetch(self, user_id: int, item_ids: I64) -> Fetched:
        out, miss = self._lookup(item_ids)
        f = self.inner.fetch(user_id, item_ids[miss])
        missing = self._fill(item_ids, out, miss, f.items, f.items_missing)
        return Fetched(f.user_features, f.history, f.session, out, missing, f.source, f.shown)

    def write_items(self, item_ids: Sequence[int], features: F32) -> None:
        """Write through: this process sees its own writes at once."""
        self.inner.write_items(item_ids, features)
        ids = np.asarray(list(item_ids), dtype=np.int64)
        with self._lock:
            rows = self._rows.rows(ids)
            self._feats[rows[rows >= 0]] = np.asarray(features, dtype=np.float32)[rows >= 0]
        self._keep(ids, np.asarray(features, dtype=np.float32))

    def write_users(self, user_ids: Sequence[int], features: F32, histories: Sequence[I64]) -> None:
        self.inner.write_users(user_ids, features, histories)

    def record_event(self, event: Event, genre_code: int, consuming: bool) -> None:
        self.inner.record_event(event, genre_code, consuming)

    def write_source(self, user_id: int, blob: bytes) -> None:
        self.inner.write_source(user_id, blob)

    def record_shown(self, entries: Sequence[ShownEntry]) -> None:
        self.inner.record_shown(entries)

    def claim_item(self, entry: CatalogEntry) -> bool:
        return self.inner.claim_item(entry)

    def catalog_since(self, cursor: int) -> list[CatalogEntry]:
        return self.inner.catalog_since(cursor)

    def ping(self) -> None:
        self.inner.ping()

    def close(self) -> None:
        self.inner.close()


def cached(store: OnlineStore, ttl_s: float) -> OnlineStore:
    """`store` with its item features cached for `ttl_s` (0: uncached): what a remote store serves through."""
    return ItemCache(store, ttl_s) if ttl_s > 0 else store
