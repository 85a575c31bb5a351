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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt
import yaml

from cascade.llm import PROMPTS_DIR, FusedLLMReranker, FusionSettings, open_stage, use_score_store
from cascade.metrics import ndcg_at_k
from cascade.rerank.fusion import rerank_fused
from cascade.rerank.rules import DEFAULT_CONFIG, RulesReranker
from cascade.types import Context, RerankInput
from eval.baselines import window_truth
from eval.context import context_titles
from eval.harness import sample_users
from eval.metrics.bootstrap import Interval, paired_bootstrap_ci
from eval.metrics.diversity import ild_genre
from eval.score_store import JsonlScoreStore

if TYPE_CHECKING:
    from cascade.llm import LLMSettings, ModelChoice
    from cascade.runtime import Runtime

WEIGHTS = (0.0, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5)
LAMBDAS = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
ILD_SLACK = 0.01
FloatArray = npt.NDArray[np.float64]
Metric = Callable[[Sequence[int], set[int], int], float]
Genres = Mapping[int, tuple[str, ...]]


def share_at_k(ranked: Sequence[int], relevant: set[int], k: int = 10) -> float:
    """Share of the top k in `relevant` (TitleFit@k when `relevant` is the title's on-theme items)."""
    top = list(ranked[:k])
    return sum(1 for i in top if i in relevant) / len(top) if top else 0.0


@dataclass
class Window:
    """One user's scored window: what the rules read, and the truth it is measured against."""

    inp: RerankInput
    truth: set[int]


@dataclass
class Sample:
    """One held-out user: the rules' input, the LLM window scores and the truth."""

    inp: RerankInput
    llm: np.ndarray
    truth: set[int]


class WindowScorer(Protocol):
    """What scores a window's candidates the way the fused arm does (FusedLLMReranker.llm_scores)."""

    async def llm_scores(self, inp: RerankInput) -> tuple[FloatArray, dict[str, float]]: ...


def held_out_users(rt: Runtime, users: int, skip: int, seed: int, window: str = "test") -> list[int]:
    """Users `skip`..`skip + users` of the seeded permutation of the window's users."""
    perm = sample_users(sorted(set(rt.split.window(window).user.tolist())), None, seed)
    held = perm[skip : skip + users]
    if not held:
        raise ValueError(f"no held-out users: the {window} window has {len(perm)} users, {skip} are skipped")
    return held


def user_windows(
    rt: Runtime, users: Sequence[int], window: str = "test", titles: Mapping[int, str] | None = None
) -> list[Window]:
    """Each user's ranked window as the fused arm sees it: derived title (or `titles`), window start."""
    split, catalog = rt.split, rt.dataset.catalog
    history = split.history_before(window)
    derived = context_titles({u: list(h) for u, h in history.by_user().items()}, catalog)
    w = split.window(window)
    starts: dict[int, int] = {}
    for u, t in zip(w.user.tolist(), w.ts.tolist(), strict=True):
        starts[int(u)] = min(int(t), starts.get(int(u), int(t)))
    truth = window_truth(w)
    pipeline = rt.offline_pipeline("val" if window == "val" else "test")
    out = []
    for u in users:
        title = titles[u] if titles is not None else derived.get(u)
        ctx = Context(playlist_title=title, timestamp=float(starts[u]))
        out.append(Window(pipeline.rerank_input(u, pipeline.rank(u, ctx), ctx, 10), truth.get(u, set())))
    return out


def item_genres(rt: Runtime) -> dict[int, tuple[str, ...]]:
    """Each catalog item's genres, "unknown" left out."""
    cat = rt.dataset.catalog
    return {int(i): tuple(g for g in cat.genres[cat.row(int(i))] if g != "unknown") for i in cat.item_ids}


def store_path(cache_dir: Path, llm: LLMSettings, prompt: str) -> Path:
    """The score store of one backend and prompt (scores from different models never mix)."""
    tag = hashlib.sha256(json.dumps([llm.describe(), prompt], sort_keys=True, default=str).encode())
    return cache_dir / f"fused_scores__{tag.hexdigest()[:12]}.jsonl"


def fused_top(rules: RulesReranker, s: Sample, weight: float, k: int = 10) -> list[int]:
    """The fused arm's top k for one sample at `weight` (the rules' list at weight 0)."""
    return rerank_fused(rules, s.inp, [(weight, s.llm)], "tune").item_ids[:k]


def grid(
    samples: list[Sample],
    rules: RulesReranker,
    genres: Genres,
    weights: tuple[float, ...] = WEIGHTS,
    lambdas: tuple[float, ...] = LAMBDAS,
    k: int = 10,
    per_user: dict[tuple[float, float], list[float]] | None = None,
    metric: Metric = ndcg_at_k,
    key: str = "ndcg@10",
) -> list[dict[str, float]]:
    """Mean `metric` and genre ILD of every (weight, lambda); per-user values into `per_user` if given."""
    rows = []
    for lam in lambdas:
        r = rules.with_mmr_lambda(lam)
        for w in weights:
            vals, ild = [], []
            for s in samples:
                top = fused_top(r, s, w, k)
                vals.append(metric(top, s.truth, k))
                ild.append(ild_genre(top, genres))
            rows.append(
                {"weight": w, "mmr_lambda": lam, key: float(np.mean(vals)), "ild_genre": float(np.mean(ild))}
            )
            if per_user is not None:
                per_user[(w, lam)] = vals
    return rows


