"""`care bench add-items --n N`: N POST /items into a running `care serve`, with the server's memory and
/recommend p50 before and after, and every answer checked (0 server errors is the floor).

Each item is played by a user and named in a session right after it is added, so the loop walks the
cold-start path end to end, not just the catalog append.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from cascade.paths import artifacts_dir
from service.bench.items import serve_env
from service.process import ServerProcess

FIRST_ID = 1_000_000
GENRE_CYCLE = (["Sci-Fi", "Action"], ["Drama"], ["Comedy", "Romance"], ["Horror", "Thriller"], ["Children's"])


@dataclass(frozen=True)
class Phase:
    rss_mib: float
    recommend_p50_ms: float
    recommend_p99_ms: float


@dataclass(frozen=True)
class AddItemsBench:
    n: int
    before: Phase
    after: Phase
    add_p50_ms: float  # POST /items, client-side
    seconds: float  # the whole loop
    errors: list[str]  # any answer other than the expected status (5xx included)


def _recommend_phase(c: httpx.Client, server: ServerProcess, requests: int, errors: list[str]) -> Phase:
    lat: list[float] = []
    for j in range(requests):
        t0 = time.perf_counter()
        r = c.post("/recommend", json={"user_id": 1 + j % 900, "k": 10, "arm": "rules"})
        lat.append((time.perf_counter() - t0) * 1000.0)
        if r.status_code != 200:
            errors.append(f"recommend: {r.status_code} {r.text[:120]}")
    lat.sort()
    return Phase(server.rss_kib() / 1024.0, statistics.median(lat), lat[int(0.99 * (len(lat) - 1))])


def run(
    n: int = 10_000, requests: int = 300, artifacts: Path | None = None, every: int = 1000
) -> AddItemsBench:
    """Start the service (in-process store, rules arm), measure, add n items, measure again."""
    errors: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        env = serve_env(artifacts or artifacts_dir(), Path(tmp))
        with ServerProcess(env) as server, httpx.Client(base_url=server.url, timeout=60) as c:
            _recommend_phase(c, server, 50, errors)  # warm-up
            before = _recommend_phase(c, server, requests, errors)
            print(
                f"before: RSS {before.rss_mib:,.0f} MiB, recommend p50 {before.recommend_p50_ms:.2f} ms",
                flush=True,
            )
            adds: list[float] = []
            start = time.perf_counter()
            for j in range(n):
                item_id = FIRST_ID + j
                body = {"item_id": item_id, "title": f"Bench item {j}", "year": 1990 + j % 30}
                t0 = time.perf_counter()
                r = c.post("/items", json={**body, "genres": GENRE_CYCLE[j % len(GENRE_CYCLE)]})
                adds.append((time.perf_counter() - t0) * 1000.0)
                if r.status_code != 201:
                    errors.append(f"POST /items {item_id}: {r.status_code} {r.text[:120]}")
                if j % 10 == 0:  # played, then recommended around: the path that once broke
                    ev = c.post("/events", json={"user_id": 1 + j % 900, "item_id": item_id, "type": "play"})
                    rec = c.post(
                        "/recommend",
                        json={"user_id": 1 + j % 900, "k": 10, "context": {"session_items": [item_id]}},
                    )
                    errors += [f"{what}: {r.status_code}" for what, r in (("event", ev), ("recommend", rec))
                               if r.status_code != 200]  # fmt: skip
                if every and (j + 1) % every == 0:
                    rss = server.rss_kib() / 1024.0
                    print(
                        f"  {j + 1:>6} added  {time.perf_counter() - start:7.1f} s  RSS {rss:,.0f} MiB",
                        flush=True,
                    )
            seconds = time.perf_counter() - start
            after = _recommend_phase(c, server, requests, errors)
    result = AddItemsBench(n, before, after, statistics.median(adds) if adds else 0.0, seconds, errors)
    grew = after.rss_mib - before.rss_mib
    print(f"after {n} items: RSS {after.rss_mib:,.0f} MiB (+{grew:,.0f})")
    print(f"  /recommend p50 {before.recommend_p50_ms:.2f} -> {after.recommend_p50_ms:.2f} ms")
    print(f"  /recommend p99 {before.recommend_p99_ms:.2f} -> {after.recommend_p99_ms:.2f} ms")
    print(f"  POST /items p50 {result.add_p50_ms:.2f} ms; {len(errors)} errors")
    for e in errors[:5]:
        print("  error:", e)
    return result
