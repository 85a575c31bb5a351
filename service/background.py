"""A bounded queue and one writer thread: what a request records is written off its path, in batches.

`submit` is a queue put (microseconds); a full queue or a failing write drops records and reports them
(`on_failure(op, n)`: "dropped" or "write"); it never fails the request that submitted them.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

log = logging.getLogger("care.service.background")
T = TypeVar("T")
FLUSH_TIMEOUT_S = 0.5
LINGER_S = 0.02  # the writer waits this long after a first record (batching; `flush` cuts it short)
WARN_EVERY_S = 10.0


class BackgroundWriter(Generic[T]):
    """Records queued by requests, written in batches by one daemon thread (`write(batch)`)."""

    def __init__(
        self,
        write: Callable[[list[T]], None],
        on_failure: Callable[[str, int], None],
        *,
        name: str,
        queue_size: int = 10_000,
        batch: int = 512,
        linger_s: float = LINGER_S,
    ) -> None:
        self._write, self._on_failure, self._batch, self._linger = write, on_failure, batch, linger_s
        self.name = name
        self._hurry = threading.Event()
        self._q: queue.Queue[T | None] = queue.Queue(maxsize=queue_size)
        self._done = threading.Condition()
        self.submitted = 0
        self.processed = 0
        self._last_warning = 0.0
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def submit(self, record: T) -> bool:
        """Queue one record; a full queue drops it (reported) and returns False."""
        self.submitted += 1
        try:
            self._q.put_nowait(record)
        except queue.Full:
            self.submitted -= 1
            self._on_failure("dropped", 1)
            return False
        return True

    def pending(self) -> int:
        return self.submitted - self.processed

    def flush(self, timeout: float = FLUSH_TIMEOUT_S) -> bool:
        """Wait until everything submitted so far is written (or failed); False on timeout."""
        target = self.submitted
        self._hurry.set()
        with self._done:
            return self._done.wait_for(lambda: self.processed >= target, timeout)

    def _loop(self) -> None:
        stop = False
        while not stop:
            first = self._q.get()
            if first is None:
                return
            # let the request that queued this record finish its response before competing for the GIL
            if self._linger > 0:
                self._hurry.wait(self._linger)
            self._hurry.clear()
            batch = [first]
            while len(batch) < self._batch:
                try:
                    nxt = self._q.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                batch.append(nxt)
            try:
                self._write(batch)
            except Exception as exc:  # any backend failure: count, warn now and then, go on
                self._on_failure("write", len(batch))
                now = time.monotonic()
                if now - self._last_warning > WARN_EVERY_S:
                    self._last_warning = now
                    log.warning("%s: write failed (%d dropped): %s", self.name, len(batch), exc)
            with self._done:
                self.processed += len(batch)
                self._done.notify_all()

    def close(self, timeout: float = 5.0) -> None:
        with contextlib.suppress(queue.Full):
            self._q.put(None, timeout=timeout)
        self._thread.join(timeout)
