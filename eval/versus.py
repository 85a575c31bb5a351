"""`care versus`: the cascade's ranker order against every baseline, with paired bootstrap CIs.

The cascade replays the test window through the serving pipeline (`Runtime.offline_pipeline`) with
each user's features as of their test start; the baselines (eval.baselines, sequential ones
included) are tuned on the validation window and refit on train + validation. Every comparison is
paired over the same users (all test users by default).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cascade.metrics import accuracy
from cascade.runtime import load_runtime, window_start
from cascade.types import Context
from eval.baselines import run_baselines, window_truth
from eval.scoring import compare

METRICS = ("ndcg@10", "recall@10", "hit_rate@10", "mrr@10")
BOOTSTRAP_SEED = 0


def run(artifacts: Path | None = None, n_boot: int = 2000, k: int = 10) -> dict[str, Any]:
    """Mean metrics per system and the CI of (cascade - baseline) per metric."""
    rt = load_runtime(artifacts)
    split = rt.split
    truth = window_truth(split.test)
    users = sorted(truth)
    starts = window_start(split.test)
    pipe = rt.offline_pipeline("test")
    lists = {u: pipe.rank(u, Context(timestamp=float(starts[u]))).ranked.item_ids[:k].tolist() for u in users}
    per_user = {"cascade": {u: accuracy(lists[u], truth[u], k) for u in users}}
    params: dict[str, Any] = {}
    for name, b in run_baselines(split, rt.dataset.catalog, k, users=users).items():
        per_user[name] = b.per_user
        params[name] = {"params": b.params, "tuning": b.tuning}
    means = {s: {m: sum(p[u][m] for u in users) / len(users) for m in METRICS} for s, p in per_user.items()}
    cis = {
        name: compare(per_user["cascade"], p, users, n_boot, BOOTSTRAP_SEED, METRICS)
        for name, p in per_user.items()
        if name != "cascade"
    }
    return {"users": len(users), "means": means, "cascade_minus": cis, "baselines": params}
