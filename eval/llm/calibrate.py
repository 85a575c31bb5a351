"""`care llm calibrate`: what AUC a scorer must carry for the fused arm to pay off.

For each target AUC a synthetic scorer (eval.llm.synthetic: held-out relevance plus noise) scores the
ranker's top 20 of test-window users, and the fused arm's own code decides and measures:
eval.tune_fusion's grid and choice (the paired-CI rule included) pick the weight and MMR lambda on
the tuning users (users N..2N-1 of the eval's seeded permutation, as `care tune-fusion
--eval-users N` takes them), and the chosen arm is measured against the rules on the first N users
(those `care eval --users N` reports on): NDCG@10 gain with a paired bootstrap CI.
TitleFit@10: the same with each user given a labelled title (eval/titles.yaml) and the scorer's truth
the title's on-theme candidates (sharing a labelled genre); the weight is tuned for TitleFit@10 with
no ILD floor (following a title narrows genres by design) at the rules' own MMR lambda (without the
floor a lambda change would trade diversity for fit, which is not the scorer's doing).
The break-even AUC (eval.llm.verdict.break_even) is the lowest calibrated AUC from which every
higher one has a weight above 0 and a gain whose CI lies above 0.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from cascade.metrics import ndcg_at_k
from cascade.rerank.rules import DEFAULT_CONFIG, RulesReranker
from eval.llm.page import calibration_markdown
from eval.llm.stats import interval, window_auc
from eval.llm.synthetic import SyntheticScorer
from eval.llm.verdict import break_even
from eval.metrics.bootstrap import Interval
from eval.report import write_json
from eval.titlefit import load_titles, pair_titles
from eval.tune_fusion import (
    ILD_SLACK,
    LAMBDAS,
    Genres,
    Metric,
    Sample,
    Window,
    fused_top,
    gain,
    held_out_users,
    item_genres,
    score_windows,
    share_at_k,
    tune,
    user_windows,
)

N_SCORED = 20
DEFAULT_AUCS = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.9)


def as_dict(ci: Interval) -> dict[str, float]:
    return {"mean": ci.mean_diff, "lo": ci.lo, "hi": ci.hi}


def measured_auc(samples: Sequence[Sample]) -> float:
    """Mean within-window AUC of the scores over the scored top 20 (windows with both kinds)."""
    vals = []
    for s in samples:
        n = min(len(s.inp.candidates), N_SCORED)
        rel = [c.item_id in s.truth for c in s.inp.candidates[:n]]
        vals.append(window_auc(s.llm[:n], rel))
    return interval(vals, n_boot=200)["mean"]


class Calibration:
    """The windows of both user sets, scored by the synthetic scorer at each AUC and tuned."""

    def __init__(self, tune_w: list[Window], eval_w: list[Window], rules: RulesReranker, genres: Genres,
                 n_boot: int, seed: int) -> None:  # fmt: skip
        self.tune_w, self.eval_w, self.rules, self.genres = tune_w, eval_w, rules, genres
        self.n_boot, self.seed = n_boot, seed

    def samples(self, auc: float, windows: list[Window]) -> list[Sample]:
        truth = {w.inp.user_id: w.truth for w in windows}
        return asyncio.run(score_windows(SyntheticScorer(auc, truth, self.seed, N_SCORED), windows))

    def row(
        self, auc: float, metric: Metric, key: str, ild_slack: float, lambdas: tuple[float, ...]
    ) -> dict[str, Any]:
        """Tune on the tuning users, then the chosen arm's gain over the rules on the eval users."""
        tuned = self.samples(auc, self.tune_w)
        best, _, _ = tune(tuned, self.rules, self.genres, True, metric, key, ild_slack, lambdas)
        held = self.samples(auc, self.eval_w)
        g = gain(held, self.rules, best["weight"], best["mmr_lambda"], metric, n_boot=self.n_boot)
        rules = float(np.mean([metric(fused_top(self.rules, s, 0.0), s.truth, 10) for s in held]))
        return {"weight": best["weight"], "mmr_lambda": best["mmr_lambda"], "gain": as_dict(g),
                "rules": rules, "measured_auc": measured_auc(held)}  # fmt: skip


