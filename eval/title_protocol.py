"""`care eval --protocol titles`: every arm on labelled free-form titles, through the same pipeline.

Each sampled test user is paired with two titles of disjoint genres (eval.titlefit.pair_titles) and
asks for a list under each (slots A and B), so every arm is scored per user on:
- titlefit@10 (mean over the two slots) and titlefit_free@10 (free-form titles only),
- ndcg@10 on the user's own test items, of the titled lists (what following the title costs),
- steer@10 (eval.titlefit.steerability) and genre ILD,
- kept@10: the share of the user's own top 10 (the ranker's, for the same user without a title) the
  titled list keeps; kept_titled@10: the share of the ranker's top 10 under the title it keeps.
The readers' title intents are scored against the labelled genres (eval.titlefit.intent_quality);
arms that read the LLM's intent get it computed for every title first (the cache serving reads).
Paired bootstrap CIs against the rules arm; title_tradeoff.png plots each arm's difference from the
rules in NDCG@10 (x) and TitleFit@10 (y) with both CIs. LLM arms run on the first --llm-users users.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from cascade.experiments import ArmSpec
from cascade.llm import InProcessBackendConfig, LLMSettings, pull_smollm2, use_score_store
from cascade.metrics import ndcg_at_k
from cascade.rerank.title.intent import GENRE_NAMES, TitleIntent
from cascade.rerank.title.intent_store import IntentStore, LLMIntents
from cascade.rerank.title.term import shared_intents, text_intents, use_intents
from cascade.rerank.title_kind import TitleRulesConfig, reads_llm
from cascade.runtime import Runtime
from cascade.types import Context
from eval import report as rep
from eval.arms import REFERENCE
from eval.cache import ResultCache
from eval.harness import RunKey, arm_fingerprint, cache_path, data_id, replay
from eval.metrics.change import overlap_at_k
from eval.metrics.diversity import ild_genre
from eval.plan import Plan
from eval.runner import BOOTSTRAP_SEED, eval_resolver, plan, versions
from eval.score_store import JsonlScoreStore
from eval.scoring import compare
from eval.titlefit import (
    TITLES_FILE,
    LabelledTitle,
    decade_fit,
    intent_quality,
    load_titles,
    pair_titles,
    steerability,
    title_fit,
)
from eval.tune_fusion import store_path

SLOTS = ("A", "B")
METRICS = (
    "ndcg@10",
    "titlefit@10",
    "titlefit_free@10",
    "decadefit@10",
    "kept@10",
    "kept_titled@10",
    "steer@10",
    "ild_genre",
)
OWN = "own"  # the ranker's list for the user without a title (the `none` arm, untitled)
Lists = dict[str, dict[str, dict[int, list[int]]]]  # arm -> slot (or OWN) -> user -> items


def reads_intent(spec: ArmSpec) -> bool:
    """Whether an arm reads the LLM's title intent (signal llm, or combined with an LLM share)."""
    return (
        spec.reranker == "rules_title"
        and isinstance(spec.options, TitleRulesConfig)
        and reads_llm(spec.options)
    )


def warm_intents(settings: LLMSettings, titles: list[str]) -> LLMIntents:
    """The LLM's intent for every title, computed where the cache lacks it (the store serving reads)."""
    from cascade.rerank.title.llm_intent import reader_for

    if isinstance(settings.backend, InProcessBackendConfig) and settings.backend.model_path is None:
        pull_smollm2()
    reader = reader_for(settings)
    intents = LLMIntents(IntentStore(), reader.tag)

    async def _warm() -> int:
        try:
            return await intents.warm(titles, reader)
        finally:
            await reader.aclose()

    t0 = time.perf_counter()
    done = asyncio.run(_warm())
    print(f"title intents: {done} of {len(titles)} computed by the LLM in {time.perf_counter() - t0:.0f} s")
    return intents


def intents_digest(intents: LLMIntents, titles: list[str]) -> str:
    """A hash of the LLM's cached intents for the titles (part of the intent arms' cache key)."""
    rows = [[t, intents.store.get(intents.tag, t)] for t in titles]
    return hashlib.sha256(json.dumps([intents.tag, rows], sort_keys=True).encode()).hexdigest()[:12]


def replay_titles(
    p: Plan, pairs: dict[int, tuple[LabelledTitle, LabelledTitle]], titles_hash: str, intents_hash: str = ""
) -> tuple[Lists, Lists]:
    """(arm -> slot -> user -> list, the same for the ranker's order), every arm under both titles of
    every user, and the `own` list of every user without a title (cached per row)."""
    res = eval_resolver(p)
    pipeline = p.runtime.offline_pipeline("test")
    did = data_id(p.runtime.manifest)
    store = JsonlScoreStore(store_path(p.cache_dir, p.cfg.llm, "fused"))
    use_score_store(store)
    out: Lists = {}
    ranker: Lists = {}
    own_spec = ArmSpec(name="none", reranker="none")
    runs = [(own_spec, OWN, None)] + [(s, slot, n) for s in p.specs for n, slot in enumerate(SLOTS)]

    async def _run() -> None:
        try:
            for spec, slot, slot_no in runs:
                who = p.llm_users if spec.kind.uses_llm else p.users
                ctx = {
                    u: Context(
                        playlist_title=None if slot_no is None else pairs[u][slot_no].title,
                        timestamp=float(p.starts[u]),
                    )
                    for u in who
                }
                key = RunKey(spec, "with" if slot_no is not None else "without")
                path = cache_path(p.cache_dir, key, p.cfg.deadline).with_suffix(f".titles{slot}.jsonl")
                cache = ResultCache(path)
                fp = arm_fingerprint(spec, p.cfg, key.context, did) + f":titles:{titles_hash}:{slot}"
                fp += f":intents:{intents_hash}" if reads_intent(spec) else ""
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
                    print(f"{spec.name} [{slot}]: {len(rows)} users ({computed} computed) in {took:.0f} s")
                out.setdefault(spec.name, {})[slot] = {u: r["items"] for u, r in rows.items()}
                ranker.setdefault(spec.name, {})[slot] = {u: r["ranker_order"] for u, r in rows.items()}
        finally:
            use_score_store(None)
            store.close()
            await res.aclose()

    asyncio.run(_run())
    return out, ranker


