"""`care tune-fusion`: pick the fused LLM arm's weight and MMR lambda on held-out users.

Held-out users are test users outside the first `eval_users` of the eval's seeded permutation (so
never the users `care eval --users <eval_users>` reports on); their ranker scores are on the test
window, which the ranker was not trained on. Each user's LLM window scores are computed once (and
kept in a JSONL score store); the grid over (weight, lambda) then replays only the rules. The choice:
the highest mean NDCG@10 whose genre ILD is at least the rules' minus `ild_slack` (ties: the smaller
weight); a weight above zero is kept only when its NDCG@10 gain over weight 0 at the same lambda has
a paired bootstrap CI above zero on the held-out users, else the best weight-0 setting is written
(the LLM adds nothing there). The result is written to prompts/<name>.yaml, which an arm with
`tuned: <name>` reads.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml

from cascade.metrics import ndcg_at_k
from cascade.rerank.fusion import rerank_fused
from cascade.rerank.llm.fused import FusedLLMReranker, FusionSettings, use_score_store
from cascade.rerank.llm.prompts import PROMPTS_DIR
from cascade.rerank.rules import DEFAULT_CONFIG, RulesReranker
from cascade.types import Context, RerankInput
from eval.baselines import window_truth
from eval.context import context_titles
from eval.harness import sample_users
from eval.metrics.bootstrap import paired_bootstrap_ci
from eval.metrics.diversity import ild_genre
from eval.score_store import JsonlScoreStore

if TYPE_CHECKING:
    from cascade.llm import LLMSettings, ModelChoice

WEIGHTS = (0.0, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5)
LAMBDAS = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
ILD_SLACK = 0.01


@dataclass
class Sample:
    """One held-out user: the rules' input, the LLM window scores and the truth."""

    inp: RerankInput
    llm: np.ndarray
    truth: set[int]


def store_path(cache_dir: Path, llm: LLMSettings, prompt: str) -> Path:
    """The score store of one backend and prompt (scores from different models never mix)."""
    tag = hashlib.sha256(json.dumps([llm.describe(), prompt], sort_keys=True, default=str).encode())
    return cache_dir / f"fused_scores__{tag.hexdigest()[:12]}.jsonl"


def grid(
    samples: list[Sample],
    rules: RulesReranker,
    genres: dict[int, tuple[str, ...]],
    weights: tuple[float, ...] = WEIGHTS,
    lambdas: tuple[float, ...] = LAMBDAS,
    k: int = 10,
    per_user: dict[tuple[float, float], list[float]] | None = None,
) -> list[dict[str, float]]:
    """Mean NDCG@k and genre ILD of every (weight, lambda); per-user NDCG into `per_user` if given."""
    rows = []
    for lam in lambdas:
        r = rules.with_mmr_lambda(lam)
        for w in weights:
            nd, ild = [], []
            for s in samples:
                top = rerank_fused(r, s.inp, [(w, s.llm)], "tune").item_ids[:k]
                nd.append(ndcg_at_k(top, s.truth, k))
                ild.append(ild_genre(top, genres))
            rows.append(
                {
                    "weight": w,
                    "mmr_lambda": lam,
                    "ndcg@10": float(np.mean(nd)),
                    "ild_genre": float(np.mean(ild)),
                }
            )
            if per_user is not None:
                per_user[(w, lam)] = nd
    return rows


def choose(
    rows: list[dict[str, float]],
    base_lambda: float,
    ild_slack: float = ILD_SLACK,
    per_user: dict[tuple[float, float], list[float]] | None = None,
    n_boot: int = 2000,
) -> dict[str, float]:
    """Best NDCG with ILD >= the rules' (weight 0, their lambda) minus the slack; ties: smaller weight.

    With `per_user`, a weight above zero must beat weight 0 at its lambda with a paired CI above zero.
    """
    base = next(r for r in rows if r["weight"] == 0.0 and r["mmr_lambda"] == base_lambda)
    ok = [r for r in rows if r["ild_genre"] >= base["ild_genre"] - ild_slack]
    best = max(ok, key=lambda r: (round(r["ndcg@10"], 6), -r["weight"]))
    if per_user is None or best["weight"] == 0.0:
        return best
    lam = best["mmr_lambda"]
    ci = paired_bootstrap_ci(per_user[(best["weight"], lam)], per_user[(0.0, lam)], n_boot=n_boot, seed=0)
    if ci.lo > 0.0:
        return best
    return max((r for r in ok if r["weight"] == 0.0), key=lambda r: round(r["ndcg@10"], 6))


