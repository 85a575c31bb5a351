"""Power of an A/B comparison of per-impression rates with the user as the unit of randomization.

A rate is a ratio of sums over users, R = sum(y_u) / sum(m_u) (y_u: the user's numerator, m_u: their
impressions). Its delta-method (linearized) variance is Var(y_u - R m_u) / (n mean(m)^2), so one user
carries the standard deviation `per_user_sd`, and an arm of n users has the standard error sd / sqrt(n).
Two independent arms with the same per-user sd then need

    n per arm = (z[1 - alpha/2] + z[power])^2 (sd_a^2 + sd_b^2) / delta^2

users to detect a difference `delta` with a two-sided level-alpha test at that power; the minimum
detectable effect of a sample is (z[1 - alpha/2] + z[power]) times the standard error of its difference.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

ALPHA = 0.05
POWER = 0.8
_N = NormalDist()


def z_sum(alpha: float = ALPHA, power: float = POWER) -> float:
    """z[1 - alpha/2] + z[power] (2.80 at the usual 0.05 and 80%)."""
    if not (0.0 < alpha < 1.0 and 0.0 < power < 1.0):
        raise ValueError(f"alpha and power must lie in (0, 1), not {alpha} and {power}")
    return _N.inv_cdf(1.0 - alpha / 2.0) + _N.inv_cdf(power)


def mde(se_diff: float, alpha: float = ALPHA, power: float = POWER) -> float:
    """The smallest true difference detected with `power` when the difference's standard error is se_diff."""
    return z_sum(alpha, power) * se_diff


def per_user_sd(num: npt.NDArray[np.float64], den: npt.NDArray[np.float64]) -> float:
    """Linearized standard deviation of one user's contribution to sum(num) / sum(den) (see the module)."""
    n = int(den.shape[0])
    if n < 2 or den.sum() <= 0:
        return float("nan")
    ratio = num.sum() / den.sum()
    return float(np.std((num - ratio * den) / den.mean(), ddof=1))


def users_per_arm(delta: float, sd_a: float, sd_b: float, alpha: float = ALPHA, power: float = POWER) -> int:
    """Users in each of two equal arms to detect a true difference `delta` (see the module; at least 2)."""
    if delta == 0 or math.isnan(delta) or math.isnan(sd_a) or math.isnan(sd_b):
        raise ValueError(f"no sample size detects a difference of {delta} (per-user sd {sd_a}, {sd_b})")
    return max(2, math.ceil(z_sum(alpha, power) ** 2 * (sd_a**2 + sd_b**2) / delta**2))


def power_at(delta: float, sd_a: float, sd_b: float, n_a: int, n_b: int, alpha: float = ALPHA) -> float:
    """P(a two-sided level-alpha test flags the difference, with its true sign) at n_a and n_b users."""
    se = math.sqrt(sd_a**2 / n_a + sd_b**2 / n_b)
    return _N.cdf(abs(delta) / se - _N.inv_cdf(1.0 - alpha / 2.0))
