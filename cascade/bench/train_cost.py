"""`care bench train-cost`: `care train` on each data set in its own process; each stage's time and peak RSS.

The growth exponent of a stage is the least-squares slope of log(seconds) against log(interactions)
over the data sets given (1.0: linear in interactions).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ML100K = "ml-100k"


@dataclass(frozen=True)
class TrainCost:
    name: str
    interactions: int
    items: int
    users: int
    wall_s: float
    peak_rss_mb: float
    stages: dict[str, dict[str, float]]
    ndcg10: float


def _train(source: str, out: Path, seed: int) -> TrainCost:
    """One `care train` in a child process; its peak RSS from wait4."""
    cmd = [str(Path(sys.executable).with_name("care")), "train", "--out", str(out), "--seed", str(seed)]
    if source != ML100K:
        cmd += ["--source", source]
    t0 = time.perf_counter()
    child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"care train --source {source} failed (exit {os.waitstatus_to_exitcode(status)})")
    m: dict[str, Any] = json.loads((out / "manifest.json").read_text())
    data = m["data"]
    ndcg = float(m["metrics"]["two_tower+xgb"]["ndcg@10"])
    name = ML100K if source == ML100K else Path(source).name
    peak = usage.ru_maxrss / 1024
    return TrainCost(name, data["interactions"], data["items"], data["users"], wall, peak, m["cost"], ndcg)


def exponent(sizes: list[int], seconds: list[float]) -> float:
    """Slope of log(seconds) on log(sizes)."""
    if len(sizes) < 2 or min(seconds) <= 0:
        return float("nan")
    slope, _ = np.polyfit(np.log(sizes), np.log(seconds), 1)
    return float(slope)


def run(sources: list[str], out: Path, seed: int) -> list[TrainCost]:
    runs = []
    for src in sources:
        print(f"care train --source {src} ...", flush=True)
        runs.append(_train(src, out / (ML100K if src == ML100K else Path(src).name), seed))
        r = runs[-1]
        print(f"  {r.wall_s:.0f} s, peak {r.peak_rss_mb:.0f} MiB, NDCG@10 {r.ndcg10:.4f}", flush=True)
    runs.sort(key=lambda r: r.interactions)
    stages = list(dict.fromkeys(s for r in runs for s in r.stages))
    sizes = [r.interactions for r in runs]
    print()
    print(f"{'stage':16s}" + "".join(f" {r.name[:20]:>20s}" for r in runs) + f" {'exponent':>9s}")
    print(f"{'':16s}" + "".join(f" {f'{r.interactions:,} inter.':>20s}" for r in runs))
    for s in stages:
        cells = [r.stages.get(s, {"s": 0.0, "peak_rss_mb": 0.0}) for r in runs]
        line = "".join(f" {c['s']:>9.1f} s {c['peak_rss_mb']:>6.0f} MB" for c in cells)
        print(f"{s:16s}{line} {exponent(sizes, [c['s'] for c in cells]):>9.2f}")
    total = "".join(f" {r.wall_s:>9.1f} s {r.peak_rss_mb:>6.0f} MB" for r in runs)
    print(f"{'total (process)':16s}{total} {exponent(sizes, [r.wall_s for r in runs]):>9.2f}")
    print(f"{'NDCG@10':16s}" + "".join(f" {r.ndcg10:>20.4f}" for r in runs))
    return runs
