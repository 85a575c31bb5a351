"""The sample-ratio-mismatch test: chi-square p-values against known values, and a 5-point skew caught."""

from __future__ import annotations

import math

import pytest

from cascade.experiments import ArmSpec, Experiment
from eval.ab.srm import chi2_sf, srm_test


@pytest.mark.parametrize(
    ("x", "df", "p"),
    [
        (3.841458820694124, 1, 0.05),
        (6.6348966010212145, 1, 0.01),
        (5.991464547107979, 2, 0.05),
        (7.814727903251178, 3, 0.05),
        (16.26623619623813, 3, 0.001),
        (9.487729036781154, 4, 0.05),
        (11.070497693516351, 5, 0.05),
    ],
)
def test_chi2_sf_matches_table_values(x: float, df: int, p: float) -> None:
    assert chi2_sf(x, df) == pytest.approx(p, rel=1e-9)


def test_chi2_sf_edges() -> None:
    assert chi2_sf(0.0, 3) == 1.0
    assert chi2_sf(1e4, 3) < 1e-300 or chi2_sf(1e4, 3) == 0.0
    with pytest.raises(ValueError):
        chi2_sf(1.0, 0)


def test_srm_on_known_counts() -> None:
    r = srm_test({"a": 650, "b": 350}, {"a": 70, "b": 30})
    assert r.chi2 == pytest.approx(50**2 / 700 + 50**2 / 300)
    assert r.df == 1
    assert r.p_value == pytest.approx(math.erfc(math.sqrt(r.chi2 / 2)))
    assert not r.passed and "SAMPLE RATIO MISMATCH" in r.message()
    ok = srm_test({"a": 702, "b": 298}, {"a": 70, "b": 30})
    assert ok.passed and ok.p_value > 0.8


def test_users_in_an_arm_without_weight_fail() -> None:
    r = srm_test({"a": 500, "b": 500, "c": 1}, {"a": 50, "b": 50, "c": 0})
    assert r.chi2 == 0.0 and not r.passed and r.unexpected_arms == {"c": 1}


def _exp(weights: dict[str, float]) -> Experiment:
    return Experiment(
        salt="rerank-v1-2025",
        arms=tuple(ArmSpec(name=n, weight=w, reranker="rules") for n, w in weights.items()),
    )


CONFIGURED: dict[str, float] = {"rules": 70, "llm-listwise": 10, "llm-single-pass": 10, "none": 10}


def _counts(exp: Experiment, n: int) -> dict[str, int]:
    out: dict[str, int] = {}
    for u in range(1, n + 1):
        a = exp.assign(u).name
        out[a] = out.get(a, 0) + 1
    return out


def test_a_5_point_skew_is_flagged_at_1000_users() -> None:
    healthy = srm_test(_counts(_exp(CONFIGURED), 1000), CONFIGURED)
    assert healthy.passed
    skewed = srm_test(_counts(_exp({**CONFIGURED, "none": 15}), 1000), CONFIGURED)
    assert not skewed.passed and skewed.p_value < 0.001


def test_power_is_alpha_without_skew_and_high_with_one() -> None:
    from eval.ab.srm import srm_power

    assert srm_power(CONFIGURED, CONFIGURED, 1000, alpha=0.05, sims=2000) < 0.08
    assert srm_power(CONFIGURED, {**CONFIGURED, "none": 15}, 1000, sims=2000) > 0.6
