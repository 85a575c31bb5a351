"""Sample sizes and minimum detectable effects: the formulas, and agreement with the report's bootstrap."""

from __future__ import annotations

import math

import numpy as np
import pytest

from eval.ab.power import mde, per_user_sd, power_at, users_per_arm, z_sum
from eval.metrics.bootstrap import ratio_of_sums_samples


def test_the_textbook_numbers() -> None:
    assert z_sum() == pytest.approx(1.959964 + 0.841621, abs=1e-5)
    # two proportions of 0.5 (sd 0.5 per user, one impression each), 10 points apart: 393 per arm
    assert users_per_arm(0.1, 0.5, 0.5) == 393
    assert users_per_arm(-0.1, 0.5, 0.5) == 393  # the sign does not matter
    assert users_per_arm(0.1, 0.0, 0.0) == 2  # no variance: the fewest users an interval needs
    assert mde(0.01) == pytest.approx(0.028016, abs=1e-5)
    assert power_at(0.1, 0.5, 0.5, 393, 393) == pytest.approx(0.80, abs=0.005)
    assert power_at(0.1, 0.5, 0.5, 100, 100) < 0.35 < power_at(0.1, 0.5, 0.5, 1000, 1000)
    with pytest.raises(ValueError, match="no sample size"):
        users_per_arm(0.0, 0.5, 0.5)
    with pytest.raises(ValueError, match="alpha and power"):
        z_sum(0.05, 1.0)


def test_per_user_sd_is_the_sd_of_user_means_when_users_see_as_many_impressions() -> None:
    means = np.array([0.0, 0.5, 1.0, 0.25])
    assert per_user_sd(means * 4, np.full(4, 4.0)) == pytest.approx(float(np.std(means, ddof=1)))
    assert math.isnan(per_user_sd(np.array([1.0]), np.array([2.0])))


def test_the_delta_method_agrees_with_the_reports_bootstrap() -> None:
    rng = np.random.default_rng(5)
    n = 400
    den = rng.integers(1, 30, size=n).astype(np.float64)  # heavy and light users
    p = rng.beta(0.5, 1.5, size=n)
    num = rng.binomial(den.astype(np.int64), p).astype(np.float64)
    boot = ratio_of_sums_samples(num[:, None], den, 4000, seed=1)[:, 0]
    assert per_user_sd(num, den) / math.sqrt(n) == pytest.approx(float(boot.std(ddof=1)), rel=0.08)
