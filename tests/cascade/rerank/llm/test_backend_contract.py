"""Both backends, both strategies: a valid permutation of the candidates, with the documented stats."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from cascade.rerank.llm.backend import LLMBackend
from cascade.rerank.llm.http_backend import HTTPBackendConfig, OpenAIHTTPBackend
from cascade.rerank.llm.inproc_backend import LlamaCppBackend
from cascade.rerank.llm.prompts import PromptTemplate
from cascade.rerank.llm.reranker import LLMReranker
from cascade.rerank.llm.server import LocalServer

from .conftest import make_input

pytestmark = pytest.mark.anyio
STATS = {"valid_before_repair", "repairs_unknown", "repairs_duplicate", "repairs_missing", "prompt_tokens",
         "completion_tokens", "llm_ms", "n_prompt"}  # fmt: skip


@pytest.fixture(params=["inproc", "http"])
async def backend(
    request: pytest.FixtureRequest, inproc: LlamaCppBackend, llama_server: LocalServer
) -> AsyncIterator[LLMBackend]:
    if request.param == "inproc":
        yield inproc
        return
    http = OpenAIHTTPBackend(
        HTTPBackendConfig(base_url=llama_server.base_url, dialect="llamacpp", read_timeout_s=180)
    )
    yield http
    await http.aclose()


@pytest.mark.parametrize("prompt", ["listwise", "single_pass"])
async def test_backend_returns_a_valid_permutation(
    backend: LLMBackend, prompts: dict[str, PromptTemplate], prompt: str
) -> None:
    assert isinstance(backend, LLMBackend)
    inp = make_input(8, k=3)
    out = await LLMReranker(backend, prompts[prompt]).rerank(inp)
    assert sorted(out.item_ids) == sorted(c.item_id for c in inp.candidates)
    assert out.reranker == "llm" and out.fallback_reason is None
    assert out.stats.keys() >= STATS
    assert out.stats["prompt_tokens"] > 50 and out.stats["n_prompt"] == 8
    if prompt == "listwise":
        assert out.stats["completion_tokens"] >= 3
    else:
        assert out.stats["labels_scored"] >= 1 and out.stats["valid_before_repair"] == 1.0
