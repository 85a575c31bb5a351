"""`care eval` end to end: sample users, replay every arm, score, compare, write the report folder."""

from __future__ import annotations

import asyncio
import platform
import subprocess
import time
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from eval import report as rep
from eval.arms import ArmFactory
from eval.baselines import run_baselines, window_truth
from eval.context import context_titles
from eval.harness import ArmResult, EvalConfig, arms_for, data_id, run_arms, sample_users
from eval.metrics.latency import stage_percentiles
from eval.metrics.llm import Call, llm_behaviour
from eval.scoring import COMPARED, ItemInfo, Vectors, aggregate, compare, list_metrics
from eval.trec import write_qrels, write_run

if TYPE_CHECKING:
    from cascade.runtime import Runtime

BOOTSTRAP_SEED = 12345
REFERENCE = "rules"
PACKAGES = ("numpy", "xgboost", "torch", "faiss-cpu", "llama_cpp_python", "matplotlib", "care")


def versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "platform": platform.platform()}
    for p in PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = "absent"
    try:
        out["git"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True, timeout=5
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        out["git"] = "unknown"
    return out


def item_vectors(runtime: Runtime) -> Vectors | None:
    """The retriever's item embeddings as {item id: vector}, when it exposes them."""
    fn = getattr(runtime.retriever, "item_vectors", None)
    if fn is None:
        return None
    vecs = fn() if callable(fn) else fn
    if isinstance(vecs, Mapping):
        return vecs
    arr = np.asarray(vecs)
    ids = getattr(runtime.retriever, "item_ids", runtime.dataset.catalog.item_ids)
    ids = ids() if callable(ids) else ids
    return {int(i): arr[r] for r, i in enumerate(np.asarray(ids)[: arr.shape[0]])}


def _first_ts(window: Any) -> tuple[list[int], list[list[int]]]:
    """Users of a window and, per user, the timestamps sorted (first = the window's start)."""
    by: dict[int, list[int]] = {}
    for u, t in zip(window.user.tolist(), window.ts.tolist(), strict=True):
        by.setdefault(int(u), []).append(int(t))
    users = sorted(by)
    return users, [sorted(by[u]) for u in users]


def default_out(name: str | None, root: Path = Path("reports")) -> Path:
    return root / (name or datetime.now(UTC).strftime("%Y%m%d-%H%M%S"))


def evaluate(cfg: EvalConfig, runtime: Runtime | None = None, factory: ArmFactory | None = None) -> Path:
    """Run the whole evaluation; returns the report folder."""
    t_start = time.perf_counter()
    if runtime is None:
        from cascade.runtime import load_runtime

        runtime = load_runtime(cfg.artifacts)
    rt = runtime
    out = cfg.out or default_out(None)
    cache_dir = cfg.cache_dir or out.parent / "cache"
    out.mkdir(parents=True, exist_ok=True)
    split, catalog, k = rt.split, rt.dataset.catalog, cfg.k

    test_users = sorted(set(split.test.user.tolist()))
    users = sample_users(test_users, cfg.users, cfg.seed)
    llm_users = users[: cfg.llm_users] if cfg.llm_users is not None else users
    history = split.history_before("test")
    titles = context_titles({u: list(h) for u, h in history.by_user().items()}, catalog)
    starts = {int(u): int(t[0]) for u, t in zip(*_first_ts(split.test), strict=True)}
    truth = window_truth(split.test)
    info = ItemInfo.build(catalog, [int(i) for i in history.item], item_vectors(rt))

    specs = arms_for(cfg)
    fac = factory or ArmFactory(catalog, cfg.llm, "serving" if cfg.deadline else "quality")
    pipeline = rt.offline_pipeline("test")

    async def _run() -> list[ArmResult]:
        try:
            return await run_arms(
                pipeline, fac, specs, users, llm_users, titles, starts, cfg, cache_dir, data_id(rt.manifest)
            )
        finally:
            await fac.aclose()

    t_arms = time.perf_counter()
    results = asyncio.run(_run())
    arms_s = time.perf_counter() - t_arms

    # per-user metrics of every system
    lists: dict[str, dict[int, list[int]]] = {}
    per_user: dict[str, dict[int, dict[str, float]]] = {}
    for r in results:
        label = r.key.label
        lists[label] = {u: row["items"] for u, row in r.rows.items()}
        per_user[label] = {
            u: list_metrics(row["items"], truth.get(u, set()), info, k, row["ranker_order"])
            for u, row in r.rows.items()
        }
    baselines: dict[str, Any] = {}
    if cfg.baselines:
        for name, b in run_baselines(split, catalog, k, users=users).items():
            label = f"baseline:{name}"
            lists[label] = b.lists
            per_user[label] = {u: list_metrics(b.lists[u], truth.get(u, set()), info, k) for u in b.lists}
            baselines[name] = {"params": b.params, "tuning": b.tuning}

    user_sets = {"all": users}
    if any(r.key.arm.reranker == "llm" for r in results) and llm_users != users:
        user_sets["llm"] = llm_users
    systems: dict[str, dict[str, dict[str, float]]] = {}
    comparisons: dict[str, dict[str, Any]] = {}
    for set_name, who in user_sets.items():
        present = [s for s in per_user if all(u in per_user[s] for u in who)]
        systems[set_name] = {s: aggregate(lists[s], per_user[s], who, info, k) for s in present}
        if REFERENCE in per_user and all(u in per_user[REFERENCE] for u in who):
            comparisons[set_name] = {}
            for s in present:
                # a no-context run is compared with rules under the same (absent) context
                ref = f"{REFERENCE}[no-context]" if s.endswith("[no-context]") else REFERENCE
                if s in (REFERENCE, f"{REFERENCE}[no-context]") or ref not in per_user:
                    continue
                comp = compare(per_user[s], per_user[ref], who, cfg.n_boot, BOOTSTRAP_SEED)
                comparisons[set_name][s] = comp

    context_effect: dict[str, Any] = {}
    by_arm: dict[str, dict[str, ArmResult]] = {}
    for r in results:
        by_arm.setdefault(r.key.arm.name, {})[r.key.context] = r
    for name, modes in by_arm.items():
        if "with" in modes and "without" in modes:
            who = sorted(set(modes["with"].rows) & set(modes["without"].rows))
            context_effect[name] = compare(
                per_user[modes["with"].key.label],
                per_user[modes["without"].key.label],
                who,
                cfg.n_boot,
                BOOTSTRAP_SEED,
                (*COMPARED, "position_overlap@10"),
            )

    change_keys = ("position_overlap@10", "set_overlap@10", "kendall_tau@10", "spearman@10")
    change: dict[str, dict[str, float]] = {}
    llm: dict[str, Any] = {}
    latency: dict[str, Any] = {}
    latency_samples: dict[str, dict[str, list[float]]] = {}
    for r in results:
        label = r.key.label
        agg = aggregate(lists[label], per_user[label], sorted(r.rows), info, k)
        change[label] = {c: agg[c] for c in change_keys} | {"n_users": agg["n_users"]}
        if r.key.arm.reranker == "llm":
            calls = [
                Call(row["reranker_used"], row["fallback_reason"], row["stats"]) for row in r.rows.values()
            ]
            llm[label] = llm_behaviour(calls)
        timings = [row["timings_ms"] for row in r.rows.values()]
        latency[label] = stage_percentiles(timings)
        latency_samples[label] = {s: [t[s] for t in timings if s in t] for s in ("total", "rerank")}

    report: dict[str, Any] = {
        "name": out.name,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "config": cfg.to_dict() | {"out": str(out), "cache_dir": str(cache_dir)},
        "versions": versions(),
        "seeds": {"sample": cfg.seed, "bootstrap": BOOTSTRAP_SEED, "artifacts": rt.manifest.get("seed")},
        "artifacts": {"path": str(rt.artifacts), "id": data_id(rt.manifest)},
        "arms": [
            {"name": s.name, "reranker": s.reranker, "prompt": s.prompt, "timeout_ms": s.timeout_ms}
            for s in specs
        ],
        "users": {name: {"n": len(who), "ids": who} for name, who in user_sets.items()},
        "systems": systems,
        "comparisons_vs_rules": comparisons,
        "context_effect": context_effect,
        "context_titles": {
            "rule": "eval/context.py: dominant genre(s) + decade of the last 20 items before the test window",
            "most_common": Counter(titles[u] for u in users).most_common(15),
            "per_user": {str(u): titles[u] for u in users},
        },
        "change": change,
        "llm_behaviour": llm,
        "latency_ms": latency,
        "baselines": baselines,
        "cache": {r.key.label: {"computed": r.computed, "cached": len(r.rows) - r.computed} for r in results},
        "wall_s": 0.0,
        "arms_wall_s": arms_s,
    }

    runs = out / "runs"
    runs.mkdir(exist_ok=True)
    for label, ls in lists.items():
        tag = "".join(ch if ch.isalnum() or ch in "-_.:" else "_" for ch in label)
        write_run(runs / f"{tag.replace(':', '_')}.run", ls, tag)
    write_qrels(out / "qrels.txt", {u: truth.get(u, set()) for u in users})
    last = list(user_sets)[-1]
    rep.plot_tradeoff(
        out / "tradeoff.png", systems[last], f"accuracy vs diversity ({last} users, n={len(user_sets[last])})"
    )
    if comparisons.get(last):
        rep.plot_ci_bars(
            out / "ci_bars.png", comparisons[last], ("ndcg@10", "recall@10", "ild_genre", "novelty")
        )
    rep.plot_latency(out / "latency.png", latency_samples)
    report["wall_s"] = time.perf_counter() - t_start
    rep.write_json(out / "report.json", report)
    (out / "report.md").write_text(rep.markdown(rep.clean_for_md(report)), encoding="utf-8")
    return out
