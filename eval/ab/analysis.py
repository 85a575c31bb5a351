"""Per-arm online results from impressions and attributed outcomes, with per-user bootstrap intervals.

Users are the unit of randomization, so every interval resamples users (each with all their
impressions) within an arm; arms hold different users, so an arm's difference to the control is the
difference of two independent bootstrap distributions.

Two kinds of metric: rates per impression (RATES: a ratio of sums over users) and means per user
(PER_USER: plays per randomized user, the count an arm gains or loses when it changes how often users
come back as well as what they do per visit; a per-impression rate cannot see a lost visit).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from cascade.impressions import (
    I_ARM,
    I_EXP,
    I_FALLBACK,
    I_FORCED,
    I_RERANK,
    I_RID,
    I_TOTAL,
    I_USER,
    O_ARM,
    O_HOW,
    O_POS,
    O_RID,
    O_TYPE,
)
from eval.ab.power import mde
from eval.ab.srm import SRM_ALPHA, srm_test
from eval.metrics.bootstrap import interval_of_difference, ratio_of_sums_samples

# rate metrics per impression, numerator column order in the per-user matrix
RATES = ("play_through", "plays_per_impression", "like_rate", "mrr_first_play")
# means per user (the randomization unit): attributed plays over all of the user's impressions
PER_USER = ("plays_per_user",)
METRICS = RATES + PER_USER
_PLAYS = RATES.index("plays_per_impression")  # its numerator column: the user's plays


@dataclass(frozen=True)
class ArmSpec:
    """What the report needs to know of a configured arm."""

    name: str
    weight: float
    reranker: str


@dataclass
class Columns:
    """The impressions of one experiment as arrays (one row per impression)."""

    arm: npt.NDArray[np.int64]
    user: npt.NDArray[np.int64]
    fallback: npt.NDArray[np.bool_]
    total_ms: npt.NDArray[np.float64]
    rerank_ms: npt.NDArray[np.float64]
    arms: list[str]
    reasons: list[Counter[str]]
    row: dict[str, int]  # request id -> row


Row = Sequence[Any]  # an encoded record: cascade.impressions I_* / O_* field positions


def collect(impressions: Iterable[Row], experiment: str, arms: list[str]) -> tuple[Columns, int]:
    """The experiment's randomized impressions as columns (forced ones are skipped and counted)."""
    index = {a: i for i, a in enumerate(arms)}
    names = list(arms)
    mine = [v for v in impressions if v[I_EXP] == experiment]
    rows = [v for v in mine if not v[I_FORCED]]
    forced = len(mine) - len(rows)
    arm_names = [v[I_ARM] for v in rows]
    for a in sorted(set(arm_names) - set(index)):  # served arms the config no longer lists
        index[a] = len(names)
        names.append(a)
    fbs = [v[I_FALLBACK] for v in rows]
    reasons: list[Counter[str]] = [Counter() for _ in names]
    for (a, fb), c in Counter(
        (a, fb) for a, fb in zip(arm_names, fbs, strict=True) if fb is not None
    ).items():
        reasons[index[a]][fb] = c
    n = len(rows)
    arm_l = [index[a] for a in arm_names]
    user_l = [v[I_USER] for v in rows]
    fb_l = [fb is not None for fb in fbs]
    tot_l = [v[I_TOTAL] for v in rows]
    rr_l = [v[I_RERANK] for v in rows]
    row = dict(zip([v[I_RID] for v in rows], range(n), strict=True))
    cols = Columns(
        np.asarray(arm_l, dtype=np.int64),
        np.asarray(user_l, dtype=np.int64),
        np.asarray(fb_l, dtype=bool),
        np.asarray(tot_l, dtype=np.float64),
        np.asarray(rr_l, dtype=np.float64),
        names,
        reasons,
        row,
    )
    return cols, forced


@dataclass
class Outcomes:
    """Per impression row: plays, first play position (0: none), liked; plus event counts."""

    plays: npt.NDArray[np.float64]
    first: npt.NDArray[np.int64]
    liked: npt.NDArray[np.bool_]
    attributed: Counter[str]  # by "how"
    unattributed: Counter[str]  # by event type
    other_experiment: int


