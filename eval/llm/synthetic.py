"""A scorer of known quality for `care llm calibrate`: held-out relevance plus Gaussian noise.

A test double. It reads the truth, so it lives under eval/: no arm kind, experiments file or
serving path can reach it. Over the ranker's top `max_scored` it scores d * relevant + N(0, 1);
a relevant and an irrelevant candidate then compare with P = Phi(d / sqrt 2), so
d = sqrt 2 * Phi^-1(auc) sets the expected AUC of every window. Unscored candidates get the
window's minimum, as the fused arm's do.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

from cascade.types import RerankInput

FloatArray = npt.NDArray[np.float64]


def separation(auc: float) -> float:
    """The shift d of relevant scores over unit-variance noise that gives `auc`."""
    if not 0.0 < auc < 1.0:
        raise ValueError(f"AUC must lie strictly between 0 and 1, not {auc}")
    return math.sqrt(2.0) * NormalDist().inv_cdf(auc)


class SyntheticScorer:
    """WindowScorer whose scores carry a set AUC against `truth` (user -> relevant item ids)."""

    def __init__(
        self, auc: float, truth: Mapping[int, Collection[int]], seed: int = 0, max_scored: int = 20
    ) -> None:
        self.auc, self.d = auc, separation(auc)
        self.truth, self.seed, self.max_scored = truth, seed, max_scored

    async def llm_scores(self, inp: RerankInput) -> tuple[FloatArray, dict[str, float]]:
        """Scores for the first `max_scored` candidates; the rest at their minimum."""
        n_all = len(inp.candidates)
        n = min(n_all, self.max_scored)
        rel = np.asarray([c.item_id in self.truth.get(inp.user_id, ()) for c in inp.candidates[:n]], float)
        noise = np.random.default_rng([self.seed, abs(inp.user_id)]).standard_normal(n)
        s = self.d * rel + noise
        out = np.full(n_all, float(s.min()) if n else 0.0)
        out[:n] = s
        return out, {"llm_calls": 0.0}
