"""`care eval` end to end, in five steps: plan (users, titles, truth), replay every arm, score each
user's list, compare systems with paired bootstrap CIs, and write the report folder."""

from __future__ import annotations

import asyncio
import platform
import subprocess
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cascade.arms import ArmResolver, Mode, arm_resolver
from cascade.llm import InProcessBackendConfig, pull_smollm2
from eval import report as rep
from eval.arms import REFERENCE
from eval.baselines import run_baselines, window_truth
from eval.context import context_titles
from eval.harness import ArmRun, EvalConfig, arms_for, data_id, run_arms, sample_users
from eval.llm.claims import refuse, refused_gains
from eval.metrics.latency import stage_percentiles
from eval.metrics.llm import Call, llm_behaviour
from eval.plan import Plan
from eval.scoring import COMPARED, ItemInfo, Vectors, aggregate, compare, list_metrics
from eval.trec import write_qrels, write_run

if TYPE_CHECKING:
    from cascade.pipeline import Pipeline
    from cascade.runtime import Runtime

BOOTSTRAP_SEED = 12345
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


@dataclass
class Scores:
    """Each system's lists and per-user metrics (arms and baselines alike)."""

    lists: dict[str, dict[int, list[int]]] = field(default_factory=dict)
    per_user: dict[str, dict[int, dict[str, float]]] = field(default_factory=dict)
    baselines: dict[str, Any] = field(default_factory=dict)


@dataclass
class Comparison:
    """Aggregates per user set, paired CIs against the rules, and the effect of the playlist title."""

    systems: dict[str, dict[str, dict[str, float]]]
    vs_rules: dict[str, dict[str, Any]]
    context_effect: dict[str, Any]


def plan(cfg: EvalConfig, runtime: Runtime | None = None) -> Plan:
    """Sample users, derive their titles and start times, and choose the arms."""
    if runtime is None:
        from cascade.runtime import load_runtime

        runtime = load_runtime(cfg.artifacts)
    out = cfg.out or default_out(None)
    split, catalog = runtime.split, runtime.dataset.catalog
    users = sample_users(sorted(set(split.test.user.tolist())), cfg.users, cfg.seed)
    history = split.history_before("test")
    return Plan(
        cfg=cfg,
        runtime=runtime,
        out=out,
        cache_dir=cfg.cache_dir or out.parent / "cache",
        users=users,
        llm_users=users[: cfg.llm_users] if cfg.llm_users is not None else users,
        titles=context_titles({u: list(h) for u, h in history.by_user().items()}, catalog),
        starts={int(u): int(t[0]) for u, t in zip(*_first_ts(split.test), strict=True)},
        truth=window_truth(split.test),
        info=ItemInfo.build(catalog, [int(i) for i in history.item], item_vectors(runtime)),
        specs=arms_for(cfg),
    )


def eval_resolver(p: Plan) -> ArmResolver:
    """Arms resolved as the service resolves them: quality mode, or serving mode with --deadline."""
    llm = p.cfg.llm
    uses_llm = any(s.kind.uses_llm for s in p.specs)
    if uses_llm and isinstance(llm.backend, InProcessBackendConfig) and llm.backend.model_path is None:
        pull_smollm2()  # the embedded model, fetched and verified once
    mode: Mode = "serving" if p.cfg.deadline else "quality"
    return arm_resolver(p.runtime.dataset.catalog, mode, llm if uses_llm else None)


def replay_arms(p: Plan, resolver: ArmResolver | None = None) -> tuple[list[ArmRun], float]:
    """Every arm's list for every user (from the result cache where possible); and the wall time."""
    res = resolver or eval_resolver(p)
    pipeline: Pipeline = p.runtime.offline_pipeline("test")

    async def _run() -> list[ArmRun]:
        try:
            return await run_arms(
                pipeline, res, p.specs, p.users, p.llm_users, p.titles, p.starts, p.cfg, p.cache_dir,
                data_id(p.runtime.manifest),
            )  # fmt: skip
        finally:
            await res.aclose()

    t0 = time.perf_counter()
    results = asyncio.run(_run())
    return results, time.perf_counter() - t0


