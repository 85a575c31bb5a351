"""`care bench service`: wrk (a C load generator) against `care serve` over loopback, Redis store.

First the in-process p50 of the same request (rules arm, Redis store with the service's in-process
item-feature cache, one compute thread), which
gives the compute limit: cores x 1000 / that p50. Then, per server configuration (each fast path
added in turn, then one worker per core), wrk at 1, 4 and 16 connections: req/s, p50, p99.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from cascade.cores import usable_cores
from cascade.features.online import RedisStoreConfig, create_store
from cascade.features.online.item_cache import cached
from cascade.features.online.redis_store import RedisStore
from service.process import ServerProcess

REDIS_URL = "redis://127.0.0.1:6379/15"
LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local n = 0
request = function()
  n = n + 1
  local body = string.format(
    '{"user_id": %d, "k": 10, "arm": "rules", "context": {"playlist_title": "90s thrillers"}}', n % 943 + 1)
  return wrk.format(nil, "/recommend", nil, body)
end
"""
_UNIT_MS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


@dataclass(frozen=True)
class Config:
    label: str
    args: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    errors: int
    requests: int
    cpu_ms_per_req: float = float("nan")  # server CPU (all its processes) per request


def configs(cores: int) -> list[Config]:
    """Each fast path added in turn, then one worker per core (and two, to cover the store's waits)."""
    fastapi_json = (("CARE_RESPONSE_ENCODER", "fastapi"),)
    fast = ("--loop", "uvloop", "--http", "httptools")
    return [
        Config(
            "1 worker, asyncio+h11, fastapi json",
            ("--workers", "1", "--loop", "asyncio", "--http", "h11"),
            fastapi_json,
        ),
        Config("1 worker, uvloop+httptools", ("--workers", "1", *fast), fastapi_json),
        Config("1 worker, uvloop+httptools+orjson", ("--workers", "1", *fast)),
        Config(f"{2 * cores} workers, all fast paths", ("--workers", str(2 * cores), *fast)),
        Config(f"{cores} workers, all fast paths", ("--workers", str(cores), *fast)),
    ]


def _ms(value: str, unit: str) -> float:
    return float(value) * _UNIT_MS[unit]


def parse_wrk(out: str) -> WrkResult:
    """Requests/sec and the --latency distribution's 50% and 99% lines of wrk's report."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"^\s+50%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    if rps is None or p50 is None or p99 is None:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    total = re.search(r"(\d+) requests in", out)
    non = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return WrkResult(
        float(rps.group(1)),
        _ms(*p50.groups()),
        _ms(*p99.groups()),
        int(non.group(1)) if non else 0,
        sum(int(x) for x in errs.groups()) if errs else 0,
        int(total.group(1)) if total else 0,
    )


def median_of(runs: list[WrkResult]) -> WrkResult:
    """Each rate, latency and CPU figure's median over repeated runs; counts summed."""
    med = {f: float(np.median([getattr(r, f) for r in runs])) for f in ("rps", "p50_ms", "p99_ms")}
    cpu = [r.cpu_ms_per_req for r in runs if not np.isnan(r.cpu_ms_per_req)]
    return WrkResult(
        med["rps"],
        med["p50_ms"],
        med["p99_ms"],
        sum(r.non_2xx for r in runs),
        sum(r.errors for r in runs),
        sum(r.requests for r in runs),
        float(np.median(cpu)) if cpu else float("nan"),
    )


def child_pids(pid: int) -> list[int]:
    """The direct children of a process (the server's workers), from /proc."""
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        out += [int(c) for c in (task / "children").read_text().split()]
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its direct children (uvicorn's workers), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for p in [pid, *child_pids(pid)]:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def wrk(url: str, connections: int, seconds: float, script: Path, server_pid: int | None = None) -> WrkResult:
    """One bounded wrk run against a loopback URL (one wrk thread: it shares the cores with the server)."""
    assert url.startswith("http://127.0.0.1:"), "the bench only drives loopback"
    cmd = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds:g}s",
        "--timeout",
        "5s",
        "--latency",
        "-s",
        str(script),
    ]
    cpu0 = cpu_seconds(server_pid) if server_pid else 0.0
    out = subprocess.run([*cmd, url], capture_output=True, text=True, timeout=seconds + 30, check=True).stdout
    r = parse_wrk(out)
    if server_pid and r.requests:
        r = replace(r, cpu_ms_per_req=(cpu_seconds(server_pid) - cpu0) * 1000.0 / r.requests)
    return r


