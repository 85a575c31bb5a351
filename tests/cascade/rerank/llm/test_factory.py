"""The LLM stage and its provider: one backend, breaker and slot bound per process; settings by backend."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from cascade.ports import free_port
from cascade.rerank.llm.cache import MemoryCache
from cascade.rerank.llm.factory import LLMProvider, LLMStage, LLMUnavailable
from cascade.rerank.llm.guard import GuardedReranker
from cascade.rerank.llm.http_backend import OpenAIHTTPBackend
from cascade.rerank.llm.inproc_backend import LlamaCppBackend
from cascade.rerank.llm.prompts import PromptError, prompt_path, required_ctx
from cascade.rerank.llm.settings import HTTPBackendConfig, InProcessBackendConfig, LLMSettings

from .conftest import Held, make_input
from .test_guard import Reverse

pytestmark = pytest.mark.anyio


async def test_rerankers_of_one_stage_share_slots_and_breaker(inproc: LlamaCppBackend) -> None:
    held = Held()
    stage = LLMStage(held, inproc.tokenizer, MemoryCache(), LLMSettings(max_concurrency=1))
    rules = Reverse()
    a, b = stage.reranker("listwise", rules), stage.reranker("single_pass", rules)
    assert isinstance(a, GuardedReranker) and isinstance(b, GuardedReranker)
    assert a.slots is b.slots and a.breaker is b.breaker  # one bound and one circuit per backend
    out = await a.rerank(make_input(8, deadline=time.monotonic() + 0.02))
    assert out.fallback_reason == "timeout" and out.reranker == "reverse"
    other = await b.rerank(make_input(8, user_id=4243, deadline=time.monotonic() + 5))
    assert other.fallback_reason == "overloaded"  # the listwise call still holds the shared slot
    held.release.set()
    await a.drain()
    assert stage.slots.in_use == 0


async def test_http_stage_from_settings_validates_prompts_with_the_gguf_tokenizer() -> None:
    settings = LLMSettings(backend=HTTPBackendConfig(base_url=f"http://127.0.0.1:{free_port()}/v1"))
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
    stage = LLMStage(inproc, inproc.tokenizer, MemoryCache(), LLMSettings(), tmp_path)
    with pytest.raises(
        PromptError, match=r"big.yaml: token_budget \+ max_candidates exceeds the model's n_ctx=3072"
    ):
        stage.prompt("big")


def test_context_is_sized_to_the_shipped_prompts() -> None:
    assert required_ctx() == 2600 + 50 + 16


async def test_provider_builds_once_and_gives_quality_arms_their_own_cache() -> None:
    settings = LLMSettings(backend=HTTPBackendConfig(base_url=f"http://127.0.0.1:{free_port()}/v1"))
    quality = LLMProvider(settings, "quality")
    a, b = quality.stage(prompt_path("x").parent), quality.stage(prompt_path("x").parent)
    assert a.backend is b.backend and a.breaker is b.breaker and a.cache is not b.cache
    assert quality.settings.max_attempts == 1 and quality.settings.failure_threshold == 10**9
    assert isinstance(quality.settings.backend, HTTPBackendConfig)
    assert quality.settings.backend.read_timeout_s == 600.0
    serving = LLMProvider(settings, "serving")
    c, d = serving.stage(prompt_path("x").parent), serving.stage(prompt_path("x").parent)
    assert c.cache is d.cache and serving.settings == settings
    await quality.aclose()
    await serving.aclose()


def test_provider_remembers_a_failed_build(tmp_path: Path) -> None:
    missing = InProcessBackendConfig(model_path=tmp_path / "absent.gguf")
    provider = LLMProvider(LLMSettings(backend=missing), "serving")
    with pytest.raises(LLMUnavailable, match=r"absent\.gguf"):
        provider.stage(tmp_path)
    with pytest.raises(LLMUnavailable):  # remembered: no second attempt to load
        provider.stage(tmp_path)
