"""Replays the test window through the serving pipeline, arm by arm, with resumable per-user caching.

Every arm calls `Runtime.offline_pipeline("test").recommend(...)`: the same Pipeline class the
service uses, with each user's features and history as of the start of their test window. The
request's Context carries the user's derived playlist title (eval.context) in the "with" context
mode and none in the "without" mode, and the timestamp of the user's first test interaction (so
time-of-day features are deterministic).

Users: all test users, or a seeded sample (`users`); the LLM arms run on the first `llm_users` of
the same seeded permutation (a nested sub-sample), as they cost seconds per request on CPU.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from cascade.arms import Arm, ArmResolver
from cascade.experiments import ArmSpec
from cascade.llm import LLMSettings
from cascade.pipeline import Pipeline
from cascade.ranking.head import N_SCORE
from cascade.types import Context
from eval.arms import fingerprint, select_arms
from eval.cache import ResultCache, row_key

ContextMode = Literal["with", "without"]


@dataclass
class EvalConfig:
    """Everything that decides what `care eval` computes (recorded in report.json)."""

    users: int | None = None  # seeded sample of test users; None = all
    llm_users: int | None = None  # LLM arms on the first N of the same sample; None = same as users
    seed: int = 0
    arms: list[str] | None = None  # None: none, rules and every LLM arm of prompts/experiments.yaml
    contexts: tuple[ContextMode, ...] = ("with", "without")
    deadline: bool = False  # False: quality mode (no deadline); True: the arms' serving deadlines
    llm: LLMSettings = field(default_factory=LLMSettings)
    k: int = 10
    n_boot: int = 2000
    baselines: bool = True
    out: Path | None = None
    cache_dir: Path | None = None
    artifacts: Path | None = None
    progress: bool = True
    order_users: int = 0  # users whose LLM scores are reshuffled for order sensitivity (0: skip)
    order_passes: int = 2

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k != "llm"}
        d["llm"] = self.llm.describe()
        return json.loads(json.dumps(d, default=str))  # type: ignore[no-any-return]


@dataclass
class RunKey:
    arm: ArmSpec
    context: ContextMode

    @property
    def label(self) -> str:
        return self.arm.name if self.context == "with" else f"{self.arm.name}[no-context]"


@dataclass
class ArmRun:
    key: RunKey
    rows: dict[int, dict[str, Any]]  # user -> row (items, ranker_order, timings_ms, stats, ...)
    computed: int  # rows computed in this run (the rest came from the cache)


def sample_users(all_users: Sequence[int], n: int | None, seed: int) -> list[int]:
    """A seeded permutation of the users, cut to n (all when None); prefixes nest across n."""
    perm = np.random.default_rng(seed).permutation(np.asarray(sorted(all_users), dtype=np.int64))
    return [int(u) for u in perm[: n if n is not None else len(perm)]]


def arm_fingerprint(spec: ArmSpec, cfg: EvalConfig, context: ContextMode, data_id: str) -> str:
    extra: dict[str, Any] = {
        "k": cfg.k,
        "context": context,
        "deadline": cfg.deadline,
        "data": data_id,
        "harness": 1,
        "n_score": N_SCORE,  # the offline pipeline's head: rows cached from another head are not reused
    }
    if spec.kind.uses_llm:
        extra["llm"] = cfg.llm.describe(getattr(spec.options, "model", "base"))
    return fingerprint(spec, extra)


def cache_path(cache_dir: Path, key: RunKey, deadline: bool) -> Path:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in key.arm.name)
    return cache_dir / f"{safe}__{key.context}__{'serving' if deadline else 'quality'}.jsonl"


async def replay(
    pipeline: Pipeline,
    arm: Arm | Callable[[], Arm],
    users: Sequence[int],
    contexts: dict[int, Context],
    cache: ResultCache,
    fingerprint: str,
    k: int,
    on_step: Callable[[], None] = lambda: None,
    drain: bool = False,
) -> tuple[dict[int, dict[str, Any]], int]:
    """Each user's recommendation under `arm`, from the cache or computed and cached: (rows, computed).

    `arm` may be a thunk so that an arm whose rows are all cached never builds its re-ranker (no model load).
    """
    rows: dict[int, dict[str, Any]] = {}
    computed = 0
    built: Arm | None = arm if isinstance(arm, Arm) else None
    for u in users:
        key = row_key(u, fingerprint)
        ctx = contexts[u]
        hit = cache.get(key)
        if hit is not None and hit.get("playlist_title") == ctx.playlist_title:
            rows[u] = hit
            on_step()
            continue
        if built is None:
            assert not isinstance(arm, Arm)
            built = arm()
        t0 = time.perf_counter()
        rec = await pipeline.recommend(u, k, ctx, built)
        wall_ms = (time.perf_counter() - t0) * 1000.0
        if drain and hasattr(built.reranker, "drain"):
            await built.reranker.drain()  # a late call must not make the next user's request "overloaded"
        row = {
            "user": u,
            "items": [it.item_id for it, _s in rec.items],
            "ranker_order": rec.ranker_order,
            "reranker_used": rec.reranker_used,
            "fallback_reason": rec.fallback_reason,
            "timings_ms": {**rec.timings_ms, "wall": wall_ms},
            "stats": rec.stats,
            "playlist_title": ctx.playlist_title,
            "degraded": rec.degraded,
        }
        cache.put(key, row)
        rows[u] = cache.rows[key]
        computed += 1
        on_step()
    return rows, computed


def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("{task.description:<34}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        disable=not enabled,
    )


async def run_arms(
    pipeline: Pipeline,
    resolver: ArmResolver,
    specs: Sequence[ArmSpec],
    users: Sequence[int],
    llm_users: Sequence[int],
    titles: dict[int, str | None],
    starts: dict[int, int],
    cfg: EvalConfig,
    cache_dir: Path,
    data_id: str,
) -> list[ArmRun]:
    """Every arm under every context mode; LLM arms on `llm_users`, the others on `users`."""
    results: list[ArmRun] = []
    with _progress(cfg.progress) as prog:
        plan = []
        for spec in specs:
            for mode in cfg.contexts:
                repeat = not spec.reads_context(resolver.prompts_dir) and "with" in cfg.contexts
                if mode == "without" and repeat and spec.kind.uses_llm:
                    continue  # the prompt never shows the title: the "without" run would repeat "with"
                who = llm_users if spec.kind.uses_llm else users
                rk = RunKey(spec, mode)
                plan.append((rk, who, prog.add_task(rk.label, total=len(who))))
        for key, who, task in plan:
            with_title = key.context == "with"
            contexts = {
                u: Context(playlist_title=titles.get(u) if with_title else None, timestamp=float(starts[u]))
                for u in who
            }
            cache = ResultCache(cache_path(cache_dir, key, cfg.deadline))
            try:
                rows, computed = await replay(
                    pipeline,
                    lambda spec=key.arm: resolver.resolve(spec),  # type: ignore[misc]
                    who,
                    contexts,
                    cache,
                    arm_fingerprint(key.arm, cfg, key.context, data_id),
                    cfg.k,
                    on_step=lambda task=task: prog.advance(task),  # type: ignore[misc]
                    drain=cfg.deadline,
                )
            finally:
                cache.close()
            results.append(ArmRun(key, rows, computed))
    return results


def data_id(manifest: dict[str, Any]) -> str:
    """Identifies the trained artifacts (a retrain invalidates the cache)."""
    return hashlib.sha256(json.dumps(manifest, sort_keys=True, default=str).encode()).hexdigest()[:16]


def arms_for(cfg: EvalConfig) -> list[ArmSpec]:
    """The named arms, or every config arm, leaving out tuned-model arms while no adapter exists."""
    specs = select_arms(cfg.arms)
    if cfg.arms or cfg.llm.tuned_available():
        return specs
    return [s for s in specs if getattr(s.options, "model", "base") != "tuned"]
