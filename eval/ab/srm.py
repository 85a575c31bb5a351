"""Sample-ratio mismatch: chi-square goodness of fit of users per arm against the configured weights."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

SRM_ALPHA = 0.001  # the usual guardrail threshold: a false alarm once in a thousand healthy experiments


def chi2_sf(x: float, df: int) -> float:
    """P(X >= x) for a chi-square variable with `df` (integer >= 1) degrees of freedom."""
    if df < 1:
        raise ValueError(f"df must be >= 1, not {df}")
    if x <= 0:
        return 1.0
    h = x / 2.0
    if df % 2 == 0:
        term, total = 1.0, 1.0
        for k in range(1, df // 2):
            term *= h / k
            total += term
        return min(1.0, math.exp(-h) * total)
    total = math.erfc(math.sqrt(h))
    for k in range(1, (df + 1) // 2):
        total += math.exp(-h + (k - 0.5) * math.log(h) - math.lgamma(k + 0.5))
    return min(1.0, total)


@dataclass(frozen=True)
class SRMResult:
    observed: dict[str, int]
    expected: dict[str, float]
    chi2: float
    df: int
    p_value: float
    alpha: float
    unexpected_arms: dict[str, int] = field(default_factory=dict)  # users in arms the config gives no weight

    @property
    def passed(self) -> bool:
        return self.p_value >= self.alpha and not self.unexpected_arms

    def message(self) -> str:
        if self.passed:
            return f"SRM check passed: chi2={self.chi2:.2f}, df={self.df}, p={self.p_value:.3g}"
        parts = []
        if self.unexpected_arms:
            parts.append(f"users in arms without weight: {self.unexpected_arms}")
        if self.p_value < self.alpha:
            parts.append(f"chi2={self.chi2:.2f}, df={self.df}, p={self.p_value:.3g} < {self.alpha}")
        shares = ", ".join(
            f"{a}: {self.observed.get(a, 0)} vs {e:.1f} expected" for a, e in self.expected.items()
        )
        return "SAMPLE RATIO MISMATCH: " + "; ".join(parts) + f" ({shares}). Do not trust these results."

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}


def srm_test(
    observed: Mapping[str, int], weights: Mapping[str, float], alpha: float = SRM_ALPHA
) -> SRMResult:
    """Users per arm against `weights` (arms with weight 0 must see no users)."""
    live = {a: w for a, w in weights.items() if w > 0}
    total_w = sum(live.values())
    n = sum(observed.get(a, 0) for a in live)
    unexpected = {a: c for a, c in observed.items() if a not in live and c > 0}
    expected = {a: n * w / total_w for a, w in live.items()}
    chi2 = sum((observed.get(a, 0) - e) ** 2 / e for a, e in expected.items() if e > 0)
    df = max(1, len(live) - 1)
    p = chi2_sf(chi2, df) if len(live) > 1 and n > 0 else 1.0
    return SRMResult(dict(observed), expected, chi2, df, p, alpha, unexpected)


def srm_power(
    configured: Mapping[str, float],
    served: Mapping[str, float],
    users: int,
    alpha: float = SRM_ALPHA,
    sims: int = 4000,
    seed: int = 0,
) -> float:
    """Share of simulated experiments (users split by the `served` weights) the SRM check flags."""
    import numpy as np

    names = [a for a, w in configured.items() if w > 0]
    p = np.asarray([served.get(a, 0.0) for a in names], dtype=np.float64)
    counts = np.random.default_rng(seed).multinomial(users, p / p.sum(), size=sims)
    flagged = sum(
        not srm_test(dict(zip(names, map(int, c), strict=True)), configured, alpha).passed for c in counts
    )
    return flagged / sims
