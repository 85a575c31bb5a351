from __future__ import annotations

import time

import pytest

from cascade.experiments import Arm
from cascade.rerank.base import IdentityReranker
from cascade.rerank.llm.cache import MemoryCache
from cascade.rerank.llm.factory import LLMSettings, LLMStage, build_arm_reranker
from cascade.rerank.llm.guard import GuardedReranker
from cascade.rerank.llm.inproc_backend import LlamaCppBackend

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
    start = time.monotonic()
    out = await a.rerank(make_input(8, user_id=4242))
    assert out.fallback_reason == "timeout" and out.reranker == "reverse" and time.monotonic() - start < 0.1
    other = await b.rerank(make_input(8, user_id=4243, deadline=time.monotonic() + 5))
    assert other.fallback_reason == "overloaded"  # the listwise call still holds the shared slot
    await a.drain()


def test_llm_arm_without_stage_is_an_error() -> None:
    arm = Arm(name="a", weight=1, reranker="llm", prompt="listwise", timeout_ms=20)
    with pytest.raises(ValueError, match="needs the LLM stage"):
        build_arm_reranker(arm, IdentityReranker(), None)