def tune_fusion(
    llm: LLMSettings,
    users: int = 80,
    eval_users: int = 300,
    seed: int = 0,
    prompt: str = "fused",
    name: str = "fusion_tuned",
    prompts_dir: Path = PROMPTS_DIR,
    cache_dir: Path = Path("reports/cache"),
    artifacts: Path | None = None,
    progress: bool = True,
    require_gain: bool = True,
    model: ModelChoice = "base",
) -> dict[str, Any]:
    """Score the held-out users with the LLM, search the grid, write prompts/<name>.yaml; returns it."""
    from cascade.rerank.llm.factory import LLMStage
    from cascade.runtime import load_runtime

    rt = load_runtime(artifacts)
    split, catalog = rt.split, rt.dataset.catalog
    perm = sample_users(sorted(set(split.test.user.tolist())), None, seed)
    held = perm[eval_users : eval_users + users]
    if not held:
        raise ValueError(f"no held-out users: the test window has {len(perm)} users, eval takes {eval_users}")
    history = split.history_before("test")
    titles = context_titles({u: list(h) for u, h in history.by_user().items()}, catalog)
    starts: dict[int, int] = {}
    for u, t in zip(split.test.user.tolist(), split.test.ts.tolist(), strict=True):
        starts[int(u)] = min(int(t), starts.get(int(u), int(t)))
    truth = window_truth(split.test)
    pipeline = rt.offline_pipeline("test")
    rules = RulesReranker.from_yaml(DEFAULT_CONFIG, catalog=catalog)
    stage = LLMStage.from_settings(llm.for_quality(), prompts_dir=prompts_dir)
    backend = stage.backend_for(model)
    scorer = FusedLLMReranker(backend, stage.prompt(prompt), rules, FusionSettings(weight=1.0))
    store = JsonlScoreStore(store_path(cache_dir, llm, prompt))
    use_score_store(store)

    async def _score() -> list[Sample]:
        out = []
        for i, u in enumerate(held):
            ctx = Context(playlist_title=titles.get(u), timestamp=float(starts[u]))
            inp = pipeline.rerank_input(u, pipeline.rank(u, ctx), ctx, 10)
            llm_scores, _ = await scorer.llm_scores(inp)
            out.append(Sample(inp, llm_scores, truth.get(u, set())))
            if progress:
                print(f"\rscored {i + 1}/{len(held)} held-out users", end="", flush=True)
        if progress:
            print()
        await stage.aclose()
        return out

    try:
        samples = asyncio.run(_score())
    finally:
        use_score_store(None)
        store.close()
    genres = {
        int(i): tuple(g for g in catalog.genres[catalog.row(int(i))] if g != "unknown")
        for i in catalog.item_ids
    }
    per_user: dict[tuple[float, float], list[float]] = {}
    rows = grid(samples, rules, genres, per_user=per_user)
    best = choose(rows, rules.config.mmr_lambda, per_user=per_user if require_gain else None)
    base = next(r for r in rows if r["weight"] == 0.0 and r["mmr_lambda"] == rules.config.mmr_lambda)
    doc = {
        "weight": best["weight"],
        "mmr_lambda": best["mmr_lambda"],
        "chosen": best,
        "rules": base,
        "users": len(held),
        "require_gain": require_gain,
        "held_out": f"test users {eval_users}..{eval_users + len(held) - 1} of the seed-{seed} permutation",
        "prompt": prompt,
        "llm": llm.describe(model),
        "model": model,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "grid": rows,
    }
    header = "# Written by `care tune-fusion` (do not edit by hand); rerun after retraining the ranker.\n"
    path = prompts_dir / f"{name}.yaml"
    path.write_text(
        header + yaml.safe_dump(json.loads(json.dumps(doc, default=str)), sort_keys=False), encoding="utf-8"
    )
    return doc
