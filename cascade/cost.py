"""Wall time and peak resident memory of each training stage, for the manifest and `care bench train-cost`."""

from __future__ import annotations

import resource
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

_STATM = Path("/proc/self/statm")
_PAGE_MB = resource.getpagesize() / 2**20
_EVERY_S = 0.02


def rss_mb() -> float:
    """Resident memory of this process now (Linux), else its peak so far."""
    try:
        return int(_STATM.read_text().split()[1]) * _PAGE_MB
    except OSError:
        return peak_rss_mb()


def peak_rss_mb() -> float:
    """Peak resident memory of this process since it started."""
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return float(kb / 2**20 if sys.platform == "darwin" else kb / 2**10)


@dataclass
class StageCosts:
    """Seconds and peak RSS (MiB, sampled every 20 ms) per named stage, in the order run."""

    stages: dict[str, dict[str, float]] = field(default_factory=dict)
    log: Callable[[str], None] | None = None  # a line per stage as it ends

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        peak = [rss_mb()]
        done = threading.Event()

        def sample() -> None:
            while not done.wait(_EVERY_S):
                peak[0] = max(peak[0], rss_mb())

        watcher = threading.Thread(target=sample, name=f"rss-{name}", daemon=True)
        watcher.start()
        t0 = time.perf_counter()
        try:
            yield
        finally:
            seconds = time.perf_counter() - t0
            done.set()
            watcher.join()
            peak[0] = max(peak[0], rss_mb())
            prev = self.stages.get(name, {"s": 0.0, "peak_rss_mb": 0.0})
            self.stages[name] = {
                "s": round(prev["s"] + seconds, 3),
                "peak_rss_mb": round(max(prev["peak_rss_mb"], peak[0]), 1),
            }
            if self.log is not None:
                self.log(f"{name}: {seconds:.1f} s, peak RSS {peak[0]:,.0f} MiB")
