"""One contract suite for every impression-log backend (SQLite file, Redis Streams on a real Redis)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from cascade.impressions import (
    Impression,
    ImpressionLog,
    LogUnavailable,
    Outcome,
    RedisImpressionLog,
    SqliteImpressionLog,
    delete_prefix,
    read_impressions,
    read_outcomes,
)
from cascade.ports import free_port

REDIS = "redis://127.0.0.1:6379/0"


def imp(ts: float, rid: str, user: int, items: tuple[int, ...] = (1, 2, 3), arm: str = "rules") -> Impression:
    return Impression(ts, rid, user, "main", arm, arm, None, None, items, 2.5, 0.3, False)


@pytest.fixture(params=["sqlite", "redis"])
def make_log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    prefixes: list[str] = []
    logs: list[ImpressionLog] = []

    def make(max_len: int = 1_000_000) -> ImpressionLog:
        log: ImpressionLog
        if request.param == "sqlite":
            log = SqliteImpressionLog(tmp_path / f"{uuid.uuid4().hex}.sqlite", max_rows=max_len)
        else:
            prefix = f"test-ab-{uuid.uuid4().hex[:8]}:"
            prefixes.append(prefix)
            log = RedisImpressionLog(REDIS, prefix, max_len=max_len, window_s=600)
        logs.append(log)
        return log

    yield make
    for log in logs:
        log.close()
    for p in prefixes:
        delete_prefix(REDIS, p)


def test_impressions_round_trip_by_time(make_log) -> None:  # type: ignore[no-untyped-def]
    log = make_log()
    t = 1_700_000_000.0
    recs = [imp(t + i, f"r{i}", 10 + i % 3, (i, i + 1)) for i in range(30)]
    log.append(recs[:10])
    log.append(recs[10:])
    assert list(read_impressions(log, t, t + 100)) == recs
    assert list(read_impressions(log, t + 5, t + 9)) == recs[5:10]
    assert list(read_impressions(log, t + 1000, t + 2000)) == []


def test_outcomes_round_trip(make_log) -> None:  # type: ignore[no-untyped-def]
    log = make_log()
    t = 1_700_000_000.0
    outs = [
        Outcome(t, 1, 5, "play", "r1", "main", "rules", 2, "request_id"),
        Outcome(t + 1, 1, 6, "like", None, None, None, None, None),
    ]
    log.record(outs)
    assert list(read_outcomes(log, t - 1, t + 10)) == outs
    assert list(read_outcomes(log, t + 0.5, t + 10)) == outs[1:]


def test_recent_is_the_users_newest_first_since(make_log) -> None:  # type: ignore[no-untyped-def]
    import time

    log = make_log()
    now = time.time()
    log.append([imp(now - 500, "old", 7), imp(now - 20, "a", 7), imp(now - 10, "b", 7), imp(now - 5, "x", 8)])
    assert [i.request_id for i in log.recent(7, now - 100)] == ["b", "a"]
    assert [i.request_id for i in log.recent(8, now - 100)] == ["x"]
    assert log.recent(9, now - 100) == []


def test_log_is_bounded_and_keeps_the_newest(make_log) -> None:  # type: ignore[no-untyped-def]
    log = make_log(max_len=100)
    t = 1_700_000_000.0
    for s in range(0, 3000, 250):
        log.append([imp(t + i, f"r{i}", 1) for i in range(s, s + 250)])
    kept = list(read_impressions(log, t, t + 10_000))
    assert 100 <= len(kept) <= 1100
    assert kept[-1].request_id == "r2999"


def test_unreachable_redis_raises_log_unavailable() -> None:
    log = RedisImpressionLog(f"redis://127.0.0.1:{free_port()}/0", "x:", socket_timeout_s=0.2)
    with pytest.raises(LogUnavailable):
        log.append([imp(1.0, "r", 1)])
    with pytest.raises(LogUnavailable):
        log.recent(1, 0.0)
    with pytest.raises(LogUnavailable):
        list(read_impressions(log, 0.0, 10.0))


def test_unopenable_sqlite_raises_log_unavailable(tmp_path: Path) -> None:
    (tmp_path / "dir.sqlite").mkdir()
    with pytest.raises(LogUnavailable, match=r"dir\.sqlite"):
        SqliteImpressionLog(tmp_path / "dir.sqlite")


def test_records_encode_and_decode_losslessly() -> None:
    i = Impression(1.5, "abc", 3, None, "llm", "rules", "timeout", "p1", (4, 5), 9.25, 7.5, True)
    assert Impression.decode(i.encode()) == i
    o = Outcome(2.5, 3, 4, "play", "abc", None, "llm", 1, "window")
    assert Outcome.decode(o.encode()) == o
