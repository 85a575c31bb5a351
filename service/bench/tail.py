"""`care bench service --tail`: capacity and tail latency by connection count, closed loop and paced.

Paced load is wrk with a Lua schedule (wrk2's method): one connection per wrk thread, exponential gaps
with mean connections / rate, so arrivals are Poisson and never come in bursts. Latency counts from
the scheduled start when a request had to wait for its connection's previous answer (no coordinated
omission), else from the moment it was sent (a timer firing late is the client's lateness, not the
server's). The served rate is the completed requests over the run's length, against the offered one.

Every figure is the median of `repeat` runs with its range. The machine's speed drifts within minutes
(the same request's in-process p50 has moved by half within one run), so every ratio pairs an HTTP run
with a reference taken just before it: the in-process p50 of the same request (service.bench.service.
InProcess) for the compute limit and the HTTP cost, and for a paced run, the capacity (16 connections)
that sets its rate and the 1-connection p50 its p99 is read against. The spread of the in-process
references is printed as the machine's drift over the invocation.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cascade.cores import usable_cores
from cascade.features.online.redis_store import RedisStore
from service.bench.service import (
    LUA,
    REDIS_URL,
    InProcess,
    WrkResult,
    _wait_workers,
    child_pids,
    wrk,
)
from service.front import find_binary
from service.process import ServerProcess

REF_N = 300  # in-process requests timed beside each HTTP run (about a second)
PROBE_S = 3.0  # seconds of the 1-connection probe beside each paced run (its capacity probe: a full run)

PACED_LUA = r"""
local ffi = require("ffi")
ffi.cdef[[ typedef struct { long tv_sec; long tv_nsec; } care_ts; int clock_gettime(int, care_ts *); ]]
local ts = ffi.new("care_ts")
local function now_ms()
  ffi.C.clock_gettime(1, ts)  -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000.0 + tonumber(ts.tv_nsec) / 1e6
end
local threads = {}
function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end
id = 0
lat = {}
bad = 0
local gap_ms, due, start, queued, n = 100.0, nil, 0, false, 0
function init(args)
  gap_ms = tonumber(args[1])
  math.randomseed(tonumber(args[2]) * 100003 + id)
  n = id * 7919
end
function delay()  -- before every request: the next arrival of this connection's Poisson process
  local t = now_ms()
  if due == nil then due = t end  -- a Poisson process from the start: its first gap is exponential too
  due = due + (-math.log(1.0 - math.random()) * gap_ms)
  local d = due - t
  queued = d <= 0
  if queued then return 0 end
  return math.ceil(d)
end
function request()
  n = n + 1
  start = queued and due or now_ms()
  local body = string.format(
    '{"user_id": %d, "k": 10, "arm": "rules", "context": {"playlist_title": "90s thrillers"}}', n % 943 + 1)
  return wrk.format("POST", "/recommend", {["Content-Type"] = "application/json"}, body)