def choose(
    rows: list[dict[str, float]],
    base_lambda: float,
    ild_slack: float = ILD_SLACK,
    per_user: dict[tuple[float, float], list[float]] | None = None,
    n_boot: int = 2000,
    key: str = "ndcg@10",
) -> dict[str, float]:
    """Best `key` with ILD >= the rules' (weight 0, their lambda) minus the slack; ties: smaller weight.

    With `per_user`, a weight above zero must beat weight 0 at its lambda with a paired CI above zero.
    """
    base = next(r for r in rows if r["weight"] == 0.0 and r["mmr_lambda"] == base_lambda)
    ok = [r for r in rows if r["ild_genre"] >= base["ild_genre"] - ild_slack]
    best = max(ok, key=lambda r: (round(r[key], 6), -r["weight"]))
    if per_user is None or best["weight"] == 0.0:
        return best
    lam = best["mmr_lambda"]
    ci = paired_bootstrap_ci(per_user[(best["weight"], lam)], per_user[(0.0, lam)], n_boot=n_boot, seed=0)
    if ci.lo > 0.0:
        return best
    return max((r for r in ok if r["weight"] == 0.0), key=lambda r: round(r[key], 6))


def gain(
    samples: list[Sample],
    rules: RulesReranker,
    weight: float,
    mmr_lambda: float,
    metric: Metric = ndcg_at_k,
    k: int = 10,
    n_boot: int = 2000,
) -> Interval:
    """Paired CI of the fused arm at (weight, lambda) minus the rules arm, per user of `samples`."""
    fused = rules.with_mmr_lambda(mmr_lambda)
    a = [metric(fused_top(fused, s, weight, k), s.truth, k) for s in samples]
    b = [metric(fused_top(rules, s, 0.0, k), s.truth, k) for s in samples]
    return paired_bootstrap_ci(a, b, n_boot=n_boot, seed=0)


def tune(
    samples: list[Sample],
    rules: RulesReranker,
    genres: Genres,
    require_gain: bool = True,
    metric: Metric = ndcg_at_k,
    key: str = "ndcg@10",
    ild_slack: float = ILD_SLACK,
    lambdas: tuple[float, ...] = LAMBDAS,
) -> tuple[dict[str, float], dict[str, float], list[dict[str, float]]]:
    """The grid over (weight, lambda) and the choice: (chosen row, the rules' row, every row)."""
    per_user: dict[tuple[float, float], list[float]] = {}
    rows = grid(samples, rules, genres, lambdas=lambdas, per_user=per_user, metric=metric, key=key)
    lam0 = rules.config.mmr_lambda
    best = choose(rows, lam0, ild_slack, per_user if require_gain else None, key=key)
    base = next(r for r in rows if r["weight"] == 0.0 and r["mmr_lambda"] == lam0)
    return best, base, rows


async def score_windows(scorer: WindowScorer, windows: list[Window], progress: bool = False) -> list[Sample]:
    """Each window's scores from `scorer`, as samples."""
    out = []
    for i, w in enumerate(windows):
        llm_scores, _ = await scorer.llm_scores(w.inp)
        out.append(Sample(w.inp, llm_scores, w.truth))
        if progress:
            print(f"\rscored {i + 1}/{len(windows)} held-out users", end="", flush=True)
    if progress:
        print()
    return out


def write_tuning(doc: Mapping[str, Any], prompts_dir: Path, name: str, by: str) -> Path:
    """prompts/<name>.yaml, the file a fused arm with `tuned: <name>` reads."""
    header = f"# Written by `{by}` (do not edit by hand); rerun after retraining the ranker.\n"
    path = prompts_dir / f"{name}.yaml"
    text = yaml.safe_dump(json.loads(json.dumps(doc, default=str)), sort_keys=False)
    path.write_text(header + text, encoding="utf-8")
    return path


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
    from cascade.runtime import load_runtime

    rt = load_runtime(artifacts)
    held = held_out_users(rt, users, eval_users, seed)
    windows = user_windows(rt, held)
    rules = RulesReranker.from_yaml(DEFAULT_CONFIG, catalog=rt.dataset.catalog)
    stage = open_stage(llm.for_quality(), prompts_dir)
    scorer = FusedLLMReranker(
        stage.backend_for(model), stage.prompt(prompt), rules, FusionSettings(weight=1.0)
    )
    store = JsonlScoreStore(store_path(cache_dir, llm, prompt))
    use_score_store(store)

    async def _score() -> list[Sample]:
        try:
            return await score_windows(scorer, windows, progress)
        finally:
            await stage.aclose()

    try:
        samples = asyncio.run(_score())
    finally:
        use_score_store(None)
        store.close()
    best, base, rows = tune(samples, rules, item_genres(rt), require_gain)
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
    write_tuning(doc, prompts_dir, name, "care tune-fusion")
    return doc
