from __future__ import annotations

import time
from pathlib import Path

import pytest

from cascade.experiments import Arm
from cascade.ports import free_port
from cascade.rerank.base import IdentityReranker
from cascade.rerank.llm.cache import MemoryCache
from cascade.rerank.llm.factory import LLMSettings, LLMStage, build_arm_reranker
from cascade.rerank.llm.guard import GuardedReranker
from cascade.rerank.llm.http_backend import HTTPBackendConfig, OpenAIHTTPBackend
from cascade.rerank.llm.inproc_backend import LlamaCppBackend
from cascade.rerank.llm.prompts import PromptError, prompt_path, required_ctx

from .conftest import make_input
from .test_guard import Reverse

pytestmark = pytest.mark.anyio


async def test_arms_build_their_rerankers(inproc: LlamaCppBackend) -> None:
    stage = LLMStage(inproc, inproc.tokenizer, MemoryCache(), LLMSettings(max_concurrency=1))
    rules = Reverse()
    assert isinstance(
        build_arm_reranker(Arm(name="n", weight=1, reranker="none"), rules, stage), IdentityReranker
    )
    assert build_arm_reranker(Arm(name="r", weight=1, reranker="rules"), rules, stage) is rules
    a = build_arm_reranker(
        Arm(name="a", weight=1, reranker="llm", prompt="listwise", timeout_ms=20), rules, stage
    )
    b = build_arm_reranker(
        Arm(name="b", weight=1, reranker="llm", prompt="single_pass", timeout_ms=20), rules, stage
    )
    assert isinstance(a, GuardedReranker) and isinstance(b, GuardedReranker)
    assert a.slots is b.slots and a.breaker is b.breaker  # one bound and one circuit per backend
    assert a.settings.timeout_s == pytest.approx(0.02)
    out = await a.rerank(make_input(8, cold=True))
    assert out.fallback_reason == "timeout" and out.reranker == "reverse"
    other = await b.rerank(make_input(8, user_id=4243, deadline=time.monotonic() + 5))
    assert other.fallback_reason == "overloaded"  # the listwise call still holds the shared slot
    await a.drain()


def test_llm_arm_without_stage_is_an_error() -> None:
    arm = Arm(name="a", weight=1, reranker="llm", prompt="listwise", timeout_ms=20)
    with pytest.raises(ValueError, match="needs the LLM stage"):
        build_arm_reranker(arm, IdentityReranker(), None)


async def test_http_stage_from_settings_validates_prompts_with_the_gguf_tokenizer(tmp_path: Path) -> None:
    settings = LLMSettings(
        backend="http", http=HTTPBackendConfig(base_url=f"http://127.0.0.1:{free_port()}/v1")
    )
    stage = LLMStage.from_settings(settings)
    try:
        assert isinstance(stage.backend, OpenAIHTTPBackend) and isinstance(stage.cache, MemoryCache)
        assert stage.prompt("single_pass").strategy == "single_pass"
        assert stage.prompt("single_pass") is stage.prompt("single_pass")
    finally:
        await stage.aclose()


def test_inproc_stage_rejects_prompts_larger_than_its_context(
    tmp_path: Path, inproc: LlamaCppBackend
) -> None:
    text = prompt_path("single_pass").read_text().replace("token_budget: 2600", "token_budget: 3100")
    (tmp_path / "big.yaml").write_text(text)
    stage = LLMStage(inproc, inproc.tokenizer, MemoryCache(), LLMSettings(prompts_dir=tmp_path))
    with pytest.raises(
        PromptError, match=r"big.yaml: token_budget \+ max_candidates exceeds the model's n_ctx=3072"
    ):
        stage.prompt("big")


def test_context_is_sized_to_the_shipped_prompts() -> None:
    assert required_ctx() == 2600 + 50 + 16
