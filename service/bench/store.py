"""`care bench store`: /recommend over HTTP while Redis is slow, not dead (a loopback proxy holds replies).

Phases against one `care serve` whose store sits behind the proxy: healthy, slow (every reply held
`--delay-ms`, far past the store timeout), then the proxy answers again and the bench times how long
until a response is no longer degraded (recovery) and /readyz says 200 again.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import numpy as np

from cascade.features.online.redis_store import RedisStore
from cascade.proxy import DelayProxy
from service.bench.driver import LoadResult, drive
from service.process import ServerProcess

BODY = {"user_id": 1, "k": 10, "arm": "rules"}


def _row(label: str, r: LoadResult) -> str:
    c = np.asarray(r.client_ms) if r.client_ms else np.zeros(1)
    s = np.asarray(r.server_ms) if r.server_ms else np.zeros(1)
    return (
        f"{label:10s} {r.n / r.wall_s:8.1f} {np.percentile(c, 50):8.2f} {np.percentile(c, 99):8.2f} "
        f"{np.max(c):8.2f} {np.percentile(s, 50):8.2f} {r.degraded:9d} {r.errors:7d}"
    )


def _recovery(url: str, limit_s: float = 30.0) -> tuple[float, float]:
    """Seconds until /recommend is not degraded, and until /readyz says 200 (from now)."""
    t0 = time.monotonic()
    answered = ready = float("nan")
    with httpx.Client(base_url=url, timeout=10.0) as c:
        while time.monotonic() - t0 < limit_s and (answered != answered or ready != ready):
            if answered != answered and not c.post("/recommend", json=BODY).json()["degraded"]:
                answered = time.monotonic() - t0
            if ready != ready and c.get("/readyz").status_code == 200:
                ready = time.monotonic() - t0
            time.sleep(0.005)
    return answered, ready


def run(
    requests: int = 1000,
    concurrency: int = 1,
    delay_ms: float = 1000.0,
    redis_url: str = "redis://127.0.0.1:6379/15",
) -> None:
    """Print p50/p99 healthy and with a slow store, and the recovery time once it answers again."""
    host_port = redis_url.split("//", 1)[1].split("/", 1)
    host, port = host_port[0].rsplit(":", 1)
    db = host_port[1] if len(host_port) > 1 else "0"
    prefix = f"care-bench-store-{uuid.uuid4().hex[:8]}:"
    direct = RedisStore(redis_url, prefix=prefix)
    with DelayProxy(host, int(port)) as proxy:
        env = {"CARE_REDIS_URL": f"{proxy.url}/{db}", "CARE_REDIS_PREFIX": prefix}
        try:
            with ServerProcess(env) as server:
                timeout_ms = 250.0  # the default CARE_REDIS_SOCKET_TIMEOUT_S, unless set in the env
                print(
                    f"care bench store: {requests} requests per phase, concurrency {concurrency}, "
                    f"store replies held {delay_ms:.0f} ms in the slow phase",
                    flush=True,
                )
                asyncio.run(drive(server.url, "rules", 200, concurrency, "warmup"))
                healthy = asyncio.run(drive(server.url, "rules", requests, concurrency, "healthy"))
                proxy.delay_s = delay_ms / 1000.0
                slow = asyncio.run(drive(server.url, "rules", requests, concurrency, "slow"))
                proxy.delay_s = 0.0
                answered, ready = _recovery(server.url)
                trips = [ln for ln in server.output().splitlines() if "breaker opened" in ln]
        finally:
            direct.delete_prefix()
            direct.close()
    print(
        f"{'phase':10s} {'req/s':>8s} {'p50 ms':>8s} {'p99 ms':>8s} {'max ms':>8s} {'srv p50':>8s} "
        f"{'degraded':>9s} {'errors':>7s}"
    )
    print(_row("healthy", healthy))
    print(_row("slow", slow))
    s = np.asarray(slow.client_ms) if slow.client_ms else np.zeros(1)
    print(
        f"\nslow store: p50 {np.percentile(s, 50):.2f} ms (target <= 20), p99 {np.percentile(s, 99):.2f} ms "
        f"(target <= store timeout {timeout_ms:.0f} + 100); breaker opened {len(trips)} time(s)\n"
        f"recovery after the store answers: responses not degraded in {answered:.3f} s, "
        f"/readyz 200 in {ready:.3f} s (target <= 2)"
    )
