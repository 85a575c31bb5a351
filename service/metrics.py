"""Prometheus metrics, in a registry per app (several apps in one test process stay separate).

/metrics also exports the process-wide default registry, where the LLM stage keeps its own counters
(care_llm_cache_total, care_llm_repairs_total, care_llm_call_seconds); fallbacks are counted here
only, once per response (care_rerank_fallbacks_total{reason}).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from cascade.types import FallbackReason

LATENCY_BUCKETS_S = (0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.0, 2.0, 5.0)
STAGE_BUCKETS_MS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0)

LOCK_FILE = ".care-metrics.lock"  # not *.db: the collector's glob skips it
ARCHIVE = "archive"  # <type>_archive.db: the summed counts of workers that ended
ARCHIVED_TYPES = ("counter", "histogram", "summary")  # summed across processes, so they can be merged

# RerankOutput.stats keys counted as events (summed), by metric name.
_CACHE_HIT_KEYS = ("cache_hit",)
_REPAIR_KEYS = ("repairs_unknown", "repairs_duplicate", "repairs_missing")


def multiprocess_dir() -> Path | None:
    """Where workers write their metrics files (prometheus-client's multiprocess mode), if several run."""
    d = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return Path(d) if d else None


def mark_process_dead() -> None:
    """A worker stopping: its live gauges leave the sums."""
    if multiprocess_dir() is not None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


@contextlib.contextmanager
def _files_lock(folder: Path, mode: int) -> Iterator[None]:
    """Readers (a scrape) share it; `retire` holds it alone while it moves a dead worker's counts."""
    fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, mode)
        yield
    finally:
        os.close(fd)


def collect_all(folder: Path) -> bytes:
    """Every worker's metrics files, summed (the dead workers' counts included), in Prometheus text."""
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    with _files_lock(folder, fcntl.LOCK_SH):
        multiprocess.MultiProcessCollector(registry, path=str(folder))  # type: ignore[no-untyped-call]
        return generate_latest(registry)


def retire(pid: int, folder: Path | None = None) -> int:
    """A worker ended (killed or not): its live gauges leave the sums, and its counters, histograms and
    summaries move into one archive file per type, so /metrics never goes backwards and the folder
    does not grow by a file per metric type for every worker that ever ran. Returns the files merged."""
    folder = folder or multiprocess_dir()
    if folder is None:
        return 0
    from prometheus_client import multiprocess
    from prometheus_client.mmap_dict import MmapedDict

    merged = 0
    with _files_lock(folder, fcntl.LOCK_EX):
        multiprocess.mark_process_dead(pid, str(folder))  # type: ignore[no-untyped-call]
        for kind in ARCHIVED_TYPES:
            dead = folder / f"{kind}_{pid}.db"
            if not dead.is_file():
                continue
            archive = MmapedDict(str(folder / f"{kind}_{ARCHIVE}.db"))  # type: ignore[no-untyped-call]
            try:
                for key, value, timestamp, _ in MmapedDict.read_all_values_from_file(str(dead)):  # type: ignore[no-untyped-call]
                    total, _ = archive.read_value(key)  # type: ignore[no-untyped-call]
                    archive.write_value(key, total + value, timestamp)  # type: ignore[no-untyped-call]
            finally:
                archive.close()  # type: ignore[no-untyped-call]
            dead.unlink()
            merged += 1
    return merged


