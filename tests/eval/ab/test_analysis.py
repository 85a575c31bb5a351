"""Per-arm online numbers from hand-made impressions and outcomes (values checked by hand)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from cascade.impressions import Impression, Outcome
from eval.ab.analysis import METRICS, RATES, ArmSpec, analyze, metric_samples
from eval.metrics.bootstrap import ratio_of_sums_samples

SPECS = [ArmSpec("rules", 50, "rules"), ArmSpec("none", 50, "none")]


def imp(rid: str, user: int, arm: str, forced: bool = False, fallback: str | None = None) -> Impression:
    return Impression(1.0, rid, user, "main", arm, arm, fallback, None, (1, 2, 3, 4), 2.0, 0.5, forced)


def play(rid: str, arm: str, pos: int, typ: str = "play") -> Outcome:
    return Outcome(2.0, 0, pos, typ, rid, "main", arm, pos, "request_id")


IMPS = [
    imp("a1", 1, "rules"), imp("a2", 1, "rules"), imp("b1", 2, "rules", fallback="timeout"),
    imp("c1", 3, "none"), imp("d1", 4, "none"),
    imp("f1", 5, "none", forced=True),
    Impression(1.0, "o1", 6, "other", "rules", "rules", None, None, (1,), 1.0, 0.1, False),
]  # fmt: skip
OUTS = [
    play("a1", "rules", 2), play("a1", "rules", 3), play("a1", "rules", 3, "like"),
    play("b1", "rules", 1),
    play("c1", "none", 4),
    play("f1", "none", 1),  # a forced impression's
    Outcome(2.0, 9, 9, "play", None, None, None, None, None),
]  # fmt: skip


def test_rates_per_impression_and_mrr_of_the_first_play() -> None:
    r = analyze([i.row() for i in IMPS], [o.row() for o in OUTS], "main", SPECS, n_boot=200)
    rules, none = r["arms"]["rules"], r["arms"]["none"]
    assert (rules["users"], rules["impressions"], none["users"], none["impressions"]) == (2, 3, 2, 2)
    assert rules["play_through"] == pytest.approx(2 / 3)
    assert rules["plays_per_impression"] == pytest.approx(3 / 3)
    assert rules["like_rate"] == pytest.approx(1 / 3)
    assert rules["mrr_first_play"] == pytest.approx((1 / 2 + 0 + 1) / 3)
    assert none["play_through"] == pytest.approx(1 / 2)
    assert none["mrr_first_play"] == pytest.approx((1 / 4) / 2)
    assert rules["fallback_rate"] == pytest.approx(1 / 3) and rules["fallback_reasons"] == {"timeout": 1}
    assert r["totals"]["forced_impressions_skipped"] == 1
    assert r["totals"]["unattributed_events"] == {"play": 1}
    assert r["totals"]["events_of_other_impressions"] == 1
    comp = r["comparisons_vs_control"]["none"]["play_through"]
    assert r["control"] == "rules" and comp["mean_diff"] == pytest.approx(1 / 2 - 2 / 3)
    assert comp["lo"] <= comp["mean_diff"] <= comp["hi"]
    assert r["pairwise"]["rules - none"]["play_through"]["mean_diff"] == pytest.approx(2 / 3 - 1 / 2)
    assert r["srm"]["observed"] == {"rules": 2, "none": 2} and r["srm"]["passed"]
    # plays per randomized user: a user who stops coming back lowers it, a rate per impression cannot
    assert rules["plays_per_user"] == pytest.approx(3 / 2) and none["plays_per_user"] == pytest.approx(1 / 2)
    per_user = r["comparisons_vs_control"]["none"]["plays_per_user"]
    assert per_user["mean_diff"] == pytest.approx(1 / 2 - 3 / 2) and per_user["mde"] > 0
    assert rules["ci95"]["plays_per_user"][0] <= 3 / 2 <= rules["ci95"]["plays_per_user"][1]


def test_intervals_are_per_user_and_shrink_with_more_users() -> None:
    def data(n: int) -> tuple[list[Impression], list[Outcome]]:
        imps, outs = [], []
        for u in range(n):
            for arm in ("rules", "none"):
                rid = f"{arm}{u}"
                imps.append(imp(rid, u if arm == "rules" else 10_000 + u, arm))
                if u % 2 == 0:
                    outs.append(play(rid, arm, 1))
        return imps, outs

    def rows(n: int) -> tuple[list[list[Any]], list[list[Any]]]:
        imps, outs = data(n)
        return [i.row() for i in imps], [o.row() for o in outs]

    small = analyze(*rows(20), "main", SPECS, n_boot=500)["arms"]["rules"]["ci95"]["play_through"]
    large = analyze(*rows(400), "main", SPECS, n_boot=500)["arms"]["rules"]["ci95"]["play_through"]
    assert small[0] < 0.5 < small[1] and large[0] < 0.5 < large[1]
    assert large[1] - large[0] < (small[1] - small[0]) / 2


def test_every_metric_comes_from_one_resampling_of_the_users() -> None:
    num = np.array([[1.0, 2.0, 1.0, 0.5], [0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 0.0, 1.0]])
    den = np.array([2.0, 1.0, 3.0])
    s = metric_samples(num, den, 300, 7)
    assert s.shape == (300, len(METRICS))
    rates = ratio_of_sums_samples(num, den, 300, 7)  # the same users drawn: the same resamples
    np.testing.assert_allclose(s[:, : len(RATES)], rates, rtol=1e-6)
    # plays per user and plays per impression share their resample: their ratio is the impressions per user
    means = ratio_of_sums_samples(np.column_stack([num, den]), np.ones(3), 300, 7)
    np.testing.assert_allclose(s[:, METRICS.index("plays_per_user")], means[:, 1], rtol=1e-6)
    assert set(s[:, METRICS.index("plays_per_user")].round(6)) <= {round(x / 3, 6) for x in range(7)}
