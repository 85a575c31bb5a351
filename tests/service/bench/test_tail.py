"""`care bench service --tail`'s paced wrk run: its report parsed, and a real run against two workers."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from cascade.cores import usable_cores
from cascade.features.online.redis_store import RedisStore
from service.bench import tail
from service.bench.service import LUA, REDIS_URL
from service.bench.tail import PACED_LUA, _closed_with_split, paced, parse_paced, queue_p99
from tests.service.conftest import TwoWorkers


def test_parse_paced_reads_the_served_rate_and_latencies() -> None:
    out = "Running 5s test\nPACED n=600 bad=2 p50=3.500 p99=12.250 dur_s=5.000 timeouts=1\n"
    r = parse_paced(out, offered=125.0)
    assert r.served == pytest.approx(120.0) and r.held == pytest.approx(0.96)
    assert (r.p50_ms, r.p99_ms, r.failed) == (3.5, 12.25, 3)
    with pytest.raises(RuntimeError, match="unexpected wrk output"):
        parse_paced("Requests/sec: 10.0\n", 10.0)


def test_a_paced_run_offers_its_rate_and_times_every_answer(two_workers: TwoWorkers, tmp_path: Path) -> None:
    script = tmp_path / "paced.lua"
    script.write_text(PACED_LUA)
    url = two_workers.server.url + "/recommend"
    r = paced(url, rate=20.0, connections=4, seconds=4.0, script=script, seed=1)
    # Poisson arrivals: about 80 in 4 s (sd 9), all answered well within the run
    assert 0.6 <= r.held <= 1.4, r
    assert r.failed == 0, r
    assert 0.0 < r.p50_ms <= r.p99_ms < 2000.0, r


def test_the_queueing_reference_grows_with_load_and_a_shared_queue_is_shorter() -> None:
    half_pinned, half_shared = queue_p99(0.5, 2, pooled=False), queue_p99(0.5, 2, pooled=True)
    busy_pinned = queue_p99(0.8, 2, pooled=False)
    assert 1.0 < half_shared < half_pinned < busy_pinned  # M/G/2 beats two M/G/1s; waiting grows with load
    assert 3.0 < half_pinned < 7.0 and 8.0 < busy_pinned < 20.0  # M/D/1 theory: p99 ~ 5 and ~15 service times


def test_a_closed_run_reads_the_servers_cpu_and_each_workers_connections(
    two_workers: TwoWorkers, tmp_path: Path
) -> None:
    script = tmp_path / "closed.lua"
    script.write_text(LUA)
    server = two_workers.server
    assert server.proc is not None
    url, port = server.url + "/recommend", int(server.url.rsplit(":", 1)[1])
    split: list[list[int]] = []
    r = _closed_with_split(url, 4, 3.0, script, server.proc.pid, port, split, "balanced")
    assert r.requests > 10 and r.errors + r.non_2xx == 0, r
    # the workers' CPU, once each (a parent's count of its children's time would double it): no more
    # than the cores can give over the run, and at least some of it
    assert 0.0 < r.cpu_ms_per_req * r.requests <= 1000.0 * 3.5 * usable_cores(), r
    assert len(split) == 1 and sum(split[0]) == 4, split


# The reference caps this process's compute pools at one thread, as a server worker does: it runs in
# a child process so that the rest of the suite keeps its threads.
REFERENCE = """
import json, sys
from pathlib import Path
from service.bench.service import InProcess
ref = InProcess(sys.argv[1], warm=20, artifacts=Path(sys.argv[2]))
first, second = ref.p50(30), ref.p50(30)
ref.close()
print(json.dumps({"first": first, "second": second, "p50s": ref.p50s}))
"""


def test_the_in_process_reference_is_built_once_and_timed_on_demand(artifacts: Path) -> None:
    prefix = f"care-test-ref-{uuid.uuid4().hex[:8]}:"
    try:
        out = subprocess.run(
            [sys.executable, "-c", REFERENCE, prefix, str(artifacts)],
            capture_output=True, text=True, timeout=300, check=True,
        ).stdout  # fmt: skip
    finally:
        store = RedisStore(REDIS_URL, prefix=prefix)
        store.delete_prefix()
        store.close()
    got = json.loads(out.strip().splitlines()[-1])
    (p1, cpu1), (p2, cpu2) = got["first"], got["second"]
    assert 0.0 < p1 < 1000.0 and 0.0 < p2 < 1000.0 and cpu1 > 0.0 and cpu2 > 0.0, got
    assert got["p50s"] == [p1, p2]  # every measure is kept: the drift line reads them


def test_a_paced_row_takes_its_rate_from_the_capacity_just_before_it(
    two_workers: TwoWorkers,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(tail, "PROBE_S", 1.0)
    monkeypatch.setattr(tail, "PAUSE_S", 0.2)
    paced_lua, closed = tmp_path / "paced.lua", tmp_path / "closed.lua"
    paced_lua.write_text(PACED_LUA)
    closed.write_text(LUA)
    url = two_workers.server.url + "/recommend"
    [r] = tail._paced_row(url, 0.1, None, 4, 2.0, 1, paced_lua, closed)
    # a tenth of what 16 connections just completed: a rate the two workers hold with room to spare
    assert r.offered > 1.0 and r.failed == 0, r
    line = capsys.readouterr().out
    assert f"10% of capacity ({r.offered:.0f} req/s)" in line and "x, failed 0" in line, line
    [f] = tail._paced_row(url, 0.05, 12.0, 4, 2.0, 1, paced_lua, closed)
    assert f.offered == 12.0 and f.failed == 0, f  # a fixed rate is offered as given
