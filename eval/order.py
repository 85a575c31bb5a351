"""Order sensitivity: how far an LLM scorer agrees with itself when the candidates are reshuffled.

For each user (the report's LLM users, derived titles as in the 'with' context), the fused arm's
scorer (prompts/fused.yaml, the ranker's top 20 in one window) scores the same candidates under
`passes` seeded shuffles. Per pair of passes: Spearman's rho of the scores, whether the top
candidate is the same, and the overlap of the top 5. Means over users with a bootstrap 95% CI, for
the base model and, where an adapter is present, the tuned one. A scorer that only reads positions
agrees with itself at about rho 0; one that reads the candidates agrees near 1.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from cascade.llm import FusedLLMReranker, FusionSettings, LLMUnavailable, ModelChoice, open_stage
from cascade.rerank.rules import DEFAULT_CONFIG, RulesReranker
from cascade.types import Context, RerankInput
from eval.metrics.bootstrap import paired_bootstrap_ci
from eval.metrics.change import overlap_at_k

if TYPE_CHECKING:
    from eval.plan import Plan

FloatArray = npt.NDArray[np.float64]
TOP = 5


def _ranks(x: FloatArray) -> FloatArray:
    """Ranks, best first, ties sharing their mean rank."""
    order = np.argsort(-x, kind="stable")
    r = np.empty(len(x), dtype=np.float64)
    r[order] = np.arange(len(x), dtype=np.float64)
    _, inv = np.unique(x, return_inverse=True)
    return np.asarray((np.bincount(inv, weights=r) / np.bincount(inv))[inv], dtype=np.float64)


def agreement(a: FloatArray, b: FloatArray, top: int = TOP) -> dict[str, float]:
    """Spearman's rho, same top-1 and top-`top` overlap of two score vectors over the same candidates."""
    ra, rb = _ranks(a), _ranks(b)
    rho = float(np.corrcoef(ra, rb)[0, 1]) if len(a) > 1 and ra.std() > 0 and rb.std() > 0 else 0.0
    order_a, order_b = (np.argsort(-x, kind="stable").tolist() for x in (a, b))
    return {
        "spearman": rho,
        "top1_same": float(np.argmax(a) == np.argmax(b)),
        f"overlap@{top}": overlap_at_k(order_a, order_b, top),
    }


def summarize(per_user: list[dict[str, float]], n_boot: int, seed: int) -> dict[str, Any]:
    """Mean and bootstrap 95% CI of each agreement measure over users."""
    out: dict[str, Any] = {"n": len(per_user)}
    for key in per_user[0] if per_user else []:
        vals = [u[key] for u in per_user]
        ci = paired_bootstrap_ci(vals, [0.0] * len(vals), n_boot=n_boot, seed=seed)
        out[key] = {"mean": ci.mean_diff, "lo": ci.lo, "hi": ci.hi}
    return out


async def user_agreement(scorers: list[FusedLLMReranker], inp: RerankInput) -> dict[str, float]:
    """Mean agreement over every pair of passes (one scorer per shuffle seed) for one user."""
    scores = []
    for sc in scorers:
        s, _ = await sc.llm_scores(inp)
        scores.append(s[: min(len(inp.candidates), sc.settings.max_scored)])
    pairs = [agreement(a, b) for a, b in itertools.combinations(scores, 2)]
    return {k: float(np.mean([p[k] for p in pairs])) for k in pairs[0]}


def order_sensitivity(p: Plan, users: int, passes: int = 2, prompt: str = "fused") -> dict[str, Any]:
    """Per model (base, and tuned when its adapter is present): agreement under `passes` shuffles."""
    if passes < 2:
        raise ValueError("order sensitivity needs at least 2 passes")
    llm = p.cfg.llm.for_quality()
    stage = open_stage(llm)
    rules = RulesReranker.from_yaml(DEFAULT_CONFIG, catalog=p.runtime.dataset.catalog)
    pipeline = p.runtime.offline_pipeline("test")
    who = p.llm_users[:users]
    inputs = []
    for u in who:
        ctx = Context(playlist_title=p.titles.get(u), timestamp=float(p.starts[u]))
        inputs.append(pipeline.rerank_input(u, pipeline.rank(u, ctx), ctx, p.cfg.k))
    models: list[ModelChoice] = ["base", "tuned"]
    out: dict[str, Any] = {"users": len(who), "passes": passes, "prompt": prompt, "models": {}}

    async def _run() -> None:
        try:
            for model in models:
                try:
                    backend = stage.backend_for(model)
                except LLMUnavailable as exc:
                    out["models"][model] = {"skipped": str(exc)}
                    continue
                tpl = stage.prompt(prompt)
                scorers = [
                    FusedLLMReranker(backend, tpl, rules, FusionSettings(weight=1.0, seed=s))
                    for s in range(passes)
                ]
                per_user = [await user_agreement(scorers, inp) for inp in inputs]
                out["models"][model] = summarize(per_user, p.cfg.n_boot, 0) | {"llm": llm.describe(model)}
        finally:
            await stage.aclose()

    asyncio.run(_run())
    return out


def markdown(section: dict[str, Any]) -> str:
    """The report's order-sensitivity section."""
    lines = [
        "## Order sensitivity (the LLM scorer against itself under candidate shuffles)",
        "",
        f"{section['users']} users, {section['passes']} seeded shuffles of the top 20 per user "
        f"(prompt `{section['prompt']}`); mean [95% bootstrap CI] over users.",
        "",
        f"| model | spearman | top1_same | overlap@{TOP} |",
        "|---|---|---|---|",
    ]
    for model, m in section["models"].items():
        if "skipped" in m:
            lines.append(f"| {model} | skipped: {m['skipped']} | | |")
            continue
        cells = [f"{m[k]['mean']:.3f} [{m[k]['lo']:.3f}, {m[k]['hi']:.3f}]"
                 for k in ("spearman", "top1_same", f"overlap@{TOP}")]  # fmt: skip
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
