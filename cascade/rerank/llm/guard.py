"""Deadline, bounded concurrency, circuit breaker, bounded retries and a result cache around a re-ranker,
with any Reranker as the fallback.

The deadline is the request's (`RerankInput.deadline`, set once by the pipeline from the arm's budget);
the guard has no budget of its own and refuses an input without one. The fallback reasons are
cascade.types.FallbackReason: TIMEOUT (no answer by the deadline; the call finishes in the background
and its result is cached for the next identical request), ERROR, CIRCUIT_OPEN, OVERLOADED (the
backend's call slots are taken: no queueing) or INVALID_OUTPUT.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Protocol

import tenacity

from cascade.rerank.base import Reranker
from cascade.rerank.llm import metrics
from cascade.rerank.llm.backend import BackendError
from cascade.rerank.llm.breaker import CircuitBreaker
from cascade.rerank.llm.cache import CachedRanking, ResultCache
from cascade.rerank.llm.reranker import InvalidOutput
from cascade.types import FallbackReason, RerankInput, RerankOutput

log = logging.getLogger(__name__)


class KeyedReranker(Reranker, Protocol):
    """A Reranker whose answers can be cached under a key derived from the input."""

    def cache_key(self, inp: RerankInput) -> str: ...


@dataclass(frozen=True)
class GuardSettings:
    """Knobs of the guard (the deadline is not one: it comes with each input)."""

    max_concurrency: int = 1  # LLM calls in flight (background ones included), unless slots are shared
    failure_threshold: int = 5
    reset_after_s: float = 30.0
    max_attempts: int = 2  # tenacity: first try + retries of retryable backend errors
    cache_ttl_s: float = 900.0
    cache_timeout_s: float = 0.02


class Slots:
    """A non-blocking bound on calls in flight, shared by every guard in front of one backend."""

    def __init__(self, limit: int = 1):
        self.limit = limit
        self.in_use = 0

    def try_acquire(self) -> bool:
        """Take a slot if one is free; never waits."""
        if self.in_use >= self.limit:
            return False
        self.in_use += 1
        return True

    def release(self) -> None:
        self.in_use -= 1


class _BudgetStop(tenacity.stop.stop_base):
    """Stop retrying when the time left before the deadline is less than a typical call."""

    def __init__(self, guard: GuardedReranker, deadline: float):
        self.guard = guard
        self.deadline = deadline

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        return self.deadline - time.monotonic() < self.guard.typical_call_s


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, BackendError) and exc.retryable


class GuardedReranker:
    """A Reranker that answers by the deadline: the primary's answer, a cached one, or the fallback's."""

    def __init__(
        self,
        primary: KeyedReranker,
        fallback: Reranker,
        cache: ResultCache,
        settings: GuardSettings | None = None,
        breaker: CircuitBreaker | None = None,
        slots: Slots | None = None,
    ):
        self.primary = primary
        self.fallback = fallback
        self.cache = cache
        self.settings = settings or GuardSettings()
        self.breaker = breaker or CircuitBreaker(self.settings.failure_threshold, self.settings.reset_after_s)
        self.name = primary.name
        self.typical_call_s = 0.0  # EWMA of successful call durations
        self.slots = slots or Slots(self.settings.max_concurrency)
        self._background: set[asyncio.Task[RerankOutput]] = set()

    async def drain(self) -> None:
        """Wait for calls still running in the background (tests, shutdown)."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    async def rerank(self, inp: RerankInput) -> RerankOutput:
        """The primary's answer if it comes by the deadline, else the fallback's with a reason."""
        if inp.deadline is None:
            raise ValueError("a guarded re-ranker needs RerankInput.deadline (the arm's budget)")
        deadline = inp.deadline
        key = self.primary.cache_key(inp)
        cached = await self._cache_get(key, deadline)
        if cached is not None:
            return RerankOutput(cached.item_ids, self.name, None, {**cached.stats, "cache_hit": 1.0})
        if time.monotonic() >= deadline:
            return await self._fallback(inp, FallbackReason.TIMEOUT)
        if not self.slots.try_acquire():
            return await self._fallback(inp, FallbackReason.OVERLOADED)
        if not self.breaker.allow():
            self.slots.release()
            return await self._fallback(inp, FallbackReason.CIRCUIT_OPEN)
        task = asyncio.create_task(self._call(inp, key, deadline))
        self._background.add(task)
        task.add_done_callback(self._forget)
        done, _ = await asyncio.wait({task}, timeout=max(0.0, deadline - time.monotonic()))
        if not done:
            return await self._fallback(inp, FallbackReason.TIMEOUT)
        exc = task.exception()
        if isinstance(exc, InvalidOutput):
            return await self._fallback(inp, FallbackReason.INVALID_OUTPUT)
        if exc is not None:
            log.warning("LLM re-ranker failed: %r", exc)
            return await self._fallback(inp, FallbackReason.ERROR)
        out = task.result()
        out.stats["cache_hit"] = 0.0
        return out

    def _forget(self, task: asyncio.Task[RerankOutput]) -> None:
        self._background.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved, so an unawaited failure is not reported as lost

    async def _call(self, inp: RerankInput, key: str, deadline: float) -> RerankOutput:
        try:
            started = time.monotonic()
            retrying = tenacity.AsyncRetrying(
                stop=tenacity.stop_after_attempt(self.settings.max_attempts) | _BudgetStop(self, deadline),
                retry=tenacity.retry_if_exception(_retryable),
                wait=tenacity.wait_exponential(multiplier=0.01, max=0.1),
                reraise=True,
            )
            attempts = 0
            async for attempt in retrying:
                with attempt:
                    attempts += 1
                    out = await self.primary.rerank(inp)
            elapsed = time.monotonic() - started
            self.typical_call_s = (
                elapsed if self.typical_call_s == 0 else 0.8 * self.typical_call_s + 0.2 * elapsed
            )
            out.stats["retries"] = float(attempts - 1)
            self.breaker.record_success()
        except BaseException:
            self.breaker.record_failure()
            raise
        finally:
            self.slots.release()
        try:
            await asyncio.wait_for(
                self.cache.put(key, CachedRanking(out.item_ids, out.stats), self.settings.cache_ttl_s), 1.0
            )
        except Exception as exc:  # a cache outage must not fail the answer
            log.warning("LLM cache put failed: %r", exc)
        return out

    async def _cache_get(self, key: str, deadline: float) -> CachedRanking | None:
        budget = min(self.settings.cache_timeout_s, max(0.0, deadline - time.monotonic()))
        try:
            hit = await asyncio.wait_for(self.cache.get(key), budget) if budget > 0 else None
        except Exception as exc:
            log.warning("LLM cache get failed: %r", exc)
            hit = None
        metrics.CACHE.labels("hit" if hit is not None else "miss").inc()
        return hit

    async def _fallback(self, inp: RerankInput, reason: FallbackReason) -> RerankOutput:
        try:
            out = await self.fallback.rerank(inp)
        except Exception as exc:
            log.error("fallback re-ranker failed: %r", exc)
            out = RerankOutput([c.item_id for c in inp.candidates], reranker="none")
        out.fallback_reason = reason
        out.stats.setdefault("cache_hit", 0.0)
        return out