end
function response(status, headers, body)
  lat[#lat + 1] = now_ms() - start
  if status ~= 200 then bad = bad + 1 end
end
function done(summary, latency, requests)
  local all, nbad = {}, 0
  for _, t in ipairs(threads) do
    for _, v in ipairs(t:get("lat")) do all[#all + 1] = v end
    nbad = nbad + t:get("bad")
  end
  table.sort(all)
  local function q(p) return all[math.max(1, math.ceil(#all * p))] or 0 end
  io.write(string.format("PACED n=%d bad=%d p50=%.3f p99=%.3f dur_s=%.3f timeouts=%d\n",
    #all, nbad, q(0.5), q(0.99), summary.duration / 1e6, summary.errors.timeout))
end
"""


@dataclass(frozen=True)
class Paced:
    offered: float  # req/s
    served: float  # completed req/s
    p50_ms: float
    p99_ms: float
    failed: int  # non-2xx and timeouts

    @property
    def held(self) -> float:
        return self.served / self.offered


def parse_paced(out: str, offered: float) -> Paced:
    m = re.search(r"PACED n=(\d+) bad=(\d+) p50=([\d.]+) p99=([\d.]+) dur_s=([\d.]+) timeouts=(\d+)", out)
    if m is None:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    n, bad, p50, p99, dur, timeouts = m.groups()
    return Paced(offered, int(n) / float(dur), float(p50), float(p99), int(bad) + int(timeouts))


PAUSE_S = 1.0  # between runs: the last run's connections close and its requests drain first


def paced(url: str, rate: float, connections: int, seconds: float, script: Path, seed: int) -> Paced:
    """One paced run: `connections` connections, one per wrk thread, Poisson arrivals at `rate` in all."""
    assert url.startswith("http://127.0.0.1:"), "the bench only drives loopback"
    gap_ms = connections * 1000.0 / rate
    time.sleep(PAUSE_S)
    cmd = ["wrk", f"-t{connections}", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "5s", "-s"]
    out = subprocess.run(
        [*cmd, str(script), url, "--", f"{gap_ms:.4f}", str(seed)],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=True,
    ).stdout
    return parse_paced(out, rate)


def queue_p99(rho: float, servers: int, pooled: bool, n: int = 60_000, seed: int = 0) -> float:
    """p99 latency, in service times, of Poisson arrivals at utilisation `rho` on `servers` servers with
    lognormal service times (sd 0.25 in log space, about the cascade's spread): one shared queue (pooled,
    M/G/c) or one queue per server with connections split evenly (each an M/G/1).

    The reference a paced run is read against: keep-alive connections pin requests to a worker, so even
    a perfect split of connections leaves each worker its own queue."""
    rng = np.random.default_rng(seed)
    c = servers if pooled else 1
    rate = rho * c  # arrivals per service time into the simulated queue
    arrivals = np.cumsum(rng.exponential(1.0 / rate, n))
    service = np.exp(rng.normal(0.0, 0.25, n) - 0.25**2 / 2)  # mean 1
    free = np.zeros(c)
    latency = np.empty(n)
    for i in range(n):
        j = int(free.argmin())
        free[j] = max(arrivals[i], free[j]) + service[i]
        latency[i] = free[j] - arrivals[i]
    return float(np.percentile(latency[n // 10 :], 99))


def worker_connections(supervisor_pid: int, port: int) -> list[int]:
    """Established connections to `port` held by each child of `supervisor_pid` (from /proc)."""
    established: set[str] = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        f = line.split()
        if f[3] == "01" and int(f[1].split(":")[1], 16) == port:
            established.add(f[9])
    counts = []
    for pid in child_pids(supervisor_pid):
        inodes = set()
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                m = re.match(r"socket:\[(\d+)\]", os.readlink(fd))
            except OSError:
                continue
            if m:
                inodes.add(m.group(1))
        counts.append(len(inodes & established))
    return sorted(counts)


def _slots(n: int) -> str:
    """The header's note of the queue's slots per worker."""
    return f", {n} slot{'s' if n > 1 else ''} each"


def _within(values: list[float], fmt: str = "{:.0f}") -> str:
    """' (min-max)' of several runs; nothing for one."""
    spread = _spread(values, fmt)
    return f" ({spread})" if spread else ""


def _spread(values: list[float], fmt: str = "{:.0f}") -> str:
    return f"{fmt.format(min(values))}-{fmt.format(max(values))}" if len(values) > 1 else ""


def run(
    seconds: float = 5.0,
    repeat: int = 3,
    connections: tuple[int, ...] = (16, 64, 256),
    shares: tuple[float, ...] = (0.5, 0.8),
    paced_connections: int = 64,
    accept: str = "queue",
    rates: tuple[float, ...] = (),
    slots: int = 1,
) -> None:
    """Print the compute limit, the closed-loop table by connections (with each worker's share of the
    connections), then paced load at `shares` of the 16-connection capacity, or at fixed `rates`
    (req/s: the same offered load for every configuration compared)."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install -y wrk (the Makefile's bench target does)")
    if accept == "queue" and find_binary() is None:
        raise SystemExit("--accept queue needs HAProxy: apt-get install -y haproxy (make front does)")
    cores = usable_cores()
    prefix = f"care-bench-tail-{uuid.uuid4().hex[:8]}:"
    ref: InProcess | None = None
    try:
        ref = InProcess(prefix)
        inproc = [ref.p50(REF_N)[0] for _ in range(repeat)]
        p50 = float(np.median(inproc))
        print(
            f"care bench service --tail: {cores} workers ({accept} accept"
            f"{_slots(slots) if accept == 'queue' else ''}), rules arm, Redis store, "
            f"{seconds:g} s per run, medians of {repeat} runs (range); each ratio pairs a run with the "
            f"in-process p50 taken just before it\n"
            f"in-process p50 {p50:.2f} ms{_within(inproc, '{:.2f}')} -> compute limit "
            f"{cores * 1000.0 / p50:.0f} req/s",
            flush=True,
        )
        env = {"CARE_REDIS_URL": REDIS_URL, "CARE_REDIS_PREFIX": prefix}
        args = ["--workers", str(cores), "--loop", "uvloop", "--http", "httptools", "--accept", accept]
        if accept == "queue":
            args += ["--slots", str(slots)]
        with tempfile.TemporaryDirectory() as tmp, ServerProcess(env, args=args) as server:
            closed, lua = Path(tmp) / "closed.lua", Path(tmp) / "paced.lua"
            closed.write_text(LUA)
            lua.write_text(PACED_LUA)
            _wait_workers(server, cores)
            assert server.proc is not None
            url, port = server.url + "/recommend", int(server.url.rsplit(":", 1)[1])
            pid = server.proc.pid
            wrk(url, 4, 2.0, closed)  # warm-up
            one: list[WrkResult] = []
            cost: list[float] = []
            for _ in range(repeat):
                beside = ref.p50(REF_N)[0]
                one.append(wrk(url, 1, seconds, closed, pid))
                cost.append(one[-1].p50_ms - beside)
            one_p50 = float(np.median([r.p50_ms for r in one]))
            print(
                f"1 connection: p50 {one_p50:.2f} ms{_within([r.p50_ms for r in one], '{:.2f}')}; "
                f"HTTP cost = 1-connection p50 - the in-process p50 before it = {np.median(cost):.2f} ms"
                f"{_within(cost, '{:.2f}')} (target <= 0.5); "
                f"server CPU {np.median([r.cpu_ms_per_req for r in one]):.2f} ms a request"
            )
            capacity = _closed_table(url, connections, seconds, repeat, closed, pid, port, ref, accept)
            base = capacity.get(16, next(iter(capacity.values())))
            for c, rps in capacity.items():
                print(f"  capacity at {c} connections: {rps / base:.2f}x that at 16 (target >= 0.9)")
            print(
                f"paced, {paced_connections} connections, Poisson arrivals; "
                + ("the rates as given" if rates else "each run's rate from the capacity just before it")
                + "; x: its p99 / the 1-connection p50 taken just before it"
            )
            offered = [r / base for r in rates] if rates else list(shares)
            for share in offered:
                if share >= 1.0:  # no steady state: the queue grows for as long as the run lasts
                    print(f"  queueing reference at {share:.0%}: none (past capacity)")
                    continue
                pinned, shared = queue_p99(share, cores, False), queue_p99(share, cores, True)
                print(
                    f"  queueing reference at {share:.0%}: p99 = {pinned:.1f} service times with one queue "
                    f"per worker (connections pinned), {shared:.1f} with one shared queue"
                )
            for share, rate in zip(offered, rates or [None] * len(offered), strict=True):
                _paced_row(url, share, rate, paced_connections, seconds, repeat, lua, closed)
            drift = ref.p50s
            slowest = max(drift) / min(drift) - 1.0
            print(
                f"the machine's drift: {len(drift)} in-process p50s over the invocation, "
                f"{min(drift):.2f}-{max(drift):.2f} ms ({slowest:+.0%} from the fastest)"
            )
    finally:
        if ref is not None:
            ref.close()
        cleanup = RedisStore(REDIS_URL, prefix=prefix)
        cleanup.delete_prefix()
        cleanup.close()


def _closed_table(
    url: str,
    connections: tuple[int, ...],
    seconds: float,
    repeat: int,
    script: Path,
    pid: int,
    port: int,
    ref: InProcess,
    accept: str,
) -> dict[int, float]:
    """The closed-loop rows, each run's "x limit" against the in-process p50 taken just before it;
    returns the median req/s by connections."""
    print(f"{'closed loop':12s} {'req/s':>14s} {'x limit':>8s} {'p50 ms':>8s} {'p99 ms':>8s} "
          f"{'p99/p50':>8s} {'failed':>8s} {'CPU ms':>7s}  connections per worker")  # fmt: skip
    capacity: dict[int, float] = {}
    for c in connections:
        split: list[list[int]] = []
        runs: list[WrkResult] = []
        x_limit: list[float] = []
        for _ in range(repeat):
            limit = usable_cores() * 1000.0 / ref.p50(REF_N)[0]
            runs.append(_closed_with_split(url, c, seconds, script, pid, port, split, accept))
            x_limit.append(runs[-1].rps / limit)
        rps, p50, p99 = (float(np.median([getattr(r, f) for r in runs])) for f in ("rps", "p50_ms", "p99_ms"))
        capacity[c] = rps
        failed = sum(r.errors + r.non_2xx for r in runs)
        print(
            f"c={c:<10d} {rps:6.0f}{_within([r.rps for r in runs])} {np.median(x_limit):8.2f} "
            f"{p50:8.1f} {p99:8.1f} {p99 / p50:8.2f} {failed:8d} "
            f"{np.median([r.cpu_ms_per_req for r in runs]):7.2f}  "
            f"{'all held by HAProxy' if accept == 'queue' else split[-1]}",
            flush=True,
        )
    return capacity


def _paced_row(
    url: str,
    share: float,
    rate: float | None,
    conns: int,
    seconds: float,
    repeat: int,
    script: Path,
    closed: Path,
) -> list[Paced]:
    """`repeat` paced runs at `share` of the capacity measured just before each (or at the fixed
    `rate`), each run's p99 read against the 1-connection p50 measured just before it."""
    res: list[Paced] = []
    x: list[float] = []
    for seed in range(1, repeat + 1):
        time.sleep(PAUSE_S)
        offered = rate if rate is not None else share * wrk(url, 16, seconds, closed).rps  # as the table's
        time.sleep(PAUSE_S)
        one_p50 = wrk(url, 1, PROBE_S, closed).p50_ms
        res.append(paced(url, offered, conns, seconds, script, seed))
        x.append(res[-1].p99_ms / one_p50)
    held, p99 = [r.held for r in res], [r.p99_ms for r in res]
    rates = [r.offered for r in res]
    spread = _spread(rates) if rate is None else ""  # a fixed rate is the same in every run
    spread = f", {spread}" if spread else ""
    print(
        f"  {share:.0%} of capacity ({np.median(rates):.0f} req/s{spread}): "
        f"held {np.median(held):.1%}{_within(held, '{:.1%}')}, "
        f"p50 {np.median([r.p50_ms for r in res]):.1f} ms, "
        f"p99 {np.median(p99):.1f} ms{_within(p99, '{:.1f}')} "
        f"= {np.median(x):.1f}x{_within(x, '{:.1f}')}, failed {sum(r.failed for r in res)}",
        flush=True,
    )
    return res


def _closed_with_split(
    url: str, c: int, seconds: float, script: Path, pid: int, port: int, split: list[list[int]], accept: str
) -> WrkResult:
    """A closed-loop wrk run, with the server's CPU a request (every process of it, from /proc); appends
    each worker's share of the connections, read mid-run (not with the queue: HAProxy holds them)."""
    time.sleep(PAUSE_S)
    if accept == "queue":
        return wrk(url, c, seconds, script, pid)

    def sample() -> None:
        split.append(worker_connections(pid, port))

    timer = threading.Timer(min(2.0, seconds / 2), sample)
    timer.start()
    try:
        return wrk(url, c, seconds, script, pid)
    finally:
        timer.join()
