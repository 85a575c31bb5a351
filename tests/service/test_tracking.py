"""The background impression writer: never blocks or raises on the request path; losses are counted."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from cascade.impressions import Impression, LogUnavailable, Outcome, SqliteImpressionLog, read_impressions
from service.tracking import ImpressionRecorder


def imp(i: int) -> Impression:
    return Impression(1.0 + i, f"r{i}", i, "main", "rules", "rules", None, None, (1, 2), 1.0, 0.1, False)


class FailingLog:
    name = "failing"

    def append(self, impressions: Sequence[Impression]) -> None:
        raise LogUnavailable("down")

    def record(self, outcomes: Sequence[Outcome]) -> None:
        raise LogUnavailable("down")

    def recent(self, user_id: int, since: float) -> list[Impression]:
        raise LogUnavailable("down")

    def impression_rows(self, since: float, until: float) -> Iterator[list[list[Any]]]:
        raise LogUnavailable("down")

    def outcome_rows(self, since: float, until: float) -> Iterator[list[list[Any]]]:
        raise LogUnavailable("down")

    def close(self) -> None:
        pass


class BlockedLog(FailingLog):
    """Appends wait until released (a stalled backend)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.written: list[Impression] = []

    def append(self, impressions: Sequence[Impression]) -> None:
        self.release.wait(10)
        self.written.extend(impressions)


def test_writes_reach_the_log_and_flush_waits_for_them(tmp_path: Path) -> None:
    log = SqliteImpressionLog(tmp_path / "i.sqlite")
    rec = ImpressionRecorder(log, lambda op, n: None)
    for i in range(50):
        rec.submit(imp(i))
    assert rec.flush(5.0)
    assert rec.pending() == 0
    assert [x.request_id for x in read_impressions(log, 0, 100)] == [f"r{i}" for i in range(50)]
    rec.close()
    log.close()


def test_a_failing_log_is_counted_not_raised() -> None:
    failures: list[tuple[str, int]] = []
    rec = ImpressionRecorder(FailingLog(), lambda op, n: failures.append((op, n)))
    for i in range(10):
        rec.submit(imp(i))
    assert rec.flush(5.0)
    assert sum(n for op, n in failures if op == "write") == 10
    rec.close()


def test_a_stalled_log_drops_beyond_the_queue_bound_without_blocking() -> None:
    failures: list[tuple[str, int]] = []
    log = BlockedLog()
    rec = ImpressionRecorder(log, lambda op, n: failures.append((op, n)), queue_size=5, batch=1)
    for i in range(20):
        rec.submit(imp(i))  # returns at once even though the writer is stuck
    dropped = sum(n for op, n in failures if op == "dropped")
    assert dropped >= 20 - 5 - 1
    assert not rec.flush(0.05)  # a bounded wait, not a hang
    log.release.set()
    assert rec.flush(5.0)
    assert len(log.written) + dropped == 20
    rec.close()
