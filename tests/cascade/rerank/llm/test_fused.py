"""The fused LLM scorer against the real embedded model: windows, weight 0 = the rules, tuning file."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from cascade.data.dataset import Dataset
from cascade.rerank.llm.fused import FusedLLMReranker, FusionSettings, window_logprobs, windows
from cascade.rerank.llm.fused_kind import FusedConfig, effective
from cascade.rerank.llm.inproc_backend import LlamaCppBackend
from cascade.rerank.llm.prompts import load_prompt, prompt_path
from cascade.rerank.llm.reranker import InvalidOutput
from cascade.rerank.rules import RulesReranker
from cascade.types import Context, ItemText, RerankInput

pytestmark = pytest.mark.anyio


def _input(ml100k: Dataset, n: int = 30, user: int = 5) -> RerankInput:
    cat = ml100k.catalog
    rows = range(100, 100 + n)
    cands = tuple(
        ItemText(int(cat.item_ids[r]), cat.titles[r], int(cat.years[r]), cat.genres[r]) for r in rows
    )
    recent = tuple(
        ItemText(int(cat.item_ids[r]), cat.titles[r], int(cat.years[r]), cat.genres[r]) for r in range(3)
    )
    return RerankInput(user, Context(playlist_title="late-night slow burners"), cands,
                       tuple(float(n - j) * 0.1 for j in range(n)), recent, 10)  # fmt: skip


def test_windows_are_a_seeded_permutation_in_small_windows() -> None:
    w = windows(45, 20, user_id=3, seed=0, pass_no=0)
    assert [len(x) for x in w] == [15, 15, 15]
    assert sorted(np.concatenate(w).tolist()) == list(range(45))
    assert [x.tolist() for x in w] == [x.tolist() for x in windows(45, 20, 3, 0, 0)]
    assert [x.tolist() for x in w] != [
        x.tolist() for x in windows(45, 20, 3, 0, 1)
    ]  # another pass, another order
    assert np.concatenate(w).tolist() != list(range(45))  # not the ranker's order


def test_window_logprobs_renormalise_and_floor_missing_labels() -> None:
    lp = window_logprobs({"A": math.log(0.2), "B": math.log(0.2)}, ("A", "B", "C"))
    assert np.exp(lp).sum() == pytest.approx(1.0)
    assert lp[0] == pytest.approx(lp[1]) and lp[2] < lp[0]
    with pytest.raises(InvalidOutput):
        window_logprobs({"Z": -1.0}, ("A", "B"))


async def test_weight_zero_is_exactly_the_rules(inproc: LlamaCppBackend, ml100k: Dataset) -> None:
    tpl = load_prompt(prompt_path("fused"), inproc.tokenizer)
    rules = RulesReranker.from_yaml(catalog=ml100k.catalog)
    fused = FusedLLMReranker(inproc, tpl, rules, FusionSettings(weight=0.0))
    inp = _input(ml100k)
    out = await fused.rerank(inp)
    assert out.item_ids == (await rules.rerank(inp)).item_ids
    assert out.stats["llm_calls"] == 0.0


async def test_weighted_llm_scores_every_window_and_moves_the_list(
    inproc: LlamaCppBackend, ml100k: Dataset
) -> None:
    tpl = load_prompt(prompt_path("fused"), inproc.tokenizer)
    assert tpl.spec.max_candidates <= 20 and tpl.spec.labels == "upper"
    rules = RulesReranker.from_yaml(catalog=ml100k.catalog)
    fused = FusedLLMReranker(inproc, tpl, rules, FusionSettings(weight=5.0, max_scored=30))
    inp = _input(ml100k)
    scores, stats = await fused.llm_scores(inp)
    assert stats["llm_calls"] == 2.0 and np.isfinite(scores).all() and scores.std() > 0
    out = await fused.rerank(inp)
    assert sorted(out.item_ids) == sorted(c.item_id for c in inp.candidates)
    assert out.item_ids[:10] != (await rules.rerank(inp)).item_ids[:10]  # weight 5: the LLM decides


def test_tuned_file_overrides_the_arms_weight(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text("weight: 0.35\nmmr_lambda: 0.8\n")
    assert effective(FusedConfig(llm_weight=2.0, tuned="t"), tmp_path) == (0.35, 0.8)
    assert effective(FusedConfig(llm_weight=2.0), tmp_path) == (2.0, None)
    (tmp_path / "bad.yaml").write_text("weight: -1\nmmr_lambda: 0.8\n")
    with pytest.raises(ValueError, match=r"bad\.yaml"):
        effective(FusedConfig(tuned="bad"), tmp_path)


async def test_the_guard_wraps_the_fused_arm(ml100k: Dataset, gguf: Path) -> None:
    """Serving mode, real model: a deadline already passed answers with the rules, saying timeout;
    the call finishes in the background and the same request then reads the fused answer from the cache."""
    import time
    from dataclasses import replace as dc_replace

    from cascade.arms import arm_resolver
    from cascade.experiments import ArmSpec
    from cascade.llm import InProcessBackendConfig, LLMSettings
    from cascade.types import FallbackReason

    settings = LLMSettings(backend=InProcessBackendConfig(model_path=gguf))
    resolver = arm_resolver(ml100k.catalog, "serving", settings)
    spec = ArmSpec.model_validate({"name": "f", "reranker": "llm_fused", "llm_weight": 1.0, "timeout_ms": 50})
    arm = resolver.resolve(spec)
    inp = _input(ml100k, n=20)
    first = await arm.reranker.rerank(dc_replace(inp, deadline=time.monotonic() + 0.001))
    assert (first.reranker, first.fallback_reason) == ("rules", FallbackReason.TIMEOUT)
    await arm.reranker.drain()  # type: ignore[attr-defined]
    second = await arm.reranker.rerank(dc_replace(inp, deadline=time.monotonic() + 0.05))
    assert second.reranker == "llm_fused" and second.stats.get("cache_hit") == 1.0
    await resolver.aclose()


def test_debias_subtracts_the_prior_only_when_it_covers_the_window() -> None:
    from cascade.rerank.llm.fused import debias

    lp = np.asarray([-1.0, -2.0, -3.0])
    assert debias(lp, (0.5, -0.5, 0.0, 9.0)).tolist() == [-1.5, -1.5, -3.0]
    assert debias(lp, (0.5,)).tolist() == lp.tolist()  # too short: unchanged


async def test_a_position_prior_is_taken_out_of_each_label(inproc: LlamaCppBackend, ml100k: Dataset) -> None:
    from collections.abc import Sequence

    from cascade.rerank.llm.fused import use_score_store

    class Store(dict[str, list[float]]):
        def put(self, key: str, values: Sequence[float]) -> None:
            self[key] = list(values)

    tpl = load_prompt(prompt_path("fused"), inproc.tokenizer)
    rules = RulesReranker.from_yaml(catalog=ml100k.catalog)
    prior = tuple(float(v) for v in np.linspace(2.0, -2.0, 20))
    inp = _input(ml100k, n=20)
    store = Store()
    use_score_store(store)  # the second pass reads the first's window: the same log-probabilities, exactly
    try:
        raw, _ = await FusedLLMReranker(inproc, tpl, rules, FusionSettings(weight=1.0)).llm_scores(inp)
        settings = FusionSettings(weight=1.0, prior=prior)
        fair, stats = await FusedLLMReranker(inproc, tpl, rules, settings).llm_scores(inp)
    finally:
        use_score_store(None)
    assert len(store) == 1 and stats["llm_calls"] == 0.0
    (win,) = windows(20, 20, inp.user_id, 0, 0)
    assert np.allclose(fair[win], raw[win] - np.asarray(prior))  # the candidate at label j loses prior[j]