def score(p: Plan, results: list[ArmRun]) -> Scores:
    """Per-user metrics of every arm, and of the baselines when the config asks for them."""
    k, sc = p.cfg.k, Scores()
    for r in results:
        label = r.key.label
        sc.lists[label] = {u: row["items"] for u, row in r.rows.items()}
        sc.per_user[label] = {
            u: list_metrics(row["items"], p.truth.get(u, set()), p.info, k, row["ranker_order"])
            for u, row in r.rows.items()
        }
    if p.cfg.baselines:
        split, catalog = p.runtime.split, p.runtime.dataset.catalog
        for name, b in run_baselines(split, catalog, k, users=p.users).items():
            label = f"baseline:{name}"
            sc.lists[label] = b.lists
            sc.per_user[label] = {
                u: list_metrics(b.lists[u], p.truth.get(u, set()), p.info, k) for u in b.lists
            }
            sc.baselines[name] = {"params": b.params, "tuning": b.tuning}
    return sc


def compare_systems(p: Plan, results: list[ArmRun], sc: Scores) -> Comparison:
    """Aggregates per user set, paired bootstrap CIs against the rules, and the title's effect."""
    n_boot, per_user = p.cfg.n_boot, sc.per_user
    systems: dict[str, dict[str, dict[str, float]]] = {}
    vs_rules: dict[str, dict[str, Any]] = {}
    for set_name, who in p.user_sets.items():
        present = [s for s in per_user if all(u in per_user[s] for u in who)]
        systems[set_name] = {s: aggregate(sc.lists[s], per_user[s], who, p.info, p.cfg.k) for s in present}
        if REFERENCE in per_user and all(u in per_user[REFERENCE] for u in who):
            vs_rules[set_name] = {}
            for s in present:
                # a no-context run is compared with rules under the same (absent) context
                ref = f"{REFERENCE}[no-context]" if s.endswith("[no-context]") else REFERENCE
                if s in (REFERENCE, f"{REFERENCE}[no-context]") or ref not in per_user:
                    continue
                vs_rules[set_name][s] = compare(per_user[s], per_user[ref], who, n_boot, BOOTSTRAP_SEED)
    refuse(vs_rules, refused_gains(p.specs))  # a fused arm at LLM weight 0 shows no LLM gain
    context_effect: dict[str, Any] = {}
    by_arm: dict[str, dict[str, ArmRun]] = {}
    for r in results:
        by_arm.setdefault(r.key.arm.name, {})[r.key.context] = r
    for name, modes in by_arm.items():
        if "with" in modes and "without" in modes:
            who = sorted(set(modes["with"].rows) & set(modes["without"].rows))
            context_effect[name] = compare(
                per_user[modes["with"].key.label],
                per_user[modes["without"].key.label],
                who,
                n_boot,
                BOOTSTRAP_SEED,
                (*COMPARED, "position_overlap@10"),
            )
    return Comparison(systems, vs_rules, context_effect)


CHANGE_KEYS = ("position_overlap@10", "set_overlap@10", "kendall_tau@10", "spearman@10")


