"""Paired bootstrap: seeded, 0 inside the interval for equal arms, outside for a clearly better arm."""

from __future__ import annotations

import math

import numpy as np
import pytest

from eval.metrics.bootstrap import paired_bootstrap_ci


def test_identical_arms_contain_zero() -> None:
    a = np.random.default_rng(1).random(300)
    ci = paired_bootstrap_ci(a, a.copy(), seed=0)
    assert ci.mean_diff == 0.0 and ci.lo <= 0.0 <= ci.hi and not ci.excludes_zero()


def test_same_distribution_contains_zero() -> None:
    rng = np.random.default_rng(2)
    base = rng.random(400)
    a = base + rng.normal(0, 0.05, 400)
    b = base + rng.normal(0, 0.05, 400)
    ci = paired_bootstrap_ci(a, b, seed=0)
    assert ci.lo < 0.0 < ci.hi


def test_clearly_better_arm_excludes_zero() -> None:
    rng = np.random.default_rng(3)
    b = rng.random(200)
    a = b + 0.1 + rng.normal(0, 0.05, 200)
    ci = paired_bootstrap_ci(a, b, seed=0)
    assert ci.excludes_zero() and ci.lo > 0.0
    assert ci.lo < ci.mean_diff < ci.hi
    worse = paired_bootstrap_ci(b, a, seed=0)
    assert worse.hi < 0.0


def test_seeded_and_paired() -> None:
    rng = np.random.default_rng(4)
    a, b = rng.random(100), rng.random(100)
    assert paired_bootstrap_ci(a, b, seed=7) == paired_bootstrap_ci(a, b, seed=7)
    assert paired_bootstrap_ci(a, b, seed=7) != paired_bootstrap_ci(a, b, seed=8)
    # paired: a large shared per-user effect cancels, so the interval stays narrow
    shared = rng.normal(0, 10, 100)
    ci = paired_bootstrap_ci(shared + 0.5, shared, seed=0)
    assert ci.lo == pytest.approx(0.5) and ci.hi == pytest.approx(0.5)


def test_nan_pairs_dropped_and_errors() -> None:
    ci = paired_bootstrap_ci([1.0, math.nan, 3.0], [0.0, 1.0, 2.0], seed=0)
    assert ci.n == 2 and ci.mean_diff == 1.0
    assert math.isnan(paired_bootstrap_ci([math.nan], [1.0]).mean_diff)
    with pytest.raises(ValueError):
        paired_bootstrap_ci([1.0, 2.0], [1.0])
