"""`care ab simulate --aa`: whether the A/B report's intervals can be trusted, on simulated experiments.

Five conditions are each served once to the whole simulated audience by a fresh service (the same
replay as `care ab simulate`: the cascade click model, plays and likes posted with the request id):
the experiment's control arm twice (two independent click draws), `none` (the ranker's order), and two
deliberately bad arms (eval/ab/reversed.py; only this simulation's own server can load them): the
ranker's top 10 in reverse, and its top 50 in reverse (ranks 50..41 served). Many experiments are then
drawn from those logs by re-randomizing who is in which arm (eval/ab/aa.py), each analyzed by
`care ab report`'s code:

- A/A (both arms draw from the control's logs): the share flagged at 95% must fall in the binomial
  band around 5% for every metric the report computes; intervals that ignored the user clustering
  would flag far more;
- known effects (control vs a bad arm): the share of experiments whose interval lies below zero;
- the power table: users per arm for the none-vs-control effect (offline NDCG@10 and online) and a
  1-point play-through effect, and for each bad arm the power predicted at the simulated layouts
  against the share of experiments that detected it.

The audience comes back by eval/ab/clicks.py's ReturnModel: after a visit with a play always, after a
visit without one with probability `after_empty` (default: the click model's own patience, the
probability of going on after an unrewarding position, so no new free parameter). Every condition is
served with all its visits, and each log is then cut where its users would have stopped
(`ServedLog.with_returns`; exact, since a visit's answer depends only on the user's earlier visits:
their plays, and the items earlier answers showed them, which the service's impression discount
(cascade/ranking/discount.py, on by default) moves down). Without that discount the top-10 reversal
was worse on a user's first visit only: later visits' top positions held items already passed over,
and the reversal put the newest candidate first. With it, each visit's top 10 holds items the user
has not passed over, so the reversal buries the best of them on every visit. The sensitivity table
repeats the A/A and known-effect experiments at other `after_empty` values from the same served logs;
the power table also sizes the first visit's reciprocal rank of the first play.

The verdict judges the instrument at the default audience: A/A within the band for every metric, and
both reversals caught below the control on the primary metric (`aa.PRIMARY`, the MRR of the first
play; plays per user was declared for the first run with the discount and caught the top-10 reversal
in 20 of 200) in >= 95% of experiments.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from cascade.impressions import I_ITEMS, I_RID, I_TS, O_POS, O_RID, O_TYPE, SqliteImpressionLog
from cascade.metrics import ndcg_at_k
from eval.ab.aa import PRIMARY, ServedLog, aa_summary, effect_summary, experiments
from eval.ab.analysis import METRICS
from eval.ab.clicks import ReturnModel
from eval.ab.power import ALPHA, POWER, power_at, users_per_arm
from eval.ab.report import read_rows
from eval.ab.reversed import KIND_NAME, SERVER_MODULE
from eval.ab.simulate import SimConfig, audience, replay, test_windows
from eval.report import _f, _table, write_json

TARGET = 0.95  # share of experiments that must detect the reversed arm with the right sign


@dataclass
class TrustConfig:
    sim: SimConfig
    experiments: int = 200
    shares: tuple[float, ...] = (0.5, 0.1)  # the treatment arm's share of users; the first one is judged
    returns: ReturnModel | None = None  # None: after_empty = the click model's patience
    sensitivity: tuple[float, ...] = (1.0, 0.7)  # other after_empty values, at the judged share

    def audience(self) -> ReturnModel:
        return self.returns or ReturnModel(after_empty=self.sim.clicks.patience)


def control_arm(experiments_file: Path) -> dict[str, Any]:
    """The default experiment's control arm as the file states it (`rules` if present, else the first)."""
    from cascade.experiments import load_experiments

    load_experiments(experiments_file)  # a clear error for a bad file, before anything is served
    doc = yaml.safe_load(experiments_file.read_text())
    arms = next(iter(doc["experiments"].values()))["arms"]
    arm: dict[str, Any] = next((a for a in arms if a["name"] == "rules"), arms[0])
    return arm


CONDITIONS = ("control", "control-again", "none", "reversed", "reversed-50")
BAD_ARMS = ("reversed", "reversed-50")


