import asyncio
from pathlib import Path

import pydantic
import pytest

from cascade.data.dataset import Dataset
from cascade.rerank.rules import RulesReranker
from cascade.rerank.title.intent_store import IntentStore, LLMIntents
from cascade.rerank.title_kind import TitleRules, TitleRulesConfig, reads_llm
from cascade.retrieval.intent_source import TitleQuota
from cascade.types import Context, ItemText, RerankInput


def _input(ml100k: Dataset, title: str, n: int = 50) -> RerankInput:
    """The ranker's top 10 without horror, then 15 horror films among 25 others."""
    cat = ml100k.catalog
    scary = [r for r in range(len(cat)) if "Horror" in cat.genres[r]]
    calm = [r for r in range(len(cat)) if "Horror" not in cat.genres[r]]
    rows = calm[:10] + [r for pair in zip(scary[:15], calm[10:25], strict=True) for r in pair] + calm[25:35]
    cands = tuple(
        ItemText(int(cat.item_ids[r]), cat.titles[r], int(cat.years[r]), cat.genres[r]) for r in rows
    )
    return RerankInput(3, Context(playlist_title=title), cands, tuple(float(n - j) for j in range(n)), (), 10)


def _arm(ml100k: Dataset, tmp_path: Path, **cfg: object) -> TitleRules:
    rules = RulesReranker.from_yaml(catalog=ml100k.catalog)
    intents = LLMIntents(IntentStore(tmp_path / "i.jsonl"), "m")
    return TitleRules(rules, TitleRulesConfig.model_validate(cfg), "t", intents)


def test_intent_options_need_an_intent_signal() -> None:
    with pytest.raises(pydantic.ValidationError, match="need signal llm or combined"):
        TitleRulesConfig(signal="lexicon", candidates=10)
    assert reads_llm(TitleRulesConfig(signal="llm"))
    assert not reads_llm(TitleRulesConfig(signal="combined", llm_weight=0.0))


def test_an_intent_arm_asks_the_pipeline_for_on_theme_candidates(ml100k: Dataset, tmp_path: Path) -> None:
    arm = _arm(ml100k, tmp_path, signal="combined", llm_weight=0.0, candidates=10)
    assert isinstance(arm, TitleQuota) and arm.title_candidates == 10
    names = ml100k.catalog.genre_names
    w = arm.genre_weights("a haunted manor", names)
    assert w is not None and w.shape == (len(names),)
    assert names[int(w.argmax())] == "Horror" and w.sum() == pytest.approx(1.0)
    assert _arm(ml100k, tmp_path, signal="lexicon").genre_weights("a haunted manor", names) is None


def test_own_share_keeps_the_rankers_top_k_under_a_strong_title(ml100k: Dataset, tmp_path: Path) -> None:
    inp = _input(ml100k, "a haunted manor")
    own = {c.item_id for c in inp.candidates[:10]}
    horror = {c.item_id for c in inp.candidates if "Horror" in c.genres}
    assert not horror & own and len(horror) == 15

    def top(**cfg: object) -> list[int]:
        arm = _arm(
            ml100k, tmp_path, **({"signal": "combined", "llm_weight": 0.0, "title_weight": 20.0} | cfg)
        )
        return asyncio.run(arm.rerank(inp)).item_ids[:10]

    free, held = top(), top(own_share=0.5)
    assert len(own & set(free)) < 5 and len(own & set(held)) >= 5
    assert len(horror & set(held)) > len(horror & set(top(own_share=0.5, title_weight=0.0)))