def per_user_metrics(
    lists: dict[str, dict[int, list[int]]],
    ranker: dict[str, dict[int, list[int]]],
    own: dict[int, list[int]],
    pairs: dict[int, tuple[LabelledTitle, LabelledTitle]],
    truth: dict[int, set[int]],
    genres: dict[int, tuple[str, ...]],
    k: int,
    years: Mapping[int, int] | None = None,
) -> dict[int, dict[str, float]]:
    """One arm's per-user title metrics from its A and B lists (and the ranker's, and the own list)."""
    out: dict[int, dict[str, float]] = {}
    for u in lists["A"]:
        la, lb = lists["A"][u], lists["B"][u]
        ta, tb = pairs[u]
        aa, ba = title_fit(la, genres, ta, k), title_fit(lb, genres, ta, k)
        bb, ab = title_fit(lb, genres, tb, k), title_fit(la, genres, tb, k)
        free = [f for f, t in ((aa, ta), (bb, tb)) if t.free_form]
        dec = [decade_fit(x, years or {}, t, k) for x, t in ((la, ta), (lb, tb)) if t.decades is not None]
        rel = truth.get(u, set())
        out[u] = {
            "ndcg@10": (ndcg_at_k(la, rel, k) + ndcg_at_k(lb, rel, k)) / 2.0,
            "titlefit@10": (aa + bb) / 2.0,
            "titlefit_free@10": float(np.mean(free)) if free else math.nan,
            "decadefit@10": float(np.mean(dec)) if dec else math.nan,
            "kept@10": (overlap_at_k(la, own[u], k) + overlap_at_k(lb, own[u], k)) / 2.0,
            "kept_titled@10": (overlap_at_k(la, ranker["A"][u], k) + overlap_at_k(lb, ranker["B"][u], k))
            / 2.0,
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
    quality = report.get("intent_quality") or {}
    if quality:
        lines += ["## Title intent against the labelled genres (micro-averaged over the titles)", ""]
        cols = ("precision", "recall", "mass", "read")
        rows = [[r] + [rep._f(q.get(c)) for c in cols] for r, q in quality.items()]
        lines += [rep._table(["reader", *cols], rows), ""]
    return "\n".join(lines) + "\n"


def reader_quality(titles: tuple[LabelledTitle, ...], intents: LLMIntents | None) -> dict[str, Any]:
    """Each reader's intent scored against the labelled genres (the LLM's only when its cache is warm)."""
    from cascade.rerank.title.term import read_intent

    names = [t.title for t in titles]
    uniform = TitleIntent({g: 1.0 / len(GENRE_NAMES) for g in GENRE_NAMES})
    readers: dict[str, Any] = {
        "uniform (chance)": lambda _t: uniform,
        "lexicon": lambda t: text_intents(t)[0],
        "minilm": lambda t: text_intents(t)[1],
        "lexicon+minilm": lambda t: read_intent("combined", t, intents, llm_weight=0.0),
    }
    if intents is not None and all(intents.lookup(t) is not None for t in names):
        readers["llm"] = intents.lookup
        readers["combined"] = lambda t: read_intent("combined", t, intents)
    return {name: intent_quality(titles, read) for name, read in readers.items()}


def evaluate_titles(cfg: Any, titles_file: Path = TITLES_FILE, runtime: Runtime | None = None) -> Path:
    """Run the title protocol; returns the report folder (report.json, report.md, title_tradeoff.png)."""
    t_start = time.perf_counter()
    titles = load_titles(titles_file)
    titles_hash = hashlib.sha256(titles_file.read_bytes()).hexdigest()[:12]
    p = plan(cfg, runtime)
    names = [t.title for t in titles]
    intents = warm_intents(cfg.llm, names) if any(reads_intent(s) for s in p.specs) else None
    use_intents(intents)
    try:
        digest = intents_digest(intents or shared_intents(), names)
        pairs = pair_titles(p.users, titles, cfg.seed)
        lists, ranker = replay_titles(p, pairs, titles_hash, digest)
        quality = reader_quality(titles, intents)
    finally:
        use_intents(None)
    own = lists["none"].pop(OWN)
    ranker["none"].pop(OWN)
    if not lists["none"]:  # the none arm was not asked for: only its untitled run
        del lists["none"], ranker["none"]
    genres = p.info.genres
    cat = p.runtime.dataset.catalog
    years = {int(i): int(y) for i, y in zip(cat.item_ids, cat.years, strict=True)}
    per_user = {
        arm: per_user_metrics(ls, ranker[arm], own, pairs, p.truth, genres, cfg.k, years)
        for arm, ls in lists.items()
    }
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
        "intent_quality": quality,
        "wall_s": time.perf_counter() - t_start,
    }
    for set_name, cmp in vs_rules.items():
        plot_title_tradeoff(out / f"title_tradeoff_{set_name}.png", cmp, f"title protocol, {set_name} users")
    rep.write_json(out / "report.json", report)
    (out / "report.md").write_text(markdown(rep.clean_for_md(report)), encoding="utf-8")
    return out
