"""Deadline, fallback, background completion into the cache, overload, circuit breaker, retries."""

from __future__ import annotations

import asyncio
import time

import pytest

from cascade.ports import free_port
from cascade.rerank.llm.backend import BackendError, ListResult, LLMBackend, ScoreResult
from cascade.rerank.llm.cache import MemoryCache, RedisCache, ResultCache
from cascade.rerank.llm.guard import GuardedReranker, GuardSettings
from cascade.rerank.llm.http_backend import HTTPBackendConfig, OpenAIHTTPBackend
from cascade.rerank.llm.inproc_backend import LlamaCppBackend
from cascade.rerank.llm.prompts import ChatPrompt, PromptTemplate
from cascade.rerank.llm.reranker import LLMReranker
from cascade.types import RerankInput, RerankOutput

from .conftest import Held, make_input

pytestmark = pytest.mark.anyio


class Reverse:
    """A deterministic fallback whose order is easy to recognise."""

    name = "reverse"

    async def rerank(self, inp: RerankInput) -> RerankOutput:
        return RerankOutput([c.item_id for c in reversed(inp.candidates)], reranker=self.name)


class Flaky:
    """Fails with a BackendError `failures` times, then answers label A first."""

    name = "flaky"

    def __init__(self, failures: int, retryable: bool):
        self.failures = failures
        self.retryable = retryable
        self.calls = 0

    async def score(self, prompt: ChatPrompt) -> ScoreResult:
        self.calls += 1
        if self.calls <= self.failures:
            raise BackendError("flaky", retryable=self.retryable)
        return ScoreResult({"A": -0.1}, prompt_tokens=5)

    async def rank(self, prompt: ChatPrompt) -> ListResult:
        raise NotImplementedError

    async def aclose(self) -> None:
        return None


class Gated:
    """The real model behind a gate: a call waits until released, then runs on the model.

    Holds the model call past the deadline whatever the machine's speed (a cold call on a fast CPU
    can take less than any fixed deadline)."""

    def __init__(self, inner: LLMBackend) -> None:
        self.inner = inner
        self.name = inner.name
        self.release = asyncio.Event()

    async def score(self, prompt: ChatPrompt) -> ScoreResult:
        await self.release.wait()
        return await self.inner.score(prompt)

    async def rank(self, prompt: ChatPrompt) -> ListResult:
        await self.release.wait()
        return await self.inner.rank(prompt)

    async def aclose(self) -> None:
        return None


async def test_timeout_falls_back_then_background_result_is_a_cache_hit(
    inproc: LlamaCppBackend, prompts: dict[str, PromptTemplate], cache: ResultCache
) -> None:
    model = Gated(inproc)
    guard = GuardedReranker(LLMReranker(model, prompts["single_pass"]), Reverse(), cache)
    inp = make_input(8, cold=True)
    deadline = time.monotonic() + 0.3  # far above the cache lookup; the gate holds the model call past it
    first = await guard.rerank(RerankInput(**{**inp.__dict__, "deadline": deadline}))
    assert guard.slots.in_use == 1  # answered by the deadline while the model call still runs
    assert first.fallback_reason == "timeout" and first.reranker == "reverse"
    assert first.item_ids == [c.item_id for c in reversed(inp.candidates)]
    model.release.set()
    await guard.drain()  # the timed-out call finishes in the background and fills the cache
    second = await guard.rerank(RerankInput(**{**inp.__dict__, "deadline": time.monotonic() + 5}))
    assert second.fallback_reason is None and second.reranker == "llm"
    assert second.stats["cache_hit"] == 1.0 and second.stats["valid_before_repair"] == 1.0
    assert sorted(second.item_ids) == sorted(c.item_id for c in inp.candidates)


async def test_an_input_without_a_deadline_is_refused(prompts: dict[str, PromptTemplate]) -> None:
    flaky = Flaky(0, retryable=False)
    guard = GuardedReranker(LLMReranker(flaky, prompts["single_pass"]), Reverse(), MemoryCache())
    with pytest.raises(ValueError, match=r"needs RerankInput\.deadline"):
        await guard.rerank(make_input(5))  # the deadline is the request's; the guard has no default
    assert flaky.calls == 0


