"""`care eval --protocol titles`: every arm on labelled free-form titles, through the same pipeline.

Each sampled test user is paired with two titles of disjoint genres (eval.titlefit.pair_titles) and
asks for a list under each (slots A and B), so every arm is scored per user on:
- titlefit@10 (mean over the two slots) and titlefit_free@10 (free-form titles only),
- ndcg@10 on the user's own test items, of the titled lists (what following the title costs),
- steer@10 (eval.titlefit.steerability) and genre ILD.
Paired bootstrap CIs against the rules arm; title_tradeoff.png plots each arm's difference from the
rules in NDCG@10 (x) and TitleFit@10 (y) with both CIs. LLM arms run on the first --llm-users users.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from cascade.metrics import ndcg_at_k
from cascade.rerank.llm.fused import use_score_store
from cascade.types import Context
from eval import report as rep
from eval.arms import REFERENCE
from eval.cache import ResultCache
from eval.harness import RunKey, arm_fingerprint, cache_path, data_id, replay
from eval.metrics.diversity import ild_genre
from eval.plan import Plan
from eval.runner import BOOTSTRAP_SEED, eval_resolver, plan, versions
from eval.score_store import JsonlScoreStore
from eval.scoring import compare
from eval.titlefit import TITLES_FILE, LabelledTitle, load_titles, pair_titles, steerability, title_fit
from eval.tune_fusion import store_path

SLOTS = ("A", "B")
METRICS = ("ndcg@10", "titlefit@10", "titlefit_free@10", "steer@10", "ild_genre")


def replay_titles(
    p: Plan, pairs: dict[int, tuple[LabelledTitle, LabelledTitle]], titles_hash: str
) -> dict[str, dict[str, dict[int, list[int]]]]:
    """arm -> slot -> user -> list, every arm under both titles of every user (cached per row)."""
    res = eval_resolver(p)
    pipeline = p.runtime.offline_pipeline("test")
    did = data_id(p.runtime.manifest)
    store = JsonlScoreStore(store_path(p.cache_dir, p.cfg.llm, "fused"))
    use_score_store(store)
    out: dict[str, dict[str, dict[int, list[int]]]] = {}

    async def _run() -> None:
        try:
            for spec in p.specs:
                who = p.llm_users if spec.kind.uses_llm else p.users
                for slot_no, slot in enumerate(SLOTS):
                    ctx = {
                        u: Context(playlist_title=pairs[u][slot_no].title, timestamp=float(p.starts[u]))
                        for u in who
                    }
                    key = RunKey(spec, "with")
                    path = cache_path(p.cache_dir, key, p.cfg.deadline).with_suffix(f".titles{slot}.jsonl")
                    cache = ResultCache(path)
                    fp = arm_fingerprint(spec, p.cfg, "with", did) + f":titles:{titles_hash}:{slot}"
                    t0 = time.perf_counter()
                    try:
                        rows, computed = await replay(
                            pipeline, lambda spec=spec: res.resolve(spec), who, ctx, cache,  # type: ignore[misc]
                            hashlib.sha256(fp.encode()).hexdigest()[:16], p.cfg.k, drain=p.cfg.deadline,
                        )  # fmt: skip
                    finally:
                        cache.close()
                    if p.cfg.progress:
                        took = time.perf_counter() - t0
                        print(
                            f"{spec.name} [{slot}]: {len(rows)} users ({computed} computed) in {took:.0f} s"
                        )
                    out.setdefault(spec.name, {})[slot] = {u: r["items"] for u, r in rows.items()}
        finally:
            use_score_store(None)
            store.close()
            await res.aclose()

    asyncio.run(_run())
    return out


def per_user_metrics(
    lists: dict[str, dict[int, list[int]]],
    pairs: dict[int, tuple[LabelledTitle, LabelledTitle]],
    truth: dict[int, set[int]],
    genres: dict[int, tuple[str, ...]],
    k: int,
) -> dict[int, dict[str, float]]:
    """One arm's per-user title metrics from its A and B lists."""
    out: dict[int, dict[str, float]] = {}
    for u in lists["A"]:
        la, lb = lists["A"][u], lists["B"][u]
        ta, tb = pairs[u]
        aa, ba = title_fit(la, genres, ta, k), title_fit(lb, genres, ta, k)
        bb, ab = title_fit(lb, genres, tb, k), title_fit(la, genres, tb, k)
        free = [f for f, t in ((aa, ta), (bb, tb)) if t.free_form]
        rel = truth.get(u, set())
        out[u] = {
            "ndcg@10": (ndcg_at_k(la, rel, k) + ndcg_at_k(lb, rel, k)) / 2.0,
            "titlefit@10": (aa + bb) / 2.0,
            "titlefit_free@10": float(np.mean(free)) if free else math.nan,
            "steer@10": steerability(aa, ba, bb, ab),
            "ild_genre": (ild_genre(la[:k], genres) + ild_genre(lb[:k], genres)) / 2.0,
        }
    return out


