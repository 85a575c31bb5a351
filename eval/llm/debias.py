"""PriDe-style label-position prior of a window scorer, estimated from seeded shuffles of the same windows.

A window's log-probability of a candidate's label is modelled as item effect + prior[position] +
noise (Zheng et al., "Large Language Models Are Not Robust Multiple Choice Selectors", 2024: the
observed probability factors into a prior over option positions and a de-biased one). With the
candidates of every window shuffled K times, the two effects are separated by alternating least
squares; the de-biased score of a candidate under one shuffle is its score less the prior of the
position it held there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
ROUNDS = 20


@dataclass
class ShuffledWindow:
    """One window's scores under K shuffles: raw[k, i] for candidate i, held at label position pos[k, i]."""

    user: int
    raw: FloatArray  # (K, n)
    pos: IntArray  # (K, n)
    relevant: npt.NDArray[np.bool_]  # (n,)
    ms: list[float]  # scoring time of each shuffle


@dataclass
class Prior:
    """The prior per label position (mean zero over observed positions) and the split of score variance."""

    values: FloatArray
    share: float  # of the within-window score variance, explained by the label position alone
    item_share: float  # explained by the candidates alone (their mean over the shuffles)


def estimate_prior(windows: list[ShuffledWindow], n_pos: int = 20) -> Prior:
    """Alternating least squares of score = item + prior[pos] over every window and shuffle."""
    prior = np.zeros(n_pos, dtype=np.float64)
    centred = [w.raw - w.raw.mean(axis=1, keepdims=True) for w in windows]
    items = [c.mean(axis=0) for c in centred]
    counts = counts_at(windows, n_pos)
    seen = counts > 0
    for _ in range(ROUNDS):
        sums = sums_at(windows, [c - it[None, :] for c, it in zip(centred, items, strict=True)], n_pos)
        prior = np.where(seen, sums / np.maximum(counts, 1.0), 0.0)
        prior[seen] -= prior[seen].mean()
        items = [(c - prior[w.pos]).mean(axis=0) for w, c in zip(windows, centred, strict=True)]
    total = sum(float((c**2).sum()) for c in centred)
    if total <= 0.0:
        return Prior(prior, 0.0, 0.0)
    # each alone, as a least-squares fit: the mean score at each position; each candidate's mean
    pos_mean = np.where(seen, sums_at(windows, centred, n_pos) / np.maximum(counts, 1.0), 0.0)
    res_pos = sum(float(((c - pos_mean[w.pos]) ** 2).sum()) for w, c in zip(windows, centred, strict=True))
    res_item = sum(float(((c - c.mean(axis=0)) ** 2).sum()) for c in centred)
    return Prior(prior, 1.0 - res_pos / total, 1.0 - res_item / total)


def sums_at(windows: list[ShuffledWindow], centred: list[FloatArray], n_pos: int) -> FloatArray:
    """Sum of the centred scores at each label position."""
    out = np.zeros(n_pos)
    for w, c in zip(windows, centred, strict=True):
        np.add.at(out, w.pos.ravel(), c.ravel())
    return out


def counts_at(windows: list[ShuffledWindow], n_pos: int) -> FloatArray:
    """Observations at each label position."""
    out = np.zeros(n_pos)
    for w in windows:
        np.add.at(out, w.pos.ravel(), 1.0)
    return out


def debiased(w: ShuffledWindow, prior: FloatArray) -> FloatArray:
    """(K, n): each shuffle's scores less the prior of the position each candidate held."""
    return w.raw - prior[w.pos]
