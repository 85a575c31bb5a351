"""wrk's report parsed, repeated runs summarised by their medians, and the p99 floor Little's law sets."""

from __future__ import annotations

import math

import pytest

from service.bench.service import WrkResult, median_of, p99_floor, parse_wrk

WRK_OUT = """Running 5s test @ http://127.0.0.1:8000/recommend
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    47.33ms   12.10ms 120.00ms   70.00%
  Latency Distribution
     50%   47.33ms
     75%   55.00ms
     90%   65.00ms
     99%   79.71ms
  1654 requests in 5.00s, 2.10MB read
  Socket errors: connect 0, read 1, write 0, timeout 2
  Non-2xx or 3xx responses: 4
Requests/sec:    330.80
Transfer/sec:    430.00KB
"""


def test_parse_wrk_reads_rate_percentiles_and_failures() -> None:
    r = parse_wrk(WRK_OUT)
    assert (r.rps, r.p50_ms, r.p99_ms) == (330.80, 47.33, 79.71)
    assert (r.requests, r.non_2xx, r.errors) == (1654, 4, 3)
    assert math.isnan(r.cpu_ms_per_req)


def test_parse_wrk_converts_units() -> None:
    out = WRK_OUT.replace("47.33ms", "812.00us").replace("79.71ms", "1.20s")
    r = parse_wrk(out)
    assert r.p50_ms == pytest.approx(0.812) and r.p99_ms == pytest.approx(1200.0)


def test_parse_wrk_refuses_a_report_without_percentiles() -> None:
    with pytest.raises(RuntimeError, match="unexpected wrk output"):
        parse_wrk("Requests/sec: 10.0\n")


def test_median_of_takes_each_figure_median_and_sums_counts() -> None:
    runs = [
        WrkResult(300.0, 40.0, 90.0, 1, 0, 1500, 6.0),
        WrkResult(350.0, 50.0, 70.0, 0, 2, 1750, 5.0),
        WrkResult(320.0, 45.0, 120.0, 0, 0, 1600, float("nan")),
    ]
    m = median_of(runs)
    assert (m.rps, m.p50_ms, m.p99_ms) == (320.0, 45.0, 90.0)
    assert (m.non_2xx, m.errors, m.requests) == (1, 2, 4850)
    assert m.cpu_ms_per_req == 5.5  # runs without a CPU reading are left out


def test_p99_floor_follows_littles_law() -> None:
    # 16 connections and a 25 ms p99 need 640 req/s: beyond a 328 req/s limit, within an 800 one
    slow = p99_floor(16, 25.0, 328.0)
    assert ">= 640 req/s" in slow and "1.95x the compute limit" in slow and "beyond" in slow
    fast = p99_floor(16, 25.0, 800.0)
    assert "0.80x the compute limit" in fast and "within" in fast
