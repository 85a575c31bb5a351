"""`care bench cluster`: a local 3-master Redis Cluster sized and timed for deploy/README's sizing table.

Memory: used_memory before and after writing synthetic users (batch features + a history of
`history` item ids) and items, per million. Throughput: fetches of 1 user + 500 items, and the
Redis CPU seconds each shard spent on them, so fetches/s one shard's main thread can serve.
"""

from __future__ import annotations

import subprocess
import time

import numpy as np

from cascade.bench.timing import pct, print_table
from cascade.features.online.base import ITEM_DEFAULTS
from cascade.features.online.cluster_local import LocalCluster
from cascade.features.online.redis_cluster import RedisClusterStore
from cascade.features.registry import USER_BATCH


def _info(port: int, field: str) -> float:
    out = subprocess.run(
        ["redis-cli", "-p", str(port), "info"], capture_output=True, text=True, timeout=10
    ).stdout
    for line in out.splitlines():
        if line.startswith(field + ":"):
            return float(line.split(":", 1)[1])
    raise RuntimeError(f"no {field} in INFO of {port}")


def _cpu(port: int) -> float:
    return _info(port, "used_cpu_user") + _info(port, "used_cpu_sys")


def run(users: int = 100_000, items: int = 100_000, history: int = 100, n: int = 2000) -> None:
    rng = np.random.default_rng(0)
    with LocalCluster(masters=3) as cluster:
        store = RedisClusterStore(cluster.url, prefix="bench:")
        mem0 = sum(_info(p, "used_memory") for p in cluster.ports)
        for start in range(0, items, 5000):
            ids = list(range(start + 1, min(items, start + 5000) + 1))
            store.write_items(ids, rng.random((len(ids), len(ITEM_DEFAULTS)), dtype=np.float32))
        mem1 = sum(_info(p, "used_memory") for p in cluster.ports)
        for start in range(0, users, 5000):
            ids = list(range(start + 1, min(users, start + 5000) + 1))
            hist = [rng.integers(1, items, history, dtype=np.int64) for _ in ids]
            store.write_users(ids, rng.random((len(ids), len(USER_BATCH)), dtype=np.float32), hist)
        mem2 = sum(_info(p, "used_memory") for p in cluster.ports)
        queries = [
            (int(rng.integers(1, users)), rng.choice(items, 500, replace=False) + 1) for _ in range(64)
        ]
        for u, it in queries:
            store.fetch(u, it)
        cpu0 = [_cpu(p) for p in cluster.ports]
        times: list[float] = []
        t_all = time.perf_counter()
        for i in range(n):
            u, it = queries[i % len(queries)]
            t0 = time.perf_counter()
            store.fetch(u, it)
            times.append((time.perf_counter() - t0) * 1000.0)
        wall = time.perf_counter() - t_all
        cpu = [_cpu(p) - c for p, c in zip(cluster.ports, cpu0, strict=True)]
        store.close()
    item_mib = (mem1 - mem0) / items * 1e6 / 2**20
    user_mib = (mem2 - mem1) / users * 1e6 / 2**20
    per_shard = [n / c if c > 0 else float("inf") for c in cpu]
    print_table(
        f"Redis Cluster, 3 masters on loopback: {users} users (history {history}), {items} items",
        ["what", "value"],
        [
            ["memory per 1M items (MiB)", f"{item_mib:.0f}"],
            [f"memory per 1M users, history {history} (MiB)", f"{user_mib:.0f}"],
            ["fetch 1 user + 500 items p50 (ms)", f"{pct(times, 50):.2f}"],
            ["fetch p99 (ms)", f"{pct(times, 99):.2f}"],
            ["fetches/s, one client", f"{n / wall:.0f}"],
            ["Redis CPU per fetch, per shard (ms)", ", ".join(f"{c / n * 1000:.3f}" for c in cpu)],
            ["fetches/s one shard's main thread serves", f"{min(per_shard):.0f} (min of {len(cpu)} shards)"],
        ],
    )
