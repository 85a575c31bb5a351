"""LLMReranker's repair accounting and invalid-output detection, with deterministic backends."""

from __future__ import annotations

import pytest

from cascade.rerank.llm.backend import ListResult, ScoreResult
from cascade.rerank.llm.prompts import ChatPrompt, PromptTemplate
from cascade.rerank.llm.reranker import InvalidOutput, LLMReranker

from .conftest import make_input

pytestmark = pytest.mark.anyio


class Scripted:
    """A deterministic LLMBackend that answers with fixed labels or log-probabilities."""

    name = "scripted"

    def __init__(self, labels: list[str] | None = None, logprobs: dict[str, float] | None = None):
        self.labels = labels or []
        self.logprobs = logprobs or {}

    async def score(self, prompt: ChatPrompt) -> ScoreResult:
        return ScoreResult(dict(self.logprobs), prompt_tokens=10)

    async def rank(self, prompt: ChatPrompt) -> ListResult:
        return ListResult(list(self.labels), prompt_tokens=10, completion_tokens=len(self.labels))

    async def aclose(self) -> None:
        return None


async def test_listwise_repairs_are_counted(prompts: dict[str, PromptTemplate]) -> None:
    inp = make_input(6, k=4)
    out = await LLMReranker(Scripted(labels=["C", "C", "Q", "A"]), prompts["listwise"]).rerank(inp)
    assert out.item_ids == [102, 100, 101, 103, 104, 105]
    s = out.stats
    assert (s["repairs_duplicate"], s["repairs_unknown"], s["repairs_missing"]) == (1.0, 1.0, 2.0)
    assert s["valid_before_repair"] == 0.0


async def test_candidates_beyond_the_prompt_keep_ranker_order(prompts: dict[str, PromptTemplate]) -> None:
    tpl = prompts["listwise"]
    inp = make_input(25, k=2)  # the listwise prompt shows 20
    out = await LLMReranker(Scripted(labels=["T", "S"]), tpl).rerank(inp)
    assert out.item_ids[:2] == [119, 118] and out.item_ids[20:] == [120, 121, 122, 123, 124]
    assert sorted(out.item_ids) == [c.item_id for c in inp.candidates]


async def test_single_pass_orders_by_log_probability(prompts: dict[str, PromptTemplate]) -> None:
    out = await LLMReranker(Scripted(logprobs={"D": -0.1, "B": -2.0}), prompts["single_pass"]).rerank(
        make_input(5)
    )
    assert out.item_ids == [103, 101, 100, 102, 104] and out.stats["labels_scored"] == 2.0


@pytest.mark.parametrize("backend", [Scripted(labels=["zz", "yy"]), Scripted(logprobs={})])
async def test_no_known_label_is_invalid_output(
    prompts: dict[str, PromptTemplate], backend: Scripted
) -> None:
    tpl = prompts["listwise"] if backend.labels else prompts["single_pass"]
    with pytest.raises(InvalidOutput):
        await LLMReranker(backend, tpl).rerank(make_input(5))


def test_cache_key_follows_candidates_context_and_prompt(prompts: dict[str, PromptTemplate]) -> None:
    r = LLMReranker(Scripted(), prompts["single_pass"])
    base = r.cache_key(make_input(6))
    assert base == r.cache_key(make_input(6))
    assert base != r.cache_key(make_input(7))
    assert base != r.cache_key(make_input(6, playlist="Other"))
    assert base != r.cache_key(make_input(6, user_id=2))
    assert base != LLMReranker(Scripted(), prompts["single_pass_nocontext"]).cache_key(make_input(6))
