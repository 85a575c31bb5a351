"""`care bench failover`: a Redis Cluster primary SIGKILLed under load, and what an acknowledgement is worth.

A local cluster of 3 primaries and 3 replicas (1 s node timeout) serves `care serve --workers 2`
with CARE_REDIS_MIN_REPLICAS=1: /events acknowledges an event only once a replica holds it (WAIT).
Under paced load with events mixed in, the primary of one user's slot is killed; its replica is
promoted; the killed node is started again and rejoins as a replica. Measured: seconds from the
promotion to the last degraded answer, the degraded share during the failover, server errors,
events acknowledged but not stored (read back per user), and what WAIT costs per event.

`partitioned_writes` makes the loss WAIT prevents happen on purpose rather than by luck: the
replica is frozen and cut off from its primary, events are written, the primary is killed, the
replica resumes and is promoted without them. Acknowledged without WAIT, they are gone; with WAIT
they are refused (503) instead of acknowledged.
"""

from __future__ import annotations

import signal
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
import numpy as np

from cascade.features.online.base import NotReplicated, StoreUnavailable
from cascade.features.online.cluster_local import LocalCluster
from cascade.features.online.redis_cluster import RedisClusterStore
from cascade.features.session import Event
from service.bench.paced import N_USERS, PacedLoad, Sample, mixed
from service.bench.runs import emit
from service.process import ServerProcess

NODE_TIMEOUT_MS = 1000


def cli(port: int, *args: str) -> str:
    r = subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True, text=True, timeout=10)
    return r.stdout.strip()


@dataclass(frozen=True)
class Shard:
    """A primary and its replica, by port."""

    primary: int
    replica: int


def shard_of(cluster: LocalCluster, key: str) -> Shard:
    """The primary that holds `key` now, and its replica (from CLUSTER NODES of a live node)."""
    live = next(p for p in cluster.ports if cli(p, "ping") == "PONG")
    slot = int(cli(live, "cluster", "keyslot", key))
    rows = [line.split() for line in cli(live, "cluster", "nodes").splitlines()]
    port_of = {r[0]: int(r[1].split(":")[1].split("@")[0]) for r in rows}
    for r in rows:
        if "master" not in r[2] or "fail" in r[2]:
            continue
        for part in r[8:]:
            lo, _, hi = part.partition("-")
            if part[0].isdigit() and int(lo) <= slot <= int(hi or lo):
                replica = next(port_of[x[0]] for x in rows if x[3] == r[0] and "fail" not in x[2])
                return Shard(port_of[r[0]], replica)
    raise RuntimeError(f"no live primary holds slot {slot}")


def user_on(store: RedisClusterStore, cluster: LocalCluster, primary: int, skip: int = 0) -> int:
    """A user id whose keys the given primary holds (the `skip`-th such user)."""
    for u in range(1, N_USERS + 1):
        if shard_of(cluster, store.user_key(u, "s")).primary == primary:
            if skip == 0:
                return u
            skip -= 1
    raise RuntimeError(f"no user on {primary}")


def wait_promoted(port: int, limit_s: float = 30.0) -> float:
    """Blocks until the node on `port` reports itself a primary; returns time.monotonic() then."""
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        if cli(port, "role").startswith("master"):
            return time.monotonic()
        time.sleep(0.01)
    raise RuntimeError(f"{port} was not promoted within {limit_s} s")


def wait_synced(port: int, limit_s: float = 60.0) -> None:
    """Blocks until the node on `port` is a replica with its link to the primary up."""
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        if "master_link_status:up" in cli(port, "info", "replication"):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{port} did not sync as a replica within {limit_s} s")


def plays(cluster: LocalCluster, prefix: str, user: int) -> int:
    """Play events the cluster holds for `user` under `prefix` (the session hash's counter)."""
    port = shard_of(cluster, f"{prefix}{{u{user}}}:s").primary
    return int(cli(port, "hget", f"{prefix}{{u{user}}}:s", "n:play") or 0)


def post_event(url: str, user: int) -> bool:
    """One play through the service's /events; True if acknowledged (200)."""
    body = {"user_id": user, "item_id": 1, "type": "play"}
    return httpx.post(url + "/events", json=body, timeout=10.0).status_code == 200


def event(user: int, item: int = 1) -> Event:
    return Event(user, item, "play", time.time())


def recover(cluster: LocalCluster, shard: Shard) -> None:
    """The killed primary starts again and syncs as the promoted replica's replica."""
    cluster.restart(shard.primary)
    wait_synced(shard.primary)


def partitioned_writes(
    cluster: LocalCluster, shard: Shard, write: Callable[[], bool], n: int = 3
) -> tuple[int, float]:
    """Freeze the shard's replica, cut its link, `write` n times (True: acknowledged), kill the primary,
    resume the replica until it is promoted; returns (acknowledged, promotion time). The writes never
    reached the replica, so any acknowledged one is lost unless the acknowledgement waited for it."""
    cluster.kill(shard.replica, signal.SIGSTOP)
    try:
        cli(shard.primary, "client", "kill", "type", "replica")  # the frozen replica cannot reconnect
        acked = sum(write() for _ in range(n))
        cluster.kill(shard.primary, signal.SIGKILL)
    finally:
        cluster.kill(shard.replica, signal.SIGCONT)
    return acked, wait_promoted(shard.replica)


def store_write(store: RedisClusterStore, user: int) -> Callable[[], bool]:
    """One play event through `store`; True if it was acknowledged (no exception)."""

    def write() -> bool:
        try:
            store.record_event(event(user), 0, True)
        except (NotReplicated, StoreUnavailable):
            return False
        return True

    return write