def write(p: Plan, results: list[ArmRun], sc: Scores, cmp: Comparison, timings: dict[str, float]) -> Path:
    """report.json, report.md, plots, TREC run files and qrels into the report folder."""
    out, k, rt = p.out, p.cfg.k, p.runtime
    out.mkdir(parents=True, exist_ok=True)
    change: dict[str, dict[str, float]] = {}
    llm: dict[str, Any] = {}
    latency: dict[str, Any] = {}
    latency_samples: dict[str, dict[str, list[float]]] = {}
    for r in results:
        label = r.key.label
        agg = aggregate(sc.lists[label], sc.per_user[label], sorted(r.rows), p.info, k)
        change[label] = {c: agg[c] for c in CHANGE_KEYS} | {"n_users": agg["n_users"]}
        if r.key.arm.kind.uses_llm:
            calls = [
                Call(row["reranker_used"], row["fallback_reason"], row["stats"]) for row in r.rows.values()
            ]
            llm[label] = llm_behaviour(calls)
        row_timings = [row["timings_ms"] for row in r.rows.values()]
        latency[label] = stage_percentiles(row_timings)
        latency_samples[label] = {s: [t[s] for t in row_timings if s in t] for s in ("total", "rerank")}
    user_sets = p.user_sets
    report: dict[str, Any] = {
        "name": out.name,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "config": p.cfg.to_dict() | {"out": str(out), "cache_dir": str(p.cache_dir)},
        "versions": versions(),
        "seeds": {"sample": p.cfg.seed, "bootstrap": BOOTSTRAP_SEED, "artifacts": rt.manifest.get("seed")},
        "artifacts": {"path": str(rt.artifacts), "id": data_id(rt.manifest)},
        "arms": [
            {"name": s.name, "reranker": s.reranker, "timeout_ms": s.timeout_ms, **s.options.model_dump()}
            for s in p.specs
        ],
        "users": {name: {"n": len(who), "ids": who} for name, who in user_sets.items()},
        "systems": cmp.systems,
        "comparisons_vs_rules": cmp.vs_rules,
        "refused_gains": refused_gains(p.specs),
        "context_effect": cmp.context_effect,
        "context_titles": {
            "rule": "eval/context.py: dominant genre(s) + decade of the last 20 items before the test window",
            "most_common": Counter(p.titles[u] for u in p.users).most_common(15),
            "per_user": {str(u): p.titles[u] for u in p.users},
        },
        "change": change,
        "llm_behaviour": llm,
        "latency_ms": latency,
        "baselines": sc.baselines,
        "cache": {r.key.label: {"computed": r.computed, "cached": len(r.rows) - r.computed} for r in results},
        **timings,
    }
    runs = out / "runs"
    runs.mkdir(exist_ok=True)
    for label, ls in sc.lists.items():
        tag = "".join(ch if ch.isalnum() or ch in "-_.:" else "_" for ch in label)
        write_run(runs / f"{tag.replace(':', '_')}.run", ls, tag)
    write_qrels(out / "qrels.txt", {u: p.truth.get(u, set()) for u in p.users})
    last = list(user_sets)[-1]
    rep.plot_tradeoff(
        out / "tradeoff.png",
        cmp.systems[last],
        f"accuracy vs diversity ({last} users, n={len(user_sets[last])})",
    )
    if cmp.vs_rules.get(last):
        rep.plot_ci_bars(
            out / "ci_bars.png", cmp.vs_rules[last], ("ndcg@10", "recall@10", "ild_genre", "novelty")
        )
    rep.plot_latency(out / "latency.png", latency_samples)
    rep.write_json(out / "report.json", report)
    plots = rep.image_lines(
        out, [("trade-off", "tradeoff.png"), ("CI", "ci_bars.png"), ("latency", "latency.png")]
    )
    (out / "report.md").write_text(rep.markdown(rep.clean_for_md(report), plots), encoding="utf-8")
    return out


def evaluate(cfg: EvalConfig, runtime: Runtime | None = None, resolver: ArmResolver | None = None) -> Path:
    """Run the whole evaluation; returns the report folder."""
    t_start = time.perf_counter()
    p = plan(cfg, runtime)
    results, arms_s = replay_arms(p, resolver)
    sc = score(p, results)
    cmp = compare_systems(p, results, sc)
    extra: dict[str, Any] = {"arms_wall_s": arms_s}
    if cfg.order_users > 0:
        from eval.order import order_sensitivity

        extra["order_sensitivity"] = order_sensitivity(p, cfg.order_users, cfg.order_passes)
    return write(p, results, sc, cmp, extra | {"wall_s": time.perf_counter() - t_start})
