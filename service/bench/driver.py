"""A Python HTTP driver for /recommend (used by `care bench store`); `care bench service` drives with wrk."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx
import numpy as np

N_USERS = 943


@dataclass
class LoadResult:
    label: str
    n: int
    wall_s: float
    client_ms: list[float] = field(default_factory=list)
    server_ms: list[float] = field(default_factory=list)
    errors: int = 0
    degraded: int = 0
    reasons: Counter[str] = field(default_factory=Counter)

    def row(self) -> str:
        c = np.asarray(self.client_ms) if self.client_ms else np.zeros(1)
        s = np.asarray(self.server_ms) if self.server_ms else np.zeros(1)
        outside = 1.0 - float(s.mean()) / float(c.mean()) if c.mean() > 0 else 0.0
        reasons = ", ".join(f"{k}:{v}" for k, v in self.reasons.most_common()) or "-"
        return (
            f"{self.label:28s} {self.n / self.wall_s:8.1f} {np.percentile(c, 50):8.2f} "
            f"{np.percentile(c, 99):8.2f} {np.percentile(s, 50):8.2f} {outside:8.1%} "
            f"{self.errors:6d}  {reasons}"
        )


HEADER = (
    f"{'arm (execution)':28s} {'req/s':>8s} {'p50 ms':>8s} {'p99 ms':>8s} {'srv p50':>8s} {'outside':>8s} "
    f"{'errors':>6s}  reranker/fallback"
)


async def drive(url: str, arm: str, n: int, concurrency: int, label: str, offset: int = 0) -> LoadResult:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30.0) as client:
        queue = iter(range(n))
        res = LoadResult(label, n, 0.0)

        async def worker() -> None:
            for i in queue:
                body = {
                    "user_id": 1 + (offset + i) % N_USERS,
                    "k": 10,
                    "context": {"playlist_title": "90s thrillers"},
                    "arm": arm,
                }
                t0 = time.perf_counter()
                try:
                    r = await client.post("/recommend", json=body)
                except httpx.HTTPError:
                    res.errors += 1
                    continue
                dt = (time.perf_counter() - t0) * 1000.0
                if r.status_code != 200:
                    res.errors += 1
                    continue
                data = r.json()
                res.client_ms.append(dt)
                res.server_ms.append(float(data["timings_ms"].get("total", 0.0)))
                res.degraded += bool(data["degraded"])
                res.reasons[f"{data['reranker_used']}/{data['fallback_reason'] or 'ok'}"] += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        res.wall_s = time.perf_counter() - t0
        return res