class InProcess:
    """The served request in this process (rules arm, Redis store with the service's in-process
    item-feature cache, one compute thread), built and warmed once, timed on demand: a bench measures
    it beside each HTTP run, so a ratio compares two figures taken on the machine at the same speed."""

    def __init__(self, prefix: str, warm: int = 943, artifacts: Path | None = None) -> None:
        """warm: requests run untimed first (every user once by default: as in the HTTP runs, later
        requests read the kept item-item list); artifacts: default $CARE_ARTIFACTS, as served."""
        from cascade.arms import arm_resolver
        from cascade.experiments import ArmSpec
        from cascade.runtime import load_runtime
        from cascade.types import Context
        from service.main import single_threaded_compute
        from service.settings import Settings

        single_threaded_compute()
        rt = load_runtime(artifacts)
        settings = Settings()
        self._online = cached(
            create_store(RedisStoreConfig(url=REDIS_URL, prefix=prefix)), settings.item_cache_ttl_s
        )
        self._pipe = rt.online_pipeline(
            rt.feature_store(self._online), n_score=settings.score_head
        )  # as served
        self._arm = arm_resolver(rt.dataset.catalog, "serving").resolve(
            ArmSpec(name="rules", reranker="rules")
        )
        self._ctx = Context(playlist_title="90s thrillers")
        self._loop = asyncio.new_event_loop()
        self._i = 0
        self.p50s: list[float] = []  # every measure taken, in order: the machine's drift over a bench
        self._times(warm)

    def _times(self, n: int) -> list[float]:
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            self._loop.run_until_complete(self._pipe.recommend(self._i % 943 + 1, 10, self._ctx, self._arm))
            times.append((time.perf_counter() - t0) * 1000.0)
            self._i += 1
        return times

    def p50(self, n: int) -> tuple[float, float]:
        """p50 (ms) of the next n requests, and the process's CPU ms a request over them."""
        cpu0 = time.process_time()
        times = self._times(n)
        cpu_ms = (time.process_time() - cpu0) * 1000.0 / n
        p50 = float(np.percentile(times, 50))
        self.p50s.append(p50)
        return p50, cpu_ms

    def close(self) -> None:
        self._loop.close()
        self._online.close()


def inprocess_p50(n: int, prefix: str) -> tuple[float, float]:
    """p50 (ms) of the same request in process (rules arm, Redis store, one compute thread), CPU ms/req."""
    ref = InProcess(prefix)
    try:
        return ref.p50(n)
    finally:
        ref.close()


def _wait_workers(server: ServerProcess, n: int, limit_s: float = 300.0) -> None:
    end = time.monotonic() + limit_s
    while server.output().count("care ready on") < n:
        if time.monotonic() > end:
            raise RuntimeError(f"{n} workers never all ready:\n{server.output()[-3000:]}")
        time.sleep(0.2)