def plot_title_tradeoff(path: Path, vs_rules: dict[str, dict[str, dict[str, float]]], title: str) -> None:
    """Each arm's (delta NDCG@10, delta TitleFit@10) against the rules, with paired 95% CIs."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5))
    ax.axhline(0, color="grey", lw=0.5)
    ax.axvline(0, color="grey", lw=0.5)
    for name, c in vs_rules.items():
        x, y = c["ndcg@10"], c["titlefit@10"]
        if any(v is None or math.isnan(v) for v in (x["mean_diff"], y["mean_diff"])):
            continue
        ax.errorbar(
            x["mean_diff"], y["mean_diff"],
            xerr=[[x["mean_diff"] - x["lo"]], [x["hi"] - x["mean_diff"]]],
            yerr=[[y["mean_diff"] - y["lo"]], [y["hi"] - y["mean_diff"]]],
            fmt="o", capsize=3,
        )  # fmt: skip
        ax.annotate(f"{name} (n={int(x['n'])})", (x["mean_diff"], y["mean_diff"]), xytext=(5, 4),
                    textcoords="offset points", fontsize=8)  # fmt: skip
    ax.set_xlabel("NDCG@10 - rules (paired 95% CI)")
    ax.set_ylabel("TitleFit@10 - rules (paired 95% CI)")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def markdown(report: dict[str, Any]) -> str:
    lines = [f"# Title protocol: {report['name']}", "", f"Titles: {report['titles']['file']} "
             f"({report['titles']['n']} titles, {report['titles']['free_form']} free-form).", ""]  # fmt: skip
    for set_name, systems in report["systems"].items():
        lines += [f"## {set_name} users (n={report['users'][set_name]['n']})", ""]
        rows = [[s] + [rep._f(m.get(k)) for k in METRICS] for s, m in systems.items()]
        lines += [rep._table(["arm", *METRICS], rows), ""]
        cmp = report["comparisons_vs_rules"].get(set_name, {})
        if cmp:
            lines += ["Paired difference vs rules, mean [95% CI]:", ""]
            rows = [
                [s]
                + [
                    f"{rep._f(c[k]['mean_diff'])} [{rep._f(c[k]['lo'])}, {rep._f(c[k]['hi'])}]"
                    for k in METRICS
                ]
                for s, c in cmp.items()
            ]
            lines += [rep._table(["arm", *METRICS], rows), ""]
    return "\n".join(lines) + "\n"


def evaluate_titles(cfg: Any, titles_file: Path = TITLES_FILE) -> Path:
    """Run the title protocol; returns the report folder (report.json, report.md, title_tradeoff.png)."""
    t_start = time.perf_counter()
    titles = load_titles(titles_file)
    titles_hash = hashlib.sha256(titles_file.read_bytes()).hexdigest()[:12]
    p = plan(cfg)
    pairs = pair_titles(p.users, titles, cfg.seed)
    lists = replay_titles(p, pairs, titles_hash)
    genres = p.info.genres
    per_user = {arm: per_user_metrics(ls, pairs, p.truth, genres, cfg.k) for arm, ls in lists.items()}
    sets = {"all": p.users}
    if p.llm_users != p.users and any(s.kind.uses_llm for s in p.specs):
        sets["llm"] = p.llm_users
    systems: dict[str, dict[str, dict[str, float]]] = {}
    vs_rules: dict[str, dict[str, Any]] = {}
    for set_name, who in sets.items():
        present = [a for a in per_user if all(u in per_user[a] for u in who)]
        systems[set_name] = {
            a: {m: float(np.nanmean([per_user[a][u][m] for u in who])) for m in METRICS} for a in present
        }
        vs_rules[set_name] = {
            a: compare(per_user[a], per_user[REFERENCE], who, cfg.n_boot, BOOTSTRAP_SEED, METRICS)
            for a in present
            if a != REFERENCE and REFERENCE in per_user
        }
    out = p.out
    out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "name": out.name,
        "protocol": "titles",
        "config": cfg.to_dict(),
        "versions": versions(),
        "titles": {"file": str(titles_file), "n": len(titles), "free_form": sum(t.free_form for t in titles)},
        "users": {k: {"n": len(v), "ids": v} for k, v in sets.items()},
        "pairs": {str(u): [a.title, b.title] for u, (a, b) in pairs.items()},
        "systems": systems,
        "comparisons_vs_rules": vs_rules,
        "wall_s": time.perf_counter() - t_start,
    }
    for set_name, cmp in vs_rules.items():
        plot_title_tradeoff(out / f"title_tradeoff_{set_name}.png", cmp, f"title protocol, {set_name} users")
    rep.write_json(out / "report.json", report)
    (out / "report.md").write_text(markdown(rep.clean_for_md(report)), encoding="utf-8")
    return out
