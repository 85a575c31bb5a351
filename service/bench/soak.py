"""`care bench soak`: hours of traffic in minutes: paced load on `care serve --workers 2` over Redis.

Poisson arrivals at a share of the measured capacity (default 60%), one event in five, the impression
log on (a Redis Stream beside the store). Every 10 s: each worker's RSS (and USS, its own pages), the
impression log's length and bytes, Redis memory and the load average. Per minute: p50 and p99 (from
each request's scheduled start) and errors. Targets: RSS growth <= 5% per worker from minute 5 to the
end, the last 5 minutes' p99 within 1.2x the first 5 minutes', no error.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import redis

from service.bench.paced import PacedLoad, Sample, capacity, mixed
from service.bench.runs import emit, redis_prefix
from service.process import ServerProcess

PROBE_S = 10.0
EVENTS_EVERY = 5


@dataclass
class Probe:
    t: float  # seconds since the load started
    rss_mib: dict[str, float]  # per worker pid
    uss_mib: dict[str, float]
    log_entries: int  # impressions + outcomes in the log's streams
    log_mib: float
    redis_mib: float
    load1: float


@dataclass
class Minute:
    minute: int
    requests: int
    errors: int
    p50_ms: float
    p99_ms: float


@dataclass
class SoakResult:
    minutes: float
    capacity_rps: float
    rate_rps: float
    requests: int
    errors: int
    rss_growth: dict[str, float]  # per worker: RSS at the end / RSS at the start of the window - 1
    p99_first_ms: float
    p99_last_ms: float
    load_avg: tuple[float, float]  # mean and max of the 1-minute load average over the run
    log_entries: int
    log_mib: float
    per_minute: list[Minute] = field(default_factory=list)
    probes: list[Probe] = field(default_factory=list)

    def verdict(self) -> dict[str, bool]:
        return {
            "rss_growth<=5%": all(g <= 0.05 for g in self.rss_growth.values()),
            "p99_last<=1.2x_first": self.p99_last_ms <= 1.2 * self.p99_first_ms,
            "no_errors": self.errors == 0,
        }


def probe(t: float, server_pid: int, r: redis.Redis[bytes], prefix: str) -> Probe:
    rss: dict[str, float] = {}
    uss: dict[str, float] = {}
    for w in psutil.Process(server_pid).children():
        try:
            mem = w.memory_full_info()
        except psutil.NoSuchProcess:
            continue
        rss[str(w.pid)], uss[str(w.pid)] = mem.rss / 2**20, mem.uss / 2**20
    keys = (f"{prefix}ab:imp", f"{prefix}ab:out")
    entries = sum(int(r.xlen(k)) for k in keys)
    size = sum(int(r.memory_usage(k) or 0) for k in keys)
    used = int(r.info("memory")["used_memory"])
    return Probe(t, rss, uss, entries, size / 2**20, used / 2**20, os.getloadavg()[0])


def per_minute(samples: list[Sample], minutes: float) -> list[Minute]:
    """Whole minutes only (the run's last partial one would be a handful of requests)."""
    out = []
    for m in range(int(minutes)):
        got = [s for s in samples if m * 60 <= s.due < (m + 1) * 60]
        lat = [s.latency_ms for s in got if s.ok] or [float("nan")]
        out.append(
            Minute(
                m,
                len(got),
                sum(not s.ok for s in got),
                float(np.percentile(lat, 50)),
                float(np.percentile(lat, 99)),
            )
        )
    return out


def summarize(
    samples: list[Sample], probes: list[Probe], minutes: float, cap: float, rate: float
) -> SoakResult:
    """The targets' figures: windows of 5 minutes (a third of the run when it is shorter than 15)."""
    span = minutes * 60.0
    window = min(300.0, span / 3)
    first = [s.latency_ms for s in samples if s.ok and s.due < window]
    last = [s.latency_ms for s in samples if s.ok and s.due >= span - window]
    growth: dict[str, float] = {}
    start = [p for p in probes if p.t >= window]
    for pid in start[0].rss_mib if start else {}:
        mine = [p.rss_mib[pid] for p in start if pid in p.rss_mib]
        growth[pid] = mine[-1] / mine[0] - 1.0
    loads = [p.load1 for p in probes] or [0.0]
    end = probes[-1] if probes else None
    return SoakResult(
        minutes,
        cap,
        rate,
        len(samples),
        sum(not s.ok for s in samples),
        growth,
        float(np.percentile(first, 99)) if first else float("nan"),
        float(np.percentile(last, 99)) if last else float("nan"),
        (float(np.mean(loads)), float(np.max(loads))),
        end.log_entries if end else 0,
        end.log_mib if end else 0.0,
        per_minute(samples, minutes),
        probes,
    )


def plot(res: SoakResult, path: Path) -> None:
    """RSS per worker, p50/p99 per minute and the load average over the run, one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(2, 1, figsize=(9, 7), sharex=True)
    minutes = [p.t / 60 for p in res.probes]
    for pid in sorted({pid for p in res.probes for pid in p.rss_mib}):
        pts = [(p.t / 60, p.rss_mib[pid]) for p in res.probes if pid in p.rss_mib]
        a.plot([x for x, _ in pts], [y for _, y in pts], label=f"worker {pid} RSS")
    a.set_ylabel("MiB")
    a.set_title(
        f"care bench soak: {res.rate_rps:.0f} req/s ({res.rate_rps / res.capacity_rps:.0%} of capacity), "
        f"2 workers, Redis, 1 event in {EVENTS_EVERY}"
    )
    a.legend(loc="lower right")
    ax = a.twinx()
    ax.plot(minutes, [p.log_mib for p in res.probes], "k:", label="impression log MiB")
    ax.set_ylabel("impression log MiB")
    mids = [m.minute + 0.5 for m in res.per_minute]
    b.plot(mids, [m.p50_ms for m in res.per_minute], "o-", label="p50")
    b.plot(mids, [m.p99_ms for m in res.per_minute], "o-", label="p99")
    b.set_ylabel("ms (from scheduled start)")
    b.set_xlabel("minute")
    bx = b.twinx()
    bx.plot(minutes, [p.load1 for p in res.probes], color="grey", alpha=0.5, label="load average (1 min)")
    bx.set_ylabel("load average")
    b.legend(loc="upper left")
    bx.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def soak(
    server: ServerProcess,
    minutes: float,
    rate: float | None,
    share: float,
    r: redis.Redis[bytes],
    prefix: str,
) -> SoakResult:
    """Capacity (closed loop, 10 s), then paced load at `rate` (default `share` of it) for `minutes`."""
    assert server.proc is not None
    cap = capacity(server.url, 10.0, 8, mixed(EVENTS_EVERY))
    target = rate if rate is not None else share * cap
    print(f"capacity {cap:.0f} req/s; soak at {target:.1f} req/s for {minutes:g} min", flush=True)
    probes: list[Probe] = []
    with PacedLoad(server.url, target, mixed(EVENTS_EVERY), connections=8, keep_body=False) as load:
        end = time.monotonic() + minutes * 60.0
        while time.monotonic() < end:
            probes.append(probe(load.now(), server.proc.pid, r, prefix))
            time.sleep(min(PROBE_S, max(0.0, end - time.monotonic())))
        probes.append(probe(load.now(), server.proc.pid, r, prefix))
    return summarize(load.samples, probes, minutes, cap, target)


def run(
    minutes: float = 30.0,
    rate: float | None = None,
    share: float = 0.6,
    workers: int = 2,
    out: Path = Path("soak"),
    redis_url: str = "redis://127.0.0.1:6379/15",
) -> SoakResult:
    """The bench; writes `out`.json and `out`.png."""
    from service.bench.service import _wait_workers

    r = redis.Redis.from_url(redis_url)
    try:
        with redis_prefix(redis_url, "soak") as prefix:
            env = {"CARE_REDIS_URL": redis_url, "CARE_REDIS_PREFIX": prefix, "CARE_IMPRESSIONS": "redis"}
            with ServerProcess(env, args=["--workers", str(workers)]) as server:
                _wait_workers(server, workers)
                res = soak(server, minutes, rate, share, r, prefix)
    finally:
        r.close()
    report: dict[str, Any] = {**asdict(res), "verdict": res.verdict()}
    out.with_suffix(".json").write_text(json.dumps(report, indent=2))
    plot(res, out.with_suffix(".png"))
    emit({k: v for k, v in report.items() if k not in ("probes", "per_minute")})
    return res
