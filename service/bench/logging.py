"""The impression log's cost on /recommend: two servers, logging off and on, driven in alternating rounds.

Both servers run at once and the rounds alternate (off, on, off, on, ...), so load from other jobs on
the machine falls on both alike; the p50 difference at one connection is the number the target is on.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from cascade.impressions import delete_prefix
from service.bench.driver import drive
from service.process import ServerProcess

TARGET_MS = 0.2


def overhead(
    backend: str, requests: int, rounds: int = 5, redis_url: str = "redis://127.0.0.1:6379/15"
) -> tuple[float, float]:
    """(p50 off, p50 on) in ms for the rules arm at concurrency 1."""
    prefix = f"care-bench-log-{uuid.uuid4().hex[:8]}:"
    with tempfile.TemporaryDirectory(prefix="care-bench-log-") as tmp:
        base = {"CARE_IMPRESSIONS_PATH": str(Path(tmp) / "impressions.sqlite"), "CARE_REDIS_URL": ""}
        if backend == "redis":
            base = {**base, "CARE_REDIS_URL": redis_url, "CARE_REDIS_PREFIX": prefix}
        off_ms: list[float] = []
        on_ms: list[float] = []
        try:
            with (
                ServerProcess({**base, "CARE_IMPRESSIONS": "off"}) as off,
                ServerProcess({**base, "CARE_IMPRESSIONS": backend}) as on,
            ):
                for srv in (off, on):
                    asyncio.run(drive(srv.url, "rules", 200, 1, "warmup", offset=500))
                per = max(1, requests // rounds)
                for r in range(rounds):
                    for srv, acc in ((off, off_ms), (on, on_ms)):
                        res = asyncio.run(drive(srv.url, "rules", per, 1, "x", offset=r * per))
                        acc.extend(res.client_ms)
        finally:
            if backend == "redis":
                delete_prefix(redis_url, prefix)
    return statistics.median(off_ms), statistics.median(on_ms)


def record_cost(n: int = 20_000) -> tuple[float, float]:
    """p50 and p99 (microseconds) of what a /recommend pays to log: `Tracker.record`, SQLite sink."""
    from cascade.impressions import SqliteImpressionLog
    from cascade.pipeline import Recommendation
    from cascade.types import ItemText
    from service.metrics import Metrics
    from service.tracking import Tracker

    items = [(ItemText(i, f"title {i}", 1995, ("Drama",)), 1.0) for i in range(1, 11)]
    rec = Recommendation(items, "rules", "rules", None, False, {"total": 2.0, "rerank": 0.3}, [])
    with tempfile.TemporaryDirectory(prefix="care-bench-log-") as tmp:
        tracker = Tracker(SqliteImpressionLog(Path(tmp) / "i.sqlite"), Metrics(), 1800.0, n + 1)
        costs = []
        for i in range(n):
            t0 = time.perf_counter_ns()
            tracker.record(f"r{i}", i % 943, "rerank-v1", False, rec)
            costs.append((time.perf_counter_ns() - t0) / 1000.0)
        tracker.recorder.flush(30.0)
        tracker.close()
    costs.sort()
    return costs[len(costs) // 2], costs[int(len(costs) * 0.99)]


def run(requests: int = 2000, redis_url: str = "redis://127.0.0.1:6379/15") -> None:
    p50, p99 = record_cost()
    print(
        f"\nimpression logging on the request path (Tracker.record, in process): p50 {p50:.1f} us, "
        f"p99 {p99:.1f} us (target: <= 200 us added to /recommend p50)"
    )
    print(f"impression logging, rules arm, concurrency 1, {requests} requests per server, alternating")
    print(f"{'log backend':12s} {'p50 off':>9s} {'p50 on':>9s} {'added':>9s}")
    for backend in ("sqlite", "redis"):
        p_off, p_on = overhead(backend, requests, redis_url=redis_url)
        added = p_on - p_off
        verdict = "met" if added <= TARGET_MS else "MISSED"
        print(f"{backend:12s} {p_off:9.3f} {p_on:9.3f} {added:+9.3f}  target <= {TARGET_MS} ms: {verdict}")
