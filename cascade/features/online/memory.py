"""In-process online store: the embedded default."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import numpy.typing as npt

from cascade.data.idrows import IdRows
from cascade.features.online.base import (
    F32,
    I64,
    ITEM_DEFAULTS,
    SHOWN_KEEP,
    CatalogEntry,
    Fetched,
    ShownEntry,
    clears_shown,
)
from cascade.features.session import RECENT_MAX, Event, SessionState
from cascade.types import NOTHING_SHOWN, Shown


class MemoryStore:
    """Dicts for users and sessions; one dense matrix for item features."""

    name = "memory"

    def __init__(self, session_ttl_s: float = 86_400.0) -> None:
        self._users: dict[int, tuple[F32, I64]] = {}
        self._item_row = IdRows()
        self._items: F32 = np.empty((0, len(ITEM_DEFAULTS)), dtype=np.float32)
        self._sessions: dict[int, tuple[float, SessionState]] = {}
        self._sources: dict[int, bytes] = {}
        self._shown_entries: dict[int, dict[int, tuple[int, float]]] = {}  # user -> item -> (count, last)
        self._shown: dict[int, Shown] = {}  # the same, as fetch returns it (rebuilt on each change)
        self._ttl = session_ttl_s
        self._lock = threading.Lock()
        self._catalog: list[CatalogEntry] = []
        self._claimed: set[int] = set()

    def write_users(self, user_ids: Sequence[int], features: F32, histories: Sequence[I64]) -> None:
        for u, f, h in zip(user_ids, features, histories, strict=True):
            self._users[int(u)] = (np.array(f, dtype=np.float32), np.asarray(h, dtype=np.int64))

    def write_items(self, item_ids: Sequence[int], features: F32) -> None:
        with self._lock:
            new = list(dict.fromkeys(int(i) for i in item_ids if int(i) not in self._item_row))
            if new:
                self._items = np.vstack([self._items, np.tile(ITEM_DEFAULTS, (len(new), 1))])
                self._item_row.extend(new)
            self._items[self._item_row.rows(np.asarray(item_ids, dtype=np.int64))] = features

    def fetch_items(self, item_ids: I64) -> tuple[F32, npt.NDArray[np.bool_]]:
        rows = self._item_row.rows(item_ids)
        missing = rows < 0
        items = (
            self._items[np.where(missing, 0, rows)]
            if len(self._items)
            else np.tile(ITEM_DEFAULTS, (len(rows), 1))
        )
        if missing.any():
            items[missing] = ITEM_DEFAULTS
        return items, missing

    def fetch(self, user_id: int, item_ids: I64) -> Fetched:
        record = self._users.get(user_id)
        items, missing = self.fetch_items(item_ids)
        return Fetched(
            user_features=None if record is None else record[0],
            history=np.empty(0, dtype=np.int64) if record is None else record[1],
            session=self._session(user_id),
            items=items,
            items_missing=missing,
            source=self._sources.get(user_id),
            shown=self._shown.get(user_id, NOTHING_SHOWN),
        )

    def record_shown(self, entries: Sequence[ShownEntry]) -> None:
        with self._lock:
            for e in entries:  # dict order: the order last recorded, oldest first (as in Redis)
                mine = self._shown_entries.setdefault(int(e.user_id), {})
                for i in sorted({int(i) for i in e.item_ids}):
                    n, last = mine.pop(i, (0, e.ts))
                    mine[i] = (n + 1, max(last, float(e.ts)))
                for i in list(mine)[: max(0, len(mine) - SHOWN_KEEP)]:
                    del mine[i]
                self._shown[int(e.user_id)] = Shown.of(mine)

    def write_source(self, user_id: int, blob: bytes) -> None:
        self._sources[int(user_id)] = bytes(blob)

    def _session(self, user_id: int) -> SessionState:
        entry = self._sessions.get(user_id)
        if entry is None or time.monotonic() - entry[0] > self._ttl:
            return SessionState()
        return entry[1]

    def record_event(self, event: Event, genre_code: int, consuming: bool) -> None:
        with self._lock:
            s = self._session(event.user_id)
            counts = dict(s.counts)
            counts[event.type] = counts.get(event.type, 0) + 1
            recent = (event.item_id, *s.recent)[:RECENT_MAX]
            consumed = s.consumed | {event.item_id} if consuming else s.consumed
            new = replace(
                s,
                recent=recent,
                counts=counts,
                last_genre=genre_code,
                last_ts=event.timestamp,
                consumed=consumed,
            )
            self._sessions[event.user_id] = (time.monotonic(), new)
            mine = self._shown_entries.get(event.user_id, {})
            if clears_shown(event.type) and mine.pop(event.item_id, None) is not None:
                self._shown[event.user_id] = Shown.of(mine)

    def claim_item(self, entry: CatalogEntry) -> bool:
        with self._lock:
            if entry.item_id in self._claimed:
                return False
            self._claimed.add(entry.item_id)
            self._catalog.append(entry)
            return True

    def catalog_since(self, cursor: int) -> list[CatalogEntry]:
        return self._catalog[max(cursor, 0) :]

    def ping(self) -> None:
        return None

    def close(self) -> None:
        return None