def wait_cost(cluster: LocalCluster, n: int = 500) -> dict[str, float]:
    """record_event latency (ms) without and with WAIT for one replica, same cluster, same user."""
    out: dict[str, float] = {}
    for replicas in (0, 1):
        store = RedisClusterStore(cluster.url, prefix="care-bench-wait:", min_replicas=replicas)
        try:
            times = []
            for i in range(n + 50):
                t0 = time.perf_counter()
                store.record_event(event(1 + i % 50), 0, True)
                if i >= 50:
                    times.append((time.perf_counter() - t0) * 1000.0)
            out[f"p50_ms_wait{replicas}"] = float(np.percentile(times, 50))
            out[f"p99_ms_wait{replicas}"] = float(np.percentile(times, 99))
        finally:
            store.delete_prefix()
            store.close()
    return out


@dataclass
class FailoverResult:
    requests: int
    recommend_failed: int  # /recommend answers other than 200 (must be 0: degraded, never failed)
    server_errors: int  # 5xx other than /events' 503 (must be 0)
    events_acked: int
    events_refused: int  # 503: not acknowledged (the client retries)
    events_lost: int  # acknowledged but not stored (must be 0)
    kill_to_promotion_s: float
    recovery_s: float  # promotion -> the last degraded /recommend answer (target <= 5)
    degraded_share: float  # degraded /recommend answers between the kill and the recovery
    degraded: int


def judge(
    samples: list[Sample], stored: Callable[[int], int], t_kill: float, t_promoted: float
) -> FailoverResult:
    """The run's figures from the driver's samples; `stored(user)` reads a user's play count back."""
    rec = [s for s in samples if s.path == "/recommend"]
    evs = [s for s in samples if s.path == "/events"]
    bad = [s for s in rec if s.status != 200 or (s.body or {}).get("degraded")]
    last_bad = max((s.sent for s in bad), default=t_promoted)
    window = [s for s in rec if t_kill <= s.sent <= max(last_bad, t_kill)]
    acked: Counter[int] = Counter(1 + s.i % N_USERS for s in evs if s.status == 200)
    lost = sum(max(0, n - stored(u)) for u, n in acked.items())
    server = [s for s in samples if s.status >= 500 and not (s.path == "/events" and s.status == 503)]
    return FailoverResult(
        len(samples),
        sum(s.status != 200 for s in rec),
        len(server),
        sum(acked.values()),
        sum(s.status == 503 for s in evs),
        lost,
        t_promoted - t_kill,
        max(0.0, last_bad - t_promoted),
        len([s for s in window if (s.body or {}).get("degraded")]) / max(1, len(window)),
        len(bad),
    )


def under_load(
    cluster: LocalCluster, url: str, prefix: str, rate: float, user: int = 1, settle_s: float = 6.0
) -> FailoverResult:
    """Paced load with one event in four; the primary of `user`'s slot killed after 3 s, started again
    once its replica is promoted; the load runs `settle_s` past the promotion."""
    shard = shard_of(cluster, f"{prefix}{{u{user}}}:s")
    load = PacedLoad(url, rate, mixed(4), connections=4).start()
    try:
        time.sleep(3.0)
        t_kill, t0 = load.now(), time.monotonic()
        cluster.kill(shard.primary)
        t_promoted = t_kill + (wait_promoted(shard.replica) - t0)
        recover(cluster, shard)
        time.sleep(max(0.0, settle_s - (load.now() - t_promoted)))
    finally:
        samples = load.stop()
    return judge(samples, lambda u: plays(cluster, prefix, u), t_kill, t_promoted)


def guarantee(cluster: LocalCluster, prefix: str, min_replicas: int, n: int = 3) -> dict[str, int]:
    """`partitioned_writes` through a store with `min_replicas`: events acknowledged, and stored after."""
    store = RedisClusterStore(cluster.url, prefix=prefix, min_replicas=min_replicas)
    try:
        user = 1 + min_replicas  # two users, so each run reads back its own
        shard = shard_of(cluster, store.user_key(user, "s"))
        acked, _ = partitioned_writes(cluster, shard, store_write(store, user), n)
        recover(cluster, shard)
        return {"written": n, "acked": acked, "stored": plays(cluster, prefix, user)}
    finally:
        store.close()


def run(rate: float = 20.0, workers: int = 2, out: Path | None = None) -> dict[str, object]:
    """The bench: WAIT's cost, the failover under load, then the guarantee with and without WAIT."""
    prefix = f"care-bench-failover-{uuid.uuid4().hex[:8]}:"
    with LocalCluster(3, replicas=1, node_timeout_ms=NODE_TIMEOUT_MS) as cluster:
        cost = wait_cost(cluster)
        env = {
            "CARE_REDIS_URL": cluster.url,
            "CARE_REDIS_CLUSTER": "true",
            "CARE_REDIS_MIN_REPLICAS": "1",
            "CARE_REDIS_PREFIX": prefix,
            "CARE_IMPRESSIONS": "off",
        }
        with ServerProcess(env, args=["--workers", str(workers)]) as server:
            from service.bench.service import _wait_workers

            _wait_workers(server, workers)
            res = under_load(cluster, server.url, prefix, rate)
        checks = {f"wait_{r}": guarantee(cluster, prefix + f"g{r}:", r) for r in (0, 1)}
    report: dict[str, object] = {"failover": asdict(res), "wait_cost": cost, "guarantee": checks}
    emit(report, out)
    return report
