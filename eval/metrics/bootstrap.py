"""Paired bootstrap confidence interval for the mean per-user difference between two arms.

The users are resampled with replacement (the same resample for both arms, hence "paired"); the
interval is the percentile interval of the resampled mean differences. Seeded: same inputs and
seed, same interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Values = Sequence[float] | npt.NDArray[np.float64]


@dataclass(frozen=True)
class Interval:
    mean_diff: float  # mean of (a - b) on the original sample
    lo: float
    hi: float
    n: int

    def excludes_zero(self) -> bool:
        return self.lo > 0.0 or self.hi < 0.0


def paired_bootstrap_ci(
    a: Values, b: Values, n_boot: int = 2000, seed: int = 0, level: float = 0.95
) -> Interval:
    """CI of mean(a - b) over users (a[i], b[i]: the same user); nan pairs are dropped."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"paired samples differ in length: {x.shape} vs {y.shape}")
    keep = ~(np.isnan(x) | np.isnan(y))
    d = x[keep] - y[keep]
    n = int(d.shape[0])
    if n == 0:
        return Interval(float("nan"), float("nan"), float("nan"), 0)
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot, dtype=np.float64)
    chunk = max(1, 2_000_000 // max(n, 1))  # bound memory: resample in blocks
    for start in range(0, n_boot, chunk):
        m = min(chunk, n_boot - start)
        means[start : start + m] = d[rng.integers(0, n, size=(m, n))].mean(axis=1)
    tail = (1.0 - level) / 2.0 * 100.0
    lo, hi = np.percentile(means, [tail, 100.0 - tail])
    return Interval(float(d.mean()), float(lo), float(hi), n)


def ratio_of_sums_samples(
    num: npt.NDArray[np.float64], den: npt.NDArray[np.float64], n_boot: int = 2000, seed: int = 0
) -> npt.NDArray[np.float64]:
    """Bootstrap samples of sum(num[:, j]) / sum(den) with the clusters (rows, e.g. users) resampled.

    num: (n, m) per-cluster numerators, den: (n,) per-cluster denominators; returns (n_boot, m).
    Rates per impression with the user as the unit of randomization are this ratio.
    """
    n = int(den.shape[0])
    out = np.full((n_boot, num.shape[1]), np.nan)
    if n == 0:
        return out
    rng = np.random.default_rng(seed)
    both = np.concatenate([num, den[:, None]], axis=1).astype(np.float32)  # counts: exact below 2**24
    chunk = max(1, 4_000_000 // n)
    for start in range(0, n_boot, chunk):
        m = min(chunk, n_boot - start)
        # each resample as counts per cluster (one bincount for the chunk), then one matrix product
        idx = rng.integers(0, n, size=(m, n))
        idx += (np.arange(m, dtype=np.int64) * n)[:, None]
        counts = np.bincount(idx.ravel(), minlength=m * n).reshape(m, n).astype(np.float32)
        sums = (counts @ both).astype(np.float64)  # (m, cols)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[start : start + m] = sums[:, :-1] / sums[:, -1:]
    return out


def interval_of_difference(
    a: npt.NDArray[np.float64], b: npt.NDArray[np.float64], point: float, level: float = 0.95
) -> Interval:
    """Percentile interval of independent bootstrap samples a - b (two arms with different users)."""
    d = a - b
    d = d[~np.isnan(d)]
    if d.shape[0] == 0:
        return Interval(point, float("nan"), float("nan"), 0)
    tail = (1.0 - level) / 2.0 * 100.0
    lo, hi = np.percentile(d, [tail, 100.0 - tail])
    return Interval(point, float(lo), float(hi), int(d.shape[0]))