def conditions(control: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each condition's arm: the control twice, the ranker's order, and the deliberately bad arms (the
    ranker's top 10 in reverse; its top 50 in reverse, so ranks 50..41 are served)."""
    bad = ({"reranker": KIND_NAME}, {"reranker": KIND_NAME, "depth": 50})
    return dict(zip(CONDITIONS, (control, control, {"reranker": "none"}, *bad), strict=True))


def serving_file(folder: Path, name: str, arm: dict[str, Any]) -> Path:
    """An experiments file whose one experiment serves `arm` to every user."""
    folder.mkdir(parents=True, exist_ok=True)
    exp = {"salt": f"sim-{name}", "arms": [{**arm, "name": name, "weight": 1}]}
    doc = {"experiments": {f"sim-{name}": exp}}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def serve(cfg: TrustConfig) -> tuple[dict[str, ServedLog], dict[str, Any], dict[int, dict[int, float]]]:
    """Every condition served to the audience once; (logs, traffic per condition, test windows)."""
    sim = cfg.sim
    windows, times = test_windows()
    plan = audience(sim, windows)
    logs: dict[str, ServedLog] = {}
    traffic: dict[str, Any] = {}
    for i, (name, arm) in enumerate(conditions(control_arm(sim.experiments_file)).items()):
        path = serving_file(sim.out / "serving", name, arm)
        module = SERVER_MODULE if arm["reranker"] == KIND_NAME else "service.cli"
        run_cfg = replace(sim, seed=sim.seed + i, prompts_dir=sim.prompts_dir or sim.experiments_file.parent)
        sent, (imps, outs) = replay(
            run_cfg, path, plan, windows, times, read_rows, module=module, log_name=f"impressions-{name}"
        )
        if sent.errors:
            raise RuntimeError(f"condition {name}: {sent.errors} failed requests")
        logs[name] = ServedLog.of(name, str(arm["reranker"]), imps, outs)
        traffic[name] = asdict(sent) | {"click_seed": run_cfg.seed}
    return logs, traffic, windows


def first_answer_ndcg(log: ServedLog, windows: dict[int, dict[int, float]], k: int) -> np.ndarray:
    """NDCG@k of each user's first answer against their test window (the offline metric)."""
    out = []
    for u, rows in sorted(log.imps.items()):
        first = min(rows, key=lambda r: r[I_TS])
        out.append(ndcg_at_k([int(i) for i in str(first[I_ITEMS]).split()], set(windows.get(u, {})), k))
    return np.asarray(out, dtype=np.float64)


def first_visit_rr(log: ServedLog) -> np.ndarray:
    """Each user's reciprocal rank of the first play on their first visit (0 without a play)."""
    out = []
    for u, rows in sorted(log.imps.items()):
        first = min(rows, key=lambda r: float(r[I_TS]))[I_RID]
        pos = [int(o[O_POS]) for o in log.outs.get(u, []) if o[O_RID] == first and o[O_TYPE] == "play"]
        out.append(1.0 / min(pos) if pos else 0.0)
    return np.asarray(out, dtype=np.float64)


def control_rates(logs: dict[str, ServedLog]) -> dict[str, Any]:
    """The control's rates and per-user sds: the mean over its two logs (what its arm draws from)."""
    a, b = logs["control"].rates(), logs["control-again"].rates()
    return {**{m: (a[m] + b[m]) / 2 for m in METRICS},
            "per_user_sd": {m: (a["per_user_sd"][m] + b["per_user_sd"][m]) / 2 for m in METRICS}}  # fmt: skip


def power_table(
    logs: dict[str, ServedLog], windows: dict[int, dict[int, float]], k: int, effects: dict[str, Any]
) -> list[dict[str, Any]]:
    """Users per arm for each effect at 80% power and a two-sided 5% level; for the bad arms, the power
    the formula predicts at each simulated layout against the share of experiments that detected them."""
    ctrl, none = control_rates(logs), logs["none"].rates()
    rows: list[dict[str, Any]] = []

    def row(effect: str, metric: str, delta: float, sd_a: float, sd_b: float) -> dict[str, Any]:
        try:
            n: int | None = users_per_arm(delta, sd_a, sd_b, ALPHA, POWER)
        except ValueError:
            n = None
        rows.append({"effect": effect, "metric": metric, "delta": delta, "sd_per_user": [sd_a, sd_b],
                     "users_per_arm": n})  # fmt: skip
        return rows[-1]

    nd_ctrl = first_answer_ndcg(logs["control"], windows, k)
    nd_none = first_answer_ndcg(logs["none"], windows, k)
    row("none - control, offline", f"ndcg@{k} (first answer)", float(nd_none.mean() - nd_ctrl.mean()),
        float(nd_none.std(ddof=1)), float(nd_ctrl.std(ddof=1)))  # fmt: skip
    for m in METRICS:
        row("none - control, online", m, none[m] - ctrl[m], none["per_user_sd"][m], ctrl["per_user_sd"][m])
    sd = ctrl["per_user_sd"]["play_through"]
    row("1 point of play-through", "play_through", 0.01, sd, sd)
    rr_ctrl, rr_rev = first_visit_rr(logs["control"]), first_visit_rr(logs["reversed"])
    sd_rev, sd_ctrl = float(rr_rev.std(ddof=1)), float(rr_ctrl.std(ddof=1))
    r = row("reversed - control, first visit only", "reciprocal rank of the first play",
            float(rr_rev.mean() - rr_ctrl.mean()), sd_rev, sd_ctrl)  # fmt: skip
    for share, eff in effects["reversed"].items():  # predicted only: no report metric is first-visit
        n_c, n_t = (
            round(eff["users_per_arm"].get("control", 0.0)),
            round(eff["users_per_arm"].get("reversed", 0.0)),
        )
        if n_c > 0 and n_t > 0:
            r.setdefault("predicted_power", {})[share] = power_at(r["delta"], sd_rev, sd_ctrl, n_t, n_c)
    for bad in BAD_ARMS:
        rev = logs[bad].rates()
        for m in METRICS:
            sds = rev["per_user_sd"][m], ctrl["per_user_sd"][m]
            r = row(f"{bad} - control", m, rev[m] - ctrl[m], *sds)
            for share, eff in effects[bad].items():  # the formula's power against what was observed
                n_c, n_t = (
                    round(eff["users_per_arm"].get("control", 0.0)),
                    round(eff["users_per_arm"].get(bad, 0.0)),
                )
                if n_c > 0 and n_t > 0:
                    seen = eff["metrics"][m]["detected" if r["delta"] < 0 else "wrong_sign"]
                    r.setdefault("predicted_power", {})[share] = power_at(r["delta"], *sds, n_t, n_c)
                    r.setdefault("observed_detection", {})[share] = seen / eff["experiments"]
    return rows


def reuse(cfg: TrustConfig) -> tuple[dict[str, ServedLog], dict[str, Any], dict[int, dict[int, float]]]:
    """The SQLite logs an earlier run left in cfg.sim.out, instead of serving the conditions again."""
    windows, _ = test_windows()
    logs: dict[str, ServedLog] = {}
    traffic: dict[str, Any] = {}
    for name in CONDITIONS:
        path, spec = cfg.sim.out / f"impressions-{name}.sqlite", cfg.sim.out / "serving" / f"{name}.yaml"
        if not (path.is_file() and spec.is_file()):
            raise ValueError(
                f"{path}: no log to reuse (run `care ab simulate --aa` without --aa-reuse first)"
            )
        arm = next(iter(yaml.safe_load(spec.read_text())["experiments"].values()))["arms"][0]
        sink = SqliteImpressionLog(path)
        try:
            imps, outs = read_rows(sink, 0.0, math.inf)
        finally:
            sink.close()
        logs[name] = ServedLog.of(name, str(arm["reranker"]), imps, outs)
        traffic[name] = {"requests": len(imps), "reused": str(path)}
    return logs, traffic, windows


def run(cfg: TrustConfig, reuse_logs: bool = False) -> dict[str, Any]:
    """Serve the conditions (or reuse their logs), analyze the experiments, write aa.json and aa.md."""
    return evaluate(cfg, *(reuse(cfg) if reuse_logs else serve(cfg)))


def evaluate(
    cfg: TrustConfig,
    logs: dict[str, ServedLog],
    traffic: dict[str, Any],
    windows: dict[int, dict[int, float]],
) -> dict[str, Any]:
    """The experiments drawn from the served logs, the power table and the verdict (aa.json, aa.md)."""
    n, n_boot, seed = cfg.experiments, cfg.sim.n_boot, cfg.sim.seed
    model = cfg.audience()
    served = logs
    logs = returning(served, model, seed)
    aa: dict[str, Any] = {}
    effect: dict[str, dict[str, Any]] = {bad: {} for bad in BAD_ARMS}
    for share in cfg.shares:
        key = f"{share:g}"
        aa[key], by_arm = layout(logs, share, n, n_boot, seed)
        for bad in BAD_ARMS:
            effect[bad][key] = by_arm[bad]
    judged = f"{cfg.shares[0]:g}"
    sensitivity = [{"after_empty": model.after_empty, "default": True, "aa": aa[judged],
                    "known_effect": {bad: effect[bad][judged] for bad in BAD_ARMS},
                    "visits_per_user": _visits(logs)}]  # fmt: skip
    for value in cfg.sensitivity:
        if value == model.after_empty:
            continue
        other = returning(served, replace(model, after_empty=value), seed)
        a, by_arm = layout(other, cfg.shares[0], n, n_boot, seed)
        sensitivity.append({"after_empty": value, "default": False, "aa": a, "known_effect": by_arm,
                            "visits_per_user": _visits(other)})  # fmt: skip
    sensitivity.sort(key=lambda r: -float(r["after_empty"]))
    verdict = {
        "aa_within_band": bool(aa[judged]["ok"]),
        "reversed_detected": bool(effect["reversed"][judged]["ok"]),  # the target
        "reversed_50_detected": bool(effect["reversed-50"][judged]["ok"]),
    }
    # the instrument: honest under the null, and it catches both known-bad arms
    verdict["ok"] = all(verdict[k] for k in ("aa_within_band", "reversed_detected", "reversed_50_detected"))
    summary = {
        "config": {
            "experiments": n,
            "shares": list(cfg.shares),
            "judged_share": judged,
            "n_boot": n_boot,
            "seed": seed,
            "audience": {"users": cfg.sim.users, "requests": cfg.sim.requests, "k": cfg.sim.k},
            "clicks": asdict(cfg.sim.clicks),
            "returns": asdict(model),
            "primary": PRIMARY,
            "conditions": {c: lg.reranker for c, lg in logs.items()},
        },
        "traffic": traffic,
        "rates": {c: lg.rates() for c, lg in logs.items()},
        "rates_all_visits": {c: lg.rates() for c, lg in served.items()},
        "aa": aa,
        "known_effect": effect,
        "sensitivity": sensitivity,
        "power": power_table(logs, windows, cfg.sim.k, effect),
        "verdict": verdict,
    }
    cfg.sim.out.mkdir(parents=True, exist_ok=True)
    write_json(cfg.sim.out / "aa.json", json.loads(json.dumps(summary, default=str)))
    (cfg.sim.out / "aa.md").write_text(markdown(summary), encoding="utf-8")
    return summary


def returning(logs: dict[str, ServedLog], model: ReturnModel, seed: int) -> dict[str, ServedLog]:
    """Each condition's log as the returning audience leaves it (return draws seeded as its clicks were)."""
    return {c: lg.with_returns(model, seed + CONDITIONS.index(c)) for c, lg in logs.items()}


def layout(
    logs: dict[str, ServedLog], share: float, n: int, n_boot: int, seed: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """At one treatment share: the A/A summary, and each bad arm's known-effect summary."""
    w = (1.0 - share, share)
    control = (logs["control"], logs["control-again"])
    aa = aa_summary(experiments([("control", w[0], control), ("treatment", w[1], control)], n, n_boot, seed))
    effects = {}
    for bad in BAD_ARMS:
        res = experiments([("control", w[0], control), (bad, w[1], (logs[bad],))], n, n_boot, seed)
        effects[bad] = effect_summary(res, sign=-1, target=TARGET)
    return aa, effects


def _visits(logs: dict[str, ServedLog]) -> dict[str, float]:
    return {c: sum(len(r) for r in lg.imps.values()) / max(1, len(lg.imps)) for c, lg in logs.items()}


def markdown(s: dict[str, Any]) -> str:
    c = s["config"]
    lines = [
        "# care A/B instrument check (simulated experiments)",
        "",
        f"{c['experiments']} experiments per layout, each analyzed by `care ab report`'s code (per-user "
        f"bootstrap, {c['n_boot']} resamples); conditions served once each: "
        + ", ".join(f"{k} ({v}, {s['traffic'][k]['requests']} requests)" for k, v in c["conditions"].items())
        + ".",
        "",
        f"Audience: the cascade click model {c['clicks']}; users come back after a visit with a play with "
        f"probability {c['returns']['after_play']:g}, after one without with probability "
        f"{c['returns']['after_empty']:g} (eval/ab/clicks.py, ReturnModel). Visits per user: "
        + ", ".join(f"{k} {v:.2f}" for k, v in s["sensitivity"][_default(s)]["visits_per_user"].items())
        + f". Primary metric (what a known-bad arm must move): {c['primary']}.",
        "",
        "## A/A: share flagged at 95% (both arms drawn from the control's two logs)",
        "",
    ]
    rows = []
    for share, a in s["aa"].items():
        band = a["band"]["share"]
        users = " / ".join(f"{v:.0f}" for v in a["users_per_arm"].values())
        for m, v in a["metrics"].items():
            rows.append([share, users, m, f"{v['flagged']} ({v['share']:.3f})",
                         f"[{band[0]:.3f}, {band[1]:.3f}]", "yes" if v["within_band"] else "**NO**",
                         _f(v["mean_mde"])])  # fmt: skip
    lines += [_table(["treatment share", "users (control / treatment)", "metric", "flagged", "binomial band",
                      "within", "mean MDE"], rows), ""]  # fmt: skip
    srm = ", ".join(f"{a['srm_flagged']} of {a['experiments']} at share {k}" for k, a in s["aa"].items())
    lines += [f"The sample-ratio check (alpha 0.001) failed in {srm}.", ""]
    lines += ["## Known effects: deliberately bad arms against the control", "",
              "reversed: the ranker's top 10 in reverse (the issue's known effect); reversed-50: its top 50 "
              "in reverse (ranks 50..41 served). Detected: the 95% interval lies below 0.", ""]  # fmt: skip
    rows = []
    for bad, by_share in s["known_effect"].items():
        for share, e in by_share.items():
            users = " / ".join(f"{v:.0f}" for v in e["users_per_arm"].values())
            for m, v in e["metrics"].items():
                rows.append([bad, share, users, m, _f(v["mean_diff"]), f"{v['detected']} ({v['share']:.3f})",
                             str(v["wrong_sign"]), _f(v["mean_mde"])])  # fmt: skip
    lines += [_table(["arm", "treatment share", "users", "metric", "mean difference", "detected",
                      "above 0 instead", "mean MDE"], rows), ""]  # fmt: skip
    lines += ["## Power: users per arm at 80% power, two-sided 5%", ""]
    rows = [[p["effect"], p["metric"], _f(p["delta"]), " / ".join(_f(x, 3) for x in p["sd_per_user"]),
             str(p["users_per_arm"] or "–"),
             ", ".join(f"{k}: {v:.2f} vs {p['observed_detection'][k]:.2f}" if "observed_detection" in p
                       else f"{k}: {v:.2f} (predicted)"
                       for k, v in p.get("predicted_power", {}).items()) or "–"]
            for p in s["power"]]  # fmt: skip
    lines += [_table(["effect", "metric", "difference", "sd per user", "users per arm",
                      "predicted vs observed power (share)"], rows), ""]  # fmt: skip
    lines += [f"## Sensitivity to the audience's return after an empty visit (treatment share "
              f"{c['judged_share']})", "",
              "The same served logs, cut by each value of after_empty (1: users always come back). A/A: "
              "flagged per metric (band "
              f"{'-'.join(str(x) for x in s['aa'][c['judged_share']]['band']['count'])}); reversals: "
              "detected below the control, per metric.", ""]  # fmt: skip
    rows = []
    for r in s["sensitivity"]:
        flags = (f"{v['flagged']}" + ("" if v["within_band"] else "!") for v in r["aa"]["metrics"].values())
        cells = [", ".join(flags)]
        for bad in BAD_ARMS:
            cells.append(", ".join(str(v["detected"]) for v in r["known_effect"][bad]["metrics"].values()))
        mark = " (default)" if r["default"] else ""
        rows.append([f"{r['after_empty']:g}{mark}", f"{r['visits_per_user']['control']:.2f}", *cells])
    lines += [_table(["after_empty", "control visits per user", f"A/A flagged ({', '.join(METRICS)})",
                      "reversed detected", "reversed-50 detected"], rows), ""]  # fmt: skip
    v = s["verdict"]
    lines += [f"Verdict (treatment share {c['judged_share']}, after_empty {c['returns']['after_empty']:g}): "
              f"A/A within the band for every metric: **{v['aa_within_band']}**; detected below the control "
              f"on {c['primary']} in >= {TARGET:.0%}: the top 10 in reverse (the issue's known effect) "
              f"**{v['reversed_detected']}**; the top 50 in reverse **{v['reversed_50_detected']}**.",
              ""]  # fmt: skip
    return "\n".join(lines)


def _default(s: dict[str, Any]) -> int:
    return next(i for i, r in enumerate(s["sensitivity"]) if r["default"])
