"""What each answer showed, kept with the user in the online store off the request path.

`/recommend` queues (user, items served, request time); a writer thread adds them to the store in
batches (cascade.features.online.base.OnlineStore.record_shown), where the impression discount reads
them on the user's next request. A user's request that arrives while their previous answer is still
queued waits for it (bounded, FLUSH_TIMEOUT_S): users read their own writes, other requests never wait.
`/events` waits likewise, so a play clears an item only after the answer that showed it was recorded.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from cascade.features.online.base import ShownEntry
from service.background import FLUSH_TIMEOUT_S, BackgroundWriter

if TYPE_CHECKING:
    from cascade.features.online import OnlineStore


class ShownRecorder:
    """A background writer of ShownEntry records, and which users still have one queued."""

    def __init__(
        self,
        store: Callable[[], OnlineStore | None],
        on_failure: Callable[[str, int], None],
        queue_size: int = 10_000,
    ) -> None:
        self._store = store  # the loaded version's store at write time
        self._lock = threading.Lock()
        self._queued: dict[int, int] = {}
        self.writer = BackgroundWriter(self._write, on_failure, name="care-shown", queue_size=queue_size)

    def submit(self, user_id: int, item_ids: tuple[int, ...], ts: float) -> None:
        """Queue one answer (a full queue drops it, reported)."""
        if not item_ids:
            return
        with self._lock:
            self._queued[user_id] = self._queued.get(user_id, 0) + 1
        if not self.writer.submit(ShownEntry(user_id, item_ids, ts)):
            self._done([user_id])

    def queued(self, user_id: int) -> bool:
        """Whether an answer to this user is still waiting to be written."""
        return user_id in self._queued

    def flush(self, timeout: float = FLUSH_TIMEOUT_S) -> bool:
        return self.writer.flush(timeout)

    def _write(self, batch: list[ShownEntry]) -> None:
        try:
            store = self._store()
            if store is not None:
                store.record_shown(batch)
        finally:
            self._done([e.user_id for e in batch])

    def _done(self, users: list[int]) -> None:
        with self._lock:
            for u in users:
                n = self._queued.get(u, 0) - 1
                if n > 0:
                    self._queued[u] = n
                else:
                    self._queued.pop(u, None)

    def close(self) -> None:
        self.writer.close()