def join_outcomes(outcomes: Iterable[Row], cols: Columns) -> Outcomes:
    n = cols.arm.shape[0]
    outs = list(outcomes)
    unattributed = Counter(o[O_TYPE] for o in outs if o[O_ARM] is None or o[O_RID] is None)
    mine = [o for o in outs if o[O_ARM] is not None and o[O_RID] is not None]
    at = np.asarray([cols.row.get(o[O_RID], -1) for o in mine], dtype=np.int64)
    known = at >= 0  # else: another experiment's, a forced request's, or outside the time range
    attributed = Counter(o[O_HOW] or "?" for o, k in zip(mine, known.tolist(), strict=True) if k)
    types = np.asarray([o[O_TYPE] for o in mine], dtype=object)
    pos = np.asarray([o[O_POS] or 0 for o in mine], dtype=np.int64)
    is_play = known & (types == "play")
    plays = np.bincount(at[is_play], minlength=n).astype(np.float64)
    first = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    with_pos = is_play & (pos > 0)
    np.minimum.at(first, at[with_pos], pos[with_pos])
    first[first == np.iinfo(np.int64).max] = 0
    liked = np.zeros(n, dtype=bool)
    liked[at[known & (types == "like")]] = True
    return Outcomes(plays, first, liked, attributed, unattributed, int((~known).sum()))


def _pct(x: npt.NDArray[np.float64], q: float) -> float | None:
    return float(np.percentile(x, q)) if x.shape[0] else None


@dataclass
class UserSums:
    """One row per (arm, user): the arm's index, the user, each rate's numerator and the impressions."""

    arm: npt.NDArray[np.int64]
    user: npt.NDArray[np.int64]
    num: npt.NDArray[np.float64]  # (groups, len(RATES))
    den: npt.NDArray[np.float64]  # (groups,)