def titled_windows(rt: Any, users: list[int], seed: int) -> list[Window]:
    """Each user's window under a labelled title, its truth the title's on-theme candidates."""
    pairs = pair_titles(users, load_titles(), seed)
    windows = user_windows(rt, users, "test", {u: pairs[u][0].title for u in users})
    for w in windows:
        want = set(pairs[w.inp.user_id][0].genres)
        w.truth = {c.item_id for c in w.inp.candidates if want & set(c.genres)}
    return windows


def calibrate(
    aucs: Sequence[float],
    users: int = 300,
    seed: int = 0,
    artifacts: Path | None = None,
    n_boot: int = 2000,
) -> dict[str, Any]:
    """One row per target AUC: tuned weight, NDCG@10 and TitleFit@10 gains; and the break-even AUCs."""
    from cascade.runtime import load_runtime

    for a in aucs:
        if not 0.0 < a < 1.0:
            raise ValueError(f"--auc must lie strictly between 0 and 1, not {a}")
    rt = load_runtime(artifacts)
    eval_u = held_out_users(rt, users, 0, seed)
    tune_u = held_out_users(rt, users, users, seed)
    rules = RulesReranker.from_yaml(DEFAULT_CONFIG, catalog=rt.dataset.catalog)
    genres = item_genres(rt)
    plain = Calibration(user_windows(rt, tune_u), user_windows(rt, eval_u), rules, genres, n_boot, seed)
    titled = Calibration(titled_windows(rt, tune_u, seed), titled_windows(rt, eval_u, seed), rules, genres,
                         n_boot, seed)  # fmt: skip
    rows = []
    for a in sorted(set(aucs)):
        nd = plain.row(a, ndcg_at_k, "ndcg@10", ILD_SLACK, LAMBDAS)
        ti = titled.row(a, share_at_k, "titlefit@10", math.inf, (rules.config.mmr_lambda,))
        rows.append({
            "auc": a, "weight": nd["weight"], "mmr_lambda": nd["mmr_lambda"], "ndcg_gain": nd["gain"],
            "ndcg_rules": nd["rules"], "titlefit_rules": ti["rules"],
            "measured_auc": nd["measured_auc"], "titlefit_weight": ti["weight"],
            "titlefit_mmr_lambda": ti["mmr_lambda"], "titlefit_gain": ti["gain"],
            "titlefit_measured_auc": ti["measured_auc"],
        })  # fmt: skip
    return {
        "rows": rows,
        "break_even_auc": {
            "ndcg": break_even(rows),
            "titlefit": break_even(rows, "titlefit_gain", "titlefit_weight"),
        },
        "users": {
            "tune": f"test users {users}..{users + len(tune_u) - 1} of the seed-{seed} permutation",
            "eval": f"test users 0..{len(eval_u) - 1} of the seed-{seed} permutation",
        },
        "scorer": "synthetic: d * relevant + N(0, 1) over the ranker's top 20, d = sqrt(2) * Phi^-1(AUC)",
        "artifacts": str(rt.artifacts),
        "seed": seed,
        "n_boot": n_boot,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def plot(path: Path, doc: dict[str, Any]) -> None:
    """Fused gain over the rules against the scorer's AUC, NDCG@10 and TitleFit@10, with 95% CIs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = doc["rows"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, key, label, be in (
        (axes[0], "ndcg_gain", "NDCG@10", doc["break_even_auc"]["ndcg"]),
        (axes[1], "titlefit_gain", "TitleFit@10", doc["break_even_auc"]["titlefit"]),
    ):
        x = np.asarray([r["auc"] for r in rows])
        m = np.asarray([r[key]["mean"] for r in rows])
        lo, hi = np.asarray([r[key]["lo"] for r in rows]), np.asarray([r[key]["hi"] for r in rows])
        ax.errorbar(x, m, yerr=[m - lo, hi - m], fmt="o-", capsize=3)
        ax.axhline(0.0, color="black", lw=0.8)
        if be is not None:
            ax.axvline(be, color="tab:red", ls="--", lw=1, label=f"break-even AUC {be:.2f}")
            ax.legend(fontsize=8)
        ax.set_xlabel("scorer AUC within the ranker's top 20")
        ax.set_ylabel(f"fused {label} minus rules")
        ax.set_title(f"{label} gain (95% CI, held-out users)", fontsize=10)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(out: Path, doc: dict[str, Any]) -> None:
    """out/calibration.json, calibration.md and calibration.png."""
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "calibration.json", doc)
    plot(out / "calibration.png", doc)
    (out / "calibration.md").write_text(calibration_markdown(doc), encoding="utf-8")