class Metrics:
    """Every metric the service exports."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "care_http_requests",
            "HTTP requests by route, method and status.",
            ["route", "method", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "care_http_request_duration_seconds",
            "HTTP request latency by route.",
            ["route", "method"],
            buckets=LATENCY_BUCKETS_S,
            registry=r,
        )
        self.inflight = Gauge(
            "care_inflight_requests",
            "Requests in flight (guarded routes).",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.rejected = Counter(
            "care_rejected", "Requests rejected before handling, by reason.", ["reason"], registry=r
        )
        self.stage = Histogram(
            "care_stage_duration_ms",
            "Pipeline stage latency (ms).",
            ["stage"],
            buckets=STAGE_BUCKETS_MS,
            registry=r,
        )
        self.arms = Counter(
            "care_arm_assignments",
            "Recommendations by experiment arm.",
            ["experiment", "arm", "forced"],
            registry=r,
        )
        self.reranker = Counter(
            "care_reranker_used", "Recommendations by re-ranker that answered.", ["reranker"], registry=r
        )
        self.fallbacks = Counter(
            "care_rerank_fallbacks", "Responses whose re-ranker fell back, by reason.", ["reason"], registry=r
        )
        self.cache_hits = Counter(
            "care_rerank_cache_hits", "Responses served from the LLM result cache.", registry=r
        )
        self.repairs = Counter(
            "care_rerank_repairs", "Repairs applied to LLM answers (all kinds).", registry=r
        )
        self.degraded = Counter(
            "care_degraded_responses", "Recommendations served from defaults.", registry=r
        )
        self.events = Counter("care_events_stored", "Events stored, by type.", ["type"], registry=r)
        self.reloads = Counter(
            "care_config_reloads", "Experiments/prompts reloads, by result.", ["result"], registry=r
        )
        self.ab_impressions = Counter(
            "care_ab_impressions",
            "Impressions logged, by experiment and arm.",
            ["experiment", "arm"],
            registry=r,
        )
        self.ab_attributed = Counter(
            "care_ab_attributed_events",
            "Events attributed to an impression, by experiment, arm and type.",
            ["experiment", "arm", "type"],
            registry=r,
        )
        self.ab_unattributed = Counter(
            "care_ab_unattributed_events", "Events no impression explains, by type.", ["type"], registry=r
        )
        self.ab_log_failures = Counter(
            "care_ab_log_failures",
            "Impression-log records lost, by operation (dropped, write, read, record, open).",
            ["op"],
            registry=r,
        )
        self.shown_failures = Counter(
            "care_shown_failures",
            "Answers not kept for impression discounting, by operation (dropped, write).",
            ["op"],
            registry=r,
        )
        self.breaker = Gauge(
            "care_store_breaker_open",
            "1 while the online-store breaker is open or half-open (any worker).",
            registry=r,
            multiprocess_mode="livemax",
        )
        self.breaker_trips = Counter(
            "care_store_breaker_trips", "Times the online-store breaker opened.", registry=r
        )
        self._breaker_state = "closed"
        self.model = Gauge(
            "care_model_loaded",
            "1 for the model and ranker version a worker serves (per worker: pid label).",
            ["model_version", "ranker_version"],
            registry=r,
            multiprocess_mode="liveall",
        )
        self.model_switches = Counter(
            "care_model_switches", "Switches to a new artifacts version, by result.", ["result"], registry=r
        )
        self.ready = Gauge(
            "care_ready",
            "1 when artifacts are loaded and the online store answers (every worker).",
            registry=r,
            multiprocess_mode="livemin",
        )

    def observe_model(self, old: tuple[str, str] | None, model_version: str, ranker_version: str) -> None:
        """The version this worker serves: 1 on its labels, 0 on the one it replaced."""
        if old is not None and old != (model_version, ranker_version):
            self.model.labels(*old).set(0)
        self.model.labels(model_version, ranker_version).set(1)

    def observe_breaker(self, state: str) -> None:
        """The breaker's state change hook (called from any thread)."""
        if state == "open" and self._breaker_state == "closed":
            self.breaker_trips.inc()
        self._breaker_state = state
        self.breaker.set(0 if state == "closed" else 1)

    def observe_recommendation(
        self,
        *,
        experiment: str | None,
        arm: str,
        forced: bool,
        reranker: str,
        fallback_reason: FallbackReason | None,
        degraded: bool,
        timings_ms: Mapping[str, float],
        stats: Mapping[str, float],
    ) -> None:
        self.arms.labels(experiment or "", arm, "true" if forced else "false").inc()
        self.reranker.labels(reranker).inc()
        if fallback_reason:
            self.fallbacks.labels(fallback_reason.value).inc()
        if degraded:
            self.degraded.inc()
        for stage, ms in timings_ms.items():
            self.stage.labels(stage).observe(ms)
        hits = sum(float(stats.get(k, 0.0)) for k in _CACHE_HIT_KEYS)
        if hits > 0:
            self.cache_hits.inc(hits)
        repairs = sum(float(stats.get(k, 0.0)) for k in _REPAIR_KEYS)
        if repairs > 0:
            self.repairs.inc(repairs)
