"""Impressions and attribution for the service: a background writer keeps logging off the request path.

`/recommend` only puts a record on a bounded queue (microseconds); a writer thread sends batches to the
log. A full queue or a failing backend drops records and counts them (care_ab_log_failures); it never
fails a recommendation. `/events` waits (bounded) for this process's pending impressions, attributes each
event, counts it per experiment and arm, and logs the outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cascade.impressions import (
    Impression,
    ImpressionLog,
    LogUnavailable,
    Outcome,
    RedisImpressionLog,
    SqliteImpressionLog,
)
from cascade.pipeline import Recommendation
from service.attribution import attribute
from service.metrics import Metrics
from service.settings import Settings

log = logging.getLogger("care.service.tracking")
FLUSH_TIMEOUT_S = 0.5
LINGER_S = 0.02  # the writer waits this long after a first record (batching; `flush` cuts it short)
WARN_EVERY_S = 10.0


@dataclass(frozen=True)
class EventRef:
    """What attribution needs of an incoming event."""

    user_id: int
    item_id: int
    type: str
    request_id: str | None
    position: int | None = None  # as the client reported it; the impression's own position wins


class ImpressionRecorder:
    """A bounded queue and one writer thread that appends batches to the log."""

    def __init__(
        self,
        sink: ImpressionLog,
        on_failure: Callable[[str, int], None],
        *,
        queue_size: int = 10_000,
        batch: int = 512,
        linger_s: float = LINGER_S,
    ) -> None:
        self._sink, self._on_failure, self._batch, self._linger = sink, on_failure, batch, linger_s
        self._hurry = threading.Event()
        self._q: queue.Queue[Impression | None] = queue.Queue(maxsize=queue_size)
        self._done = threading.Condition()
        self.submitted = 0
        self.processed = 0
        self._last_warning = 0.0
        self._thread = threading.Thread(target=self._loop, name="care-impressions", daemon=True)
        self._thread.start()

    def submit(self, imp: Impression) -> None:
        """Queue one impression; a full queue drops it (counted)."""
        self.submitted += 1
        try:
            self._q.put_nowait(imp)
        except queue.Full:
            self.submitted -= 1
            self._on_failure("dropped", 1)

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
                self._sink.append(batch)
            except Exception as exc:  # any backend failure: count, warn now and then, go on
                self._on_failure("write", len(batch))
                now = time.monotonic()
                if now - self._last_warning > WARN_EVERY_S:
                    self._last_warning = now
                    log.warning("impression log write failed (%d dropped): %s", len(batch), exc)
            with self._done:
                self.processed += len(batch)
                self._done.notify_all()

    def close(self, timeout: float = 5.0) -> None:
        with contextlib.suppress(queue.Full):
            self._q.put(None, timeout=timeout)
        self._thread.join(timeout)


def open_log(settings: Settings) -> ImpressionLog | None:
    """The impression log these settings select (None when off): Redis with a Redis store, else SQLite."""
    kind = settings.impressions
    if kind == "off":
        return None
    url = settings.impressions_redis_url or settings.redis_url
    if kind == "redis" or (kind == "auto" and url is not None):
        if url is None:
            raise ValueError("CARE_IMPRESSIONS=redis needs CARE_IMPRESSIONS_REDIS_URL or CARE_REDIS_URL")
        return RedisImpressionLog(
            url,
            settings.redis_prefix,
            max_len=settings.impressions_max,
            window_s=settings.attribution_window_s,
        )
    path = settings.impressions_path or default_sqlite_path()
    return SqliteImpressionLog(path, max_rows=settings.impressions_max)


def default_sqlite_path() -> Path:
    from cascade.paths import care_home

    return care_home() / "ab" / "impressions.sqlite"


class Tracker:
    """Records impressions (non-blocking) and attributes events (awaited, never raising)."""

    def __init__(self, sink: ImpressionLog, metrics: Metrics, window_s: float, queue_size: int) -> None:
        self.sink, self.metrics, self.window_s = sink, metrics, window_s
        self.recorder = ImpressionRecorder(sink, self._failed, queue_size=queue_size)

    def _failed(self, op: str, n: int) -> None:
        self.metrics.ab_log_failures.labels(op).inc(n)

    def record(
        self, request_id: str, user_id: int, experiment: str | None, forced: bool, rec: Recommendation
    ) -> None:
        """Log one /recommend answer: a counter and a queue put, nothing that waits."""
        try:
            t = rec.timings_ms
            imp = Impression(
                round(time.time(), 4), request_id, user_id, experiment, rec.arm, rec.reranker_used,
                rec.fallback_reason, rec.prompt_version, tuple(it.item_id for it, _ in rec.items),
                round(t.get("total", 0.0), 3), round(t.get("rerank", 0.0), 3), forced,
            )  # fmt: skip
            self.metrics.ab_impressions.labels(imp.experiment or "", imp.arm).inc()
            self.recorder.submit(imp)
        except Exception:  # logging must never fail a recommendation
            self._failed("dropped", 1)

    async def attribute(self, events: Sequence[EventRef]) -> None:
        """Attribute each event, count it, log the outcomes; failures are counted, never raised."""
        try:
            if self.recorder.pending() > 0:
                await asyncio.to_thread(self.recorder.flush)
            outcomes = await asyncio.to_thread(self._attribute_sync, events, time.time())
        except LogUnavailable as exc:
            self._failed("read", len(events))
            log.warning("attribution skipped: %s", exc)
            return
        except Exception:
            self._failed("read", len(events))
            log.exception("attribution failed")
            return
        for o in outcomes:
            if o.arm is None:
                self.metrics.ab_unattributed.labels(o.type).inc()
            else:
                self.metrics.ab_attributed.labels(o.experiment or "", o.arm, o.type).inc()
        try:
            await asyncio.to_thread(self.sink.record, outcomes)
        except Exception as exc:
            self._failed("record", len(outcomes))
            log.warning("outcome log write failed: %s", exc)

    def _attribute_sync(self, events: Sequence[EventRef], now: float) -> list[Outcome]:
        recent = {u: self.sink.recent(u, now - self.window_s) for u in {e.user_id for e in events}}
        out: list[Outcome] = []
        for e in events:
            m = attribute(e.user_id, e.item_id, e.request_id, recent[e.user_id], now, self.window_s)
            if m is None:
                out.append(
                    Outcome(now, e.user_id, e.item_id, e.type, e.request_id, None, None, e.position, None)
                )
            else:
                imp = m.impression
                out.append(
                    Outcome(now, e.user_id, e.item_id, e.type, imp.request_id, imp.experiment, imp.arm,
                            m.position, m.how)
                )  # fmt: skip
        return out

    def close(self) -> None:
        self.recorder.close()
        self.sink.close()
