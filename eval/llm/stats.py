"""The numbers qualification and calibration share: within-window AUC, rank agreement, user intervals."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy.stats import kendalltau, rankdata

from eval.metrics.bootstrap import paired_bootstrap_ci

FloatArray = npt.NDArray[np.float64]


def window_auc(scores: npt.ArrayLike, relevant: npt.ArrayLike) -> float:
    """P(a relevant candidate outscores an irrelevant one), ties count half; nan without both kinds."""
    s = np.asarray(scores, dtype=np.float64)
    rel = np.asarray(relevant, dtype=bool)
    n_pos, n_neg = int(rel.sum()), int((~rel).sum())
    if n_pos == 0 or n_neg == 0:
        return math.nan
    ranks = rankdata(s)
    return float((ranks[rel].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def kendall(a: npt.ArrayLike, b: npt.ArrayLike) -> float:
    """Kendall's tau-b of two score vectors over the same candidates (0 when either is constant)."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return 0.0
    return float(kendalltau(x, y).statistic)


def interval(values: Sequence[float], n_boot: int = 2000, seed: int = 0) -> dict[str, float]:
    """{"mean", "lo", "hi", "n"}: the mean over users (nan dropped) with a bootstrap 95% CI over users."""
    v = [float(x) for x in values]
    ci = paired_bootstrap_ci(v, [0.0] * len(v), n_boot=n_boot, seed=seed)
    return {"mean": ci.mean_diff, "lo": ci.lo, "hi": ci.hi, "n": float(ci.n)}


def percentiles(values: Sequence[float]) -> dict[str, float]:
    """{"p50", "p95"} of `values` (nan when empty)."""
    if not values:
        return {"p50": math.nan, "p95": math.nan}
    p50, p95 = np.percentile(np.asarray(values, dtype=np.float64), [50, 95])
    return {"p50": float(p50), "p95": float(p95)}
