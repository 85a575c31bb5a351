"""Impressions and attribution for the service: a background writer keeps logging off the request path.

`/recommend` only puts a record on a bounded queue (microseconds); a writer thread sends batches to the
log. A full queue or a failing backend drops records and counts them (care_ab_log_failures); it never
fails a recommendation. `/events` waits (bounded) for this process's pending impressions, attributes each
event, counts it per experiment and arm, and logs the outcome.
"""

from __future__ import annotations

import asyncio
import logging
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
from service.background import LINGER_S, BackgroundWriter
from service.metrics import Metrics
from service.settings import Settings

log = logging.getLogger("care.service.tracking")


@dataclass(frozen=True)
class EventRef:
    """What attribution needs of an incoming event."""

    user_id: int
    item_id: int
    type: str
    request_id: str | None
    position: int | None = None  # as the client reported it; the impression's own position wins


class ImpressionRecorder(BackgroundWriter[Impression]):
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
        super().__init__(
            sink.append, on_failure, name="care-impressions", queue_size=queue_size, batch=batch,
            linger_s=linger_s,
        )  # fmt: skip


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
