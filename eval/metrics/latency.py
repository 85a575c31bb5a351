"""Latency percentiles per pipeline stage (linear interpolation between order statistics)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), numpy's default 'linear' method; nan for no values."""
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if len(values) else float("nan")


def stage_percentiles(
    timings: Iterable[Mapping[str, float]], qs: Sequence[float] = (50.0, 95.0)
) -> dict[str, dict[str, float]]:
    """{stage: {"p50": ..., "p95": ..., "n": ...}} over requests that reported the stage."""
    by_stage: dict[str, list[float]] = {}
    for t in timings:
        for stage, ms in t.items():
            by_stage.setdefault(stage, []).append(float(ms))
    out: dict[str, dict[str, float]] = {}
    for stage, values in sorted(by_stage.items()):
        row = {f"p{q:g}": percentile(values, q) for q in qs}
        row["n"] = float(len(values))
        out[stage] = row
    return out