def run(
    seconds: float = 5.0,
    connections: tuple[int, ...] = (1, 4, 16),
    only_last: bool = False,
    repeat: int = 1,
) -> None:
    """Print the in-process p50, the compute limit, and the wrk table per configuration.

    repeat: wrk runs per row (and times as many in-process requests); rows print each run's
    median and, past one run, the range: single runs on 2 shared cores vary by about 20%.
    """
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install -y wrk (the Makefile's bench target does)")
    cores = usable_cores()
    prefix = f"care-bench-svc-{uuid.uuid4().hex[:8]}:"
    rows: list[tuple[str, int, WrkResult]] = []
    try:
        p50, cpu_ms = inprocess_p50(500 * repeat, prefix)
        limit = cores * 1000.0 / p50
        medians = f"; medians of {repeat} runs per row" if repeat > 1 else ""
        print(
            f"care bench service: wrk -t1, {seconds:g} s per run, rules arm, Redis store; "
            f"in-process p50 {p50:.2f} ms -> compute limit {cores} x 1000 / {p50:.2f} = {limit:.0f} req/s; "
            f"in-process CPU {cpu_ms:.2f} ms/req{medians}",
            flush=True,
        )
        with tempfile.TemporaryDirectory() as tmp:
            script = Path(tmp) / "recommend.lua"
            script.write_text(LUA)
            for cfg in configs(cores)[-1:] if only_last else configs(cores):
                env = {"CARE_REDIS_URL": REDIS_URL, "CARE_REDIS_PREFIX": prefix, **dict(cfg.env)}
                with ServerProcess(env, args=cfg.args) as server:
                    _wait_workers(server, int(cfg.args[cfg.args.index("--workers") + 1]))
                    url = server.url + "/recommend"
                    wrk(url, 4, 2.0, script)  # warm-up
                    assert server.proc is not None
                    for c in connections:
                        runs = [wrk(url, c, seconds, script, server.proc.pid) for _ in range(repeat)]
                        r = median_of(runs)
                        rows.append((cfg.label, c, r))
                        spread = (
                            f"  (req/s {min(x.rps for x in runs):.0f}-{max(x.rps for x in runs):.0f}, "
                            f"p99 {min(x.p99_ms for x in runs):.1f}-{max(x.p99_ms for x in runs):.1f})"
                            if repeat > 1
                            else ""
                        )
                        print(
                            f"{cfg.label:38s} c={c:<3d} {r.rps:8.1f} req/s  p50 {r.p50_ms:7.2f} ms  "
                            f"p99 {r.p99_ms:7.2f} ms  {r.rps / limit:5.2f}x limit  "
                            f"CPU {r.cpu_ms_per_req:5.2f} ms/req  non-2xx {r.non_2xx} errors {r.errors}"
                            + spread,
                            flush=True,
                        )
    finally:
        cleanup = RedisStore(REDIS_URL, prefix=prefix)
        cleanup.delete_prefix()
        cleanup.close()
    _verdict(rows, p50, limit, cpu_ms)


def p99_floor(connections: int, p99_ms: float, limit: float) -> str:
    """Little's law: n requests in flight at X req/s wait n / X on average, so p99 <= T needs X >= n / T."""
    need = connections * 1000.0 / p99_ms
    verdict = "within" if need <= limit else "beyond"
    return (
        f"p99 <= {p99_ms:g} ms at {connections} connections needs >= {need:.0f} req/s (mean latency = "
        f"{connections} / req/s): {need / limit:.2f}x the compute limit, {verdict} what these cores can do"
    )


def _verdict(rows: list[tuple[str, int, WrkResult]], p50: float, limit: float, cpu_ms: float) -> None:
    """The targets, by wall clock (what a quiet machine shows) and by CPU (robust to other load)."""
    for label in dict.fromkeys(label for label, _, _ in rows):
        cpu = float(np.nanmedian([r.cpu_ms_per_req for lb, _, r in rows if lb == label]))
        print(
            f"{label}: server CPU {cpu:.2f} ms/req, in process {cpu_ms:.2f} (HTTP +{cpu - cpu_ms:.2f} ms); "
            f"on dedicated cores: {cpu_ms / cpu:.2f}x the in-process rate"
        )
    best = rows[-1][0]
    at = {c: r for label, c, r in rows if label == best}
    if 16 in at:
        r = at[16]
        print(
            f"\n{best}, 16 connections: {r.rps:.0f} req/s = {r.rps / limit:.2f}x the compute limit "
            f"(target >= 0.9), p99 {r.p99_ms:.2f} ms (tail targets: `care bench service --tail`)"
        )
    if 1 in at:
        r = at[1]
        print(
            f"{best}, 1 connection: p50 {r.p50_ms:.2f} ms vs in-process {p50:.2f} ms: HTTP overhead "
            f"{r.p50_ms - p50:.2f} ms (target <= 0.5); wrk shares the cores with the server."
        )
