"""Experiments drawn from served logs: the assignment; what the intervals make of A/A and a known effect."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from cascade.experiments import bucket
from cascade.impressions import I_ARM, I_EXP, I_RID, I_TS, I_USER, O_ARM, O_RID, O_TYPE
from eval.ab.aa import PRIMARY, ServedLog, aa_summary, binomial_band, draw, effect_summary, experiments
from eval.ab.analysis import METRICS, RATES, ArmSpec, analyze
from eval.ab.clicks import ReturnModel, return_draws

Rows = tuple[list[list[Any]], list[list[Any]]]


def served(rows: Callable[..., Rows], name: str, users: int, seed: int, **kw: Any) -> ServedLog:
    return ServedLog.of(name, "rules", *rows(name, users, seed, **kw))


def test_draw_puts_each_user_in_the_arm_their_salted_hash_picks(clustered_rows: Callable[..., Rows]) -> None:
    a, b = served(clustered_rows, "a", 40, 1, per_user=3), served(clustered_rows, "b", 40, 2, per_user=3)
    imps, outs = draw([("control", 70, (a,)), ("treatment", 30, (b,))], "salt-1", "exp")
    arm_of = {int(r[I_USER]): r[I_ARM] for r in imps}
    assert arm_of == {u: "control" if bucket(u, "salt-1") < 0.7 else "treatment" for u in range(40)}
    assert len(imps) == 120 and {r[I_EXP] for r in imps} == {"exp"}
    # every row comes from the log of its user's arm, and every outcome follows its impression
    assert all(r[I_RID].startswith("a:" if arm_of[int(r[I_USER])] == "control" else "b:") for r in imps)
    owner = {r[I_RID]: r[I_ARM] for r in imps}
    assert outs and all(owner[o[O_RID]] == o[O_ARM] for o in outs)
    again, _ = draw([("control", 70, (a,)), ("treatment", 30, (b,))], "salt-2", "exp")
    assert {int(r[I_USER]): r[I_ARM] for r in again} != arm_of  # a fresh salt: a fresh randomization


def test_each_user_takes_one_realization_from_the_arms_logs(clustered_rows: Callable[..., Rows]) -> None:
    a, b = served(clustered_rows, "a", 200, 1, per_user=2), served(clustered_rows, "b", 200, 2, per_user=2)
    imps, _ = draw([("control", 1, (a, b))], "s")
    source: dict[int, set[str]] = {}
    for r in imps:
        source.setdefault(int(r[I_USER]), set()).add(r[I_RID].split(":")[0])
    assert all(len(v) == 1 for v in source.values()) and len(imps) == 400  # one log per user, all of it
    from_a = sum(v == {"a"} for v in source.values())
    assert from_a == sum(bucket(u, "s/realization") < 0.5 for u in range(200)) and 70 < from_a < 130


def _flagged(results: list[dict[str, Any]]) -> dict[str, float]:
    return {m: float(np.mean([r[m]["excludes_zero"] for r in results])) for m in RATES}


def test_aa_is_nominal_when_users_are_the_unit_and_not_when_impressions_are(
    clustered_rows: Callable[..., Rows],
) -> None:
    a, b = served(clustered_rows, "a", 200, 1), served(clustered_rows, "b", 200, 2)
    pool = (a, b)  # both arms draw each user's data from the same logs: the null holds for every user
    honest = _flagged(experiments([("control", 1, pool), ("treatment", 1, pool)], 80, 300, seed=0))
    assert all(share <= 0.125 for share in honest.values()), honest
    # the same experiments analyzed with every impression its own "user": intervals that ignore the clustering
    specs = [ArmSpec("control", 1, "rules"), ArmSpec("treatment", 1, "rules")]
    naive = []
    for e in range(80):
        imps, outs = draw([("control", 1, pool), ("treatment", 1, pool)], f"0-{e}")
        imps = [[*r[:I_USER], i, *r[I_USER + 1 :]] for i, r in enumerate(imps)]
        rep = analyze(imps, outs, "simulated", specs, control="control", n_boot=300, seed=e)
        naive.append(rep["comparisons_vs_control"]["treatment"])
    wrong = _flagged(naive)
    assert wrong["play_through"] >= 0.25 and wrong["play_through"] > 3 * honest["play_through"], wrong


def test_a_known_effect_is_detected_with_its_sign(clustered_rows: Callable[..., Rows]) -> None:
    a, worse = served(clustered_rows, "a", 400, 1), served(clustered_rows, "worse", 400, 3, lift=-0.25)
    res = experiments([("control", 1, (a,)), ("worse", 1, (worse,))], 30, 300, seed=0)
    s = effect_summary(res, sign=-1, target=0.95)
    pt = s["metrics"]["play_through"]
    assert pt["share"] >= 0.95 and pt["wrong_sign"] == 0 and pt["mean_diff"] < -0.1 and s["ok"]
    assert effect_summary(res, sign=1)["metrics"]["play_through"]["detected"] == 0


def test_binomial_band_and_the_aa_verdict() -> None:
    assert binomial_band(200) == (4, 16)
    assert binomial_band(1000) == (37, 64)

    def result(flag: bool) -> dict[str, Any]:
        return {"users": {"c": 5, "t": 5}, "srm_passed": True,
                **{m: {"excludes_zero": flag, "mean_diff": 0.0, "mde": 0.1} for m in METRICS}}  # fmt: skip

    ok = aa_summary([result(i < 10) for i in range(200)])
    assert ok["ok"] and ok["metrics"]["like_rate"]["flagged"] == 10 and ok["band"]["share"] == [0.02, 0.08]
    assert not aa_summary([result(i < 17) for i in range(200)])["ok"]
    assert not aa_summary([result(i < 3) for i in range(200)])["ok"]  # too few flagged: intervals too wide


def test_a_logs_rates_and_per_user_sd(clustered_rows: Callable[..., Rows]) -> None:
    log = served(clustered_rows, "a", 50, 1, per_user=4)
    r = log.rates()
    plays = sum(1 for rows in log.outs.values() for o in rows if o[3] == "play")
    assert (r["users"], r["impressions"]) == (50, 200) and r["plays_per_impression"] == plays / 200
    assert 0.0 < r["per_user_sd"]["play_through"] < 0.5
    assert r["plays_per_user"] == plays / 50  # the same plays, over users
    per_user = [sum(o[3] == "play" for o in log.outs.get(u, [])) for u in log.imps]
    assert r["per_user_sd"]["plays_per_user"] == pytest.approx(np.std(per_user, ddof=1))


def test_a_returning_audience_cuts_each_user_after_the_visit_they_do_not_return_from(
    clustered_rows: Callable[..., Rows],
) -> None:
    full = served(clustered_rows, "a", 30, 1, per_user=6)
    for rows in full.imps.values():
        rows.reverse()  # the cut follows the visits' times, not the rows' order
    assert full.with_returns(ReturnModel(after_empty=1.0), 5).imps.keys() == full.imps.keys()
    cut = full.with_returns(ReturnModel(after_empty=0.0), 5)
    for u, rows in full.imps.items():
        visits = sorted(rows, key=lambda r: float(r[I_TS]))
        played = [
            any(o[O_RID] == r[I_RID] and o[O_TYPE] == "play" for o in full.outs.get(u, [])) for r in visits
        ]
        n = played.index(False) + 1 if False in played else len(visits)  # gone after the first empty visit
        assert [r[I_RID] for r in cut.imps[u]] == [r[I_RID] for r in visits[:n]]
        kept = {r[I_RID] for r in visits[:n]}
        assert sorted(map(str, cut.outs.get(u, []))) == sorted(
            str(o) for o in full.outs.get(u, []) if o[O_RID] in kept
        )
    assert sum(map(len, cut.imps.values())) < sum(map(len, full.imps.values()))
    some = full.with_returns(ReturnModel(after_empty=0.5), 5)  # the draws: seeded per user, as live
    for u, rows in full.imps.items():
        visits = sorted(rows, key=lambda r: float(r[I_TS]))
        played = [
            any(o[O_RID] == r[I_RID] and o[O_TYPE] == "play" for o in full.outs.get(u, [])) for r in visits
        ]
        assert len(some.imps[u]) == ReturnModel(after_empty=0.5).visits(
            played, return_draws(5, u, len(visits))
        )
    # fewer visits, same rates per visit for whoever stays: plays per user falls with the returns
    assert some.rates()["plays_per_user"] < full.rates()["plays_per_user"]


def test_every_metric_is_judged_and_the_primary_decides() -> None:
    results = [{"users": {"control": 10, "t": 10}, "srm_passed": True,
                **{m: {"excludes_zero": e < 9, "mean_diff": -0.1, "mde": 0.1} for m in METRICS}}
               for e in range(10)]  # fmt: skip
    assert set(aa_summary(results)["metrics"]) == set(METRICS) and "plays_per_user" in METRICS
    eff = effect_summary(results, sign=-1, target=0.9)
    assert (
        eff["primary"] == PRIMARY == "mrr_first_play"
        and eff["metrics"][PRIMARY]["detected"] == 9
        and eff["ok"]
    )
    assert not effect_summary(results, sign=-1, target=0.95)["ok"]
