"""`care bench worker-death`: SIGKILL one of `care serve --workers N`'s workers under paced load.

Counted: failed requests, and which of them were in flight on the killed worker (sent on one of its
connections before it died and not answered before the kill); seconds from the kill until the
supervisor's replacement is ready; /metrics scraped through it all (the request counter summed over
workers must never go back, must end at least at the answers the client got, and the dead worker's
files must be gone from the metrics folder; only the requests the dead worker was handling may be
missing from the count).
"""

from __future__ import annotations

import itertools
import os
import re
import signal
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from service.bench.paced import PacedLoad, Sample
from service.bench.runs import emit, redis_prefix
from service.process import ServerProcess

_REQUESTS = re.compile(r'^care_http_requests_total\{[^}]*route="/recommend"[^}]*\} ([0-9.e+]+)$', re.M)


@dataclass
class DeathResult:
    workers: int
    rate_rps: float
    requests: int
    failed: int
    failed_not_in_flight: int  # failures the death does not explain (must be 0)
    in_flight: int  # requests in flight on the killed worker when it died
    victim_connections: int
    restart_s: float  # SIGKILL -> the replacement's ready line
    counter_went_back: int  # scrapes whose summed request counter was below the previous one
    counted: float  # /recommend requests /metrics counts at the end
    answered: int  # /recommend answers the client got (the dead worker's last ones may go uncounted:
    # it counts a request after answering it, and the kill can fall in between)
    dead_files_left: int  # the killed worker's files still in the metrics folder
    t_kill: float = 0.0  # on the load's clock
    t_dead: float = 0.0
    victim_ports: list[int] = field(default_factory=list)

    def ok(self, restart_limit_s: float = 5.0) -> bool:
        return (
            self.failed_not_in_flight == 0
            and self.failed <= self.in_flight
            and self.restart_s <= restart_limit_s
            and self.counter_went_back == 0
            and self.counted + self.in_flight >= self.answered
            and self.dead_files_left == 0
        )


def counted(url: str) -> float:
    """/recommend requests counted by every worker, the dead ones included."""
    return sum(float(v) for v in _REQUESTS.findall(httpx.get(url + "/metrics", timeout=5.0).text))


def _client_ports(worker: psutil.Process, port: int) -> set[int]:
    """The client-side ports of the connections `worker` holds on the service's `port`."""
    return {c.raddr.port for c in worker.net_connections(kind="tcp") if c.laddr.port == port and c.raddr}


def _gone(pid: int) -> bool:
    """Dead, sockets closed: reaped, or a zombie whose every thread has exited. The main thread shows as
    a zombie first; the connections close only when the last thread is gone (on a busy machine, up to
    a second later), and until then a client's request on one of them is lost with the worker."""
    try:
        p = psutil.Process(pid)
        return bool(p.status() == psutil.STATUS_ZOMBIE and p.num_threads() <= 1)
    except psutil.NoSuchProcess:
        return True


def kill_one(server: ServerProcess, load: PacedLoad, metrics_dir: Path, workers: int) -> DeathResult:
    """Kill the worker holding most of `load`'s connections; keep loading until the replacement serves."""
    assert server.proc is not None
    held = {w: _client_ports(w, server.port) for w in psutil.Process(server.proc.pid).children()}
    victim = max(held, key=lambda w: len(held[w]))
    ports = held[victim]
    ready_before = server.output().count("care ready on")
    scrapes = [counted(server.url)]
    stop = threading.Event()

    def scrape() -> None:  # /metrics all along, beside the kill (a scrape must not delay noticing it)
        while not stop.wait(0.2):
            scrapes.append(counted(server.url))

    scraper = threading.Thread(target=scrape, daemon=True)
    scraper.start()
    t_kill, t0 = load.now(), time.monotonic()
    os.kill(victim.pid, signal.SIGKILL)
    while not _gone(victim.pid):
        time.sleep(0.001)
    t_dead = load.now()
    restart_s = float("inf")
    while time.monotonic() - t0 < 60.0:
        if server.output().count("care ready on") > ready_before:
            restart_s = time.monotonic() - t0
            break
        time.sleep(0.01)
    time.sleep(3.0)  # the restarted worker under load too
    samples = load.stop()
    time.sleep(0.5)  # the last answers' counts land after their responses
    stop.set()
    scraper.join()
    scrapes.append(counted(server.url))
    in_flight = [s for s in samples if s.port in ports and s.sent <= t_dead and s.done >= t_kill]
    failed = [s for s in samples if not s.ok]
    return DeathResult(
        workers,
        load.rate,
        len(samples),
        len(failed),
        sum(s not in in_flight for s in failed),
        len(in_flight),
        len(ports),
        restart_s,
        sum(b < a for a, b in itertools.pairwise(scrapes)),
        scrapes[-1],
        sum(s.ok and s.path == "/recommend" for s in samples),
        len(list(metrics_dir.glob(f"*_{victim.pid}.db"))),
        t_kill,
        t_dead,
        sorted(ports),
    )


def failures(samples: list[Sample]) -> list[str]:
    return [
        f"{s.path} status={s.status} port={s.port} sent={s.sent:.3f} done={s.done:.3f} {s.error}"
        for s in samples
        if not s.ok
    ]


def run(
    workers: int = 2,
    rate: float = 40.0,
    warm_s: float = 3.0,
    out: Path | None = None,
    redis_url: str = "redis://127.0.0.1:6379/15",
) -> DeathResult:
    """The bench: a server of `workers` workers on Redis, load at `rate`, one worker killed."""
    from service.bench.service import _wait_workers

    with (
        tempfile.TemporaryDirectory(prefix="care-metrics-") as metrics,
        redis_prefix(redis_url, "death") as p,
    ):
        env = {
            "CARE_REDIS_URL": redis_url,
            "CARE_REDIS_PREFIX": p,
            "CARE_IMPRESSIONS": "off",
            "PROMETHEUS_MULTIPROC_DIR": metrics,
        }
        with ServerProcess(env, args=["--workers", str(workers)]) as server:
            _wait_workers(server, workers)
            load = PacedLoad(server.url, rate, connections=2 * workers + 2).start()
            try:
                time.sleep(warm_s)
                res = kill_one(server, load, Path(metrics), workers)
            finally:
                load.stop()
    emit(res, out)
    return res