async def test_concurrency_bound_falls_back_at_once(
    inproc: LlamaCppBackend, prompts: dict[str, PromptTemplate]
) -> None:
    guard = GuardedReranker(LLMReranker(inproc, prompts["single_pass"]), Reverse(), MemoryCache())
    slow = asyncio.create_task(guard.rerank(make_input(8, user_id=5, deadline=time.monotonic() + 60)))
    await asyncio.sleep(0)  # let it take the only slot
    out = await guard.rerank(make_input(8, user_id=6, deadline=time.monotonic() + 60))
    assert out.fallback_reason == "overloaded"
    assert not slow.done()  # answered at once, not queued behind the call in flight
    assert (await slow).fallback_reason is None
    assert guard.slots.in_use == 0


async def test_circuit_opens_after_real_connection_errors(prompts: dict[str, PromptTemplate]) -> None:
    backend = OpenAIHTTPBackend(HTTPBackendConfig(base_url=f"http://127.0.0.1:{free_port()}/v1"))
    settings = GuardSettings(failure_threshold=3, reset_after_s=0.2, max_attempts=1)
    guard = GuardedReranker(LLMReranker(backend, prompts["single_pass"]), Reverse(), MemoryCache(), settings)
    try:
        reasons = [
            (await guard.rerank(make_input(5, deadline=time.monotonic() + 2))).fallback_reason
            for _ in range(4)
        ]
        assert reasons == ["error", "error", "error", "circuit_open"]
        await asyncio.sleep(0.25)  # half-open: one probe goes through, fails, and reopens the circuit
        probe = await guard.rerank(make_input(5, deadline=time.monotonic() + 2))
        after = await guard.rerank(make_input(5, deadline=time.monotonic() + 2))
        assert (probe.fallback_reason, after.fallback_reason) == ("error", "circuit_open")
    finally:
        await backend.aclose()


class NoLabels(Flaky):
    """Answers, but with no candidate label among its log-probabilities."""

    async def score(self, prompt: ChatPrompt) -> ScoreResult:
        return ScoreResult({}, prompt_tokens=5)


async def test_invalid_output_falls_back(prompts: dict[str, PromptTemplate]) -> None:
    guard = GuardedReranker(LLMReranker(NoLabels(0, False), prompts["single_pass"]), Reverse(), MemoryCache())
    out = await guard.rerank(make_input(5, deadline=time.monotonic() + 2))
    assert out.fallback_reason == "invalid_output" and out.reranker == "reverse"


async def test_retries_only_retryable_errors_within_budget(prompts: dict[str, PromptTemplate]) -> None:
    settings = GuardSettings(max_attempts=3)
    flaky = Flaky(1, retryable=True)
    guard = GuardedReranker(LLMReranker(flaky, prompts["single_pass"]), Reverse(), MemoryCache(), settings)
    out = await guard.rerank(make_input(5, deadline=time.monotonic() + 2))
    assert out.fallback_reason is None and out.stats["retries"] == 1.0 and flaky.calls == 2
    fatal = Flaky(1, retryable=False)
    guard = GuardedReranker(LLMReranker(fatal, prompts["single_pass"]), Reverse(), MemoryCache(), settings)
    out = await guard.rerank(make_input(5, deadline=time.monotonic() + 2))
    assert out.fallback_reason == "error" and fatal.calls == 1


async def test_no_retry_when_the_budget_is_shorter_than_a_typical_call(
    prompts: dict[str, PromptTemplate],
) -> None:
    flaky = Flaky(1, retryable=True)
    guard = GuardedReranker(
        LLMReranker(flaky, prompts["single_pass"]), Reverse(), MemoryCache(), GuardSettings(max_attempts=3)
    )
    guard.typical_call_s = 5.0
    out = await guard.rerank(make_input(5, deadline=time.monotonic() + 1))
    assert out.fallback_reason == "error" and flaky.calls == 1


async def test_unreachable_redis_is_a_miss_within_the_deadline(prompts: dict[str, PromptTemplate]) -> None:
    cache = RedisCache.from_url(f"redis://127.0.0.1:{free_port()}/14", timeout_s=0.01)
    held = Held()
    guard = GuardedReranker(LLMReranker(held, prompts["single_pass"]), Reverse(), cache)
    out = await guard.rerank(make_input(8, deadline=time.monotonic() + 0.5))
    assert out.fallback_reason == "timeout"  # a cache that cannot answer is a miss, not an error
    assert guard.slots.in_use == 1  # and the model call went on in the background
    held.release.set()
    await guard.drain()
    assert guard.slots.in_use == 0
    await cache.client.aclose()  # type: ignore[attr-defined]