def user_sums(cols: Columns, outs: Outcomes) -> UserSums:
    """Per (arm, user) sums: the clusters every interval resamples."""
    span = int(cols.user.max()) + 1 if cols.user.shape[0] else 1
    keys, inverse = np.unique(cols.arm * span + cols.user, return_inverse=True)
    rr = np.where(outs.first > 0, 1.0 / np.maximum(outs.first, 1), 0.0)
    per_imp = np.stack(
        [(outs.plays > 0).astype(np.float64), outs.plays, outs.liked.astype(np.float64), rr], 1
    )
    num = np.stack([np.bincount(inverse, per_imp[:, j], keys.shape[0]) for j in range(len(RATES))], 1)
    den = np.bincount(inverse, minlength=keys.shape[0]).astype(np.float64)
    return UserSums(keys // span, keys % span, num.reshape(-1, len(RATES)).astype(np.float64), den)


def analyze(
    impressions: Iterable[Row],
    outcomes: Iterable[Row],
    experiment: str,
    specs: list[ArmSpec],
    control: str | None = None,
    n_boot: int = 2000,
    seed: int = 0,
    alpha: float = SRM_ALPHA,
) -> dict[str, Any]:
    """Every number of the A/B report (JSON-ready)."""
    cols, forced = collect(impressions, experiment, [s.name for s in specs])
    outs = join_outcomes(outcomes, cols)
    sums = user_sums(cols, outs)  # one group per (arm, user): the bootstrap resamples these
    g_arm, g_user, num, den = sums.arm, sums.user, sums.num, sums.den

    kinds = {s.name: s.reranker for s in specs}
    ctrl = (
        control
        if control is not None
        else ("rules" if "rules" in kinds else (specs[0].name if specs else ""))
    )
    arms_out: dict[str, Any] = {}
    samples: dict[str, npt.NDArray[np.float64]] = {}
    points: dict[str, dict[str, float]] = {}
    for a, name in enumerate(cols.arms):
        sel = g_arm == a
        imps = cols.arm == a
        n_imp = int(imps.sum())
        n_users = int(sel.sum())
        tot = num[sel].sum(axis=0)
        rates = {m: float(tot[j] / n_imp) if n_imp else float("nan") for j, m in enumerate(RATES)}
        rates["plays_per_user"] = float(tot[_PLAYS] / n_users) if n_users else float("nan")
        points[name] = rates
        boot = metric_samples(num[sel], den[sel], n_boot, seed + a)
        samples[name] = boot
        ci = {m: [_nanpct(boot[:, j], 2.5), _nanpct(boot[:, j], 97.5)] for j, m in enumerate(METRICS)}
        total_ms, rer = cols.total_ms[imps], cols.rerank_ms[imps]
        arms_out[name] = {
            "reranker": kinds.get(name, "?"),
            "users": int(sel.sum()),
            "impressions": n_imp,
            **rates,
            "ci95": ci,
            "plays": int(outs.plays[imps].sum()),
            "fallback_rate": float(cols.fallback[imps].mean()) if n_imp else None,
            "fallback_reasons": dict(cols.reasons[a].most_common()),
            "latency_ms": {
                "total_p50": _pct(total_ms, 50),
                "total_p95": _pct(total_ms, 95),
                "rerank_p50": _pct(rer, 50),
                "rerank_p95": _pct(rer, 95),
            },
        }
    comparisons: dict[str, Any] = {}
    if ctrl in samples:
        for name in cols.arms:
            if name == ctrl:
                continue
            comparisons[name] = {
                m: _interval(samples, points, name, ctrl, j, m) for j, m in enumerate(METRICS)
            }
    pairwise: dict[str, dict[str, Any]] = {}
    for i, a_name in enumerate(cols.arms):
        for b_name in cols.arms[i + 1 :]:
            pairwise[f"{a_name} - {b_name}"] = {
                m: _interval(samples, points, a_name, b_name, j, m) for j, m in enumerate(METRICS)
            }
    users_per_arm = {name: int((g_arm == a).sum()) for a, name in enumerate(cols.arms)}
    srm = srm_test(users_per_arm, {s.name: s.weight for s in specs}, alpha)
    multi = int((np.bincount(g_user, minlength=1) > 1).sum()) if g_user.shape[0] else 0
    return {
        "experiment": experiment,
        "control": ctrl,
        "n_boot": n_boot,
        "seed": seed,
        "totals": {
            "impressions": int(cols.arm.shape[0]),
            "users": int(np.unique(cols.user).shape[0]),
            "forced_impressions_skipped": forced,
            "users_in_several_arms": multi,
            "attributed_events": dict(outs.attributed),
            "unattributed_events": dict(outs.unattributed),
            "events_of_other_impressions": outs.other_experiment,
        },
        "arms": arms_out,
        "comparisons_vs_control": comparisons,
        "pairwise": pairwise,
        "srm": srm.to_dict(),
    }


def metric_samples(
    num: npt.NDArray[np.float64], den: npt.NDArray[np.float64], n_boot: int, seed: int
) -> npt.NDArray[np.float64]:
    """Bootstrap samples (n_boot, len(METRICS)) of every metric from one resampling of the users: per
    resample, each rate is sum(num) / sum(impressions) and each per-user mean sum(plays) / users."""
    means = ratio_of_sums_samples(np.column_stack([num, den]), np.ones_like(den), n_boot, seed)
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = means[:, : len(RATES)] / means[:, len(RATES) :]
    return np.column_stack([rates, means[:, _PLAYS]])


def _interval(
    samples: Mapping[str, npt.NDArray[np.float64]],
    points: Mapping[str, Mapping[str, float]],
    a: str,
    b: str,
    j: int,
    metric: str,
) -> dict[str, Any]:
    d = samples[a][:, j] - samples[b][:, j]
    iv = interval_of_difference(samples[a][:, j], samples[b][:, j], points[a][metric] - points[b][metric])
    d = d[~np.isnan(d)]
    se = float(d.std(ddof=1)) if d.shape[0] > 1 else float("nan")
    return {"mean_diff": iv.mean_diff, "lo": iv.lo, "hi": iv.hi, "excludes_zero": iv.excludes_zero(),
            "se": se, "mde": mde(se)}  # fmt: skip


def _nanpct(x: npt.NDArray[np.float64], q: float) -> float:
    x = x[~np.isnan(x)]
    return float(np.percentile(x, q)) if x.shape[0] else float("nan")
