"""The HTTP backend's dialects against the real llama.cpp server, and its parsing."""

from __future__ import annotations

import pytest

from cascade.ports import free_port
from cascade.rerank.llm.backend import BackendError
from cascade.rerank.llm.http_backend import (
    HTTPBackendConfig,
    OpenAIHTTPBackend,
    parse_ranking,
    ranking_schema,
    response_format,
)
from cascade.rerank.llm.prompts import PromptTemplate
from cascade.rerank.llm.reranker import LLMReranker
from cascade.rerank.llm.server import LocalServer

from .conftest import make_input

pytestmark = pytest.mark.anyio


def test_dialects_shape_response_format(prompts: dict[str, PromptTemplate]) -> None:
    schema = ranking_schema(prompts["listwise"].render(make_input(6, k=3)))
    ranking = schema["properties"]["ranking"]
    assert ranking["minItems"] == ranking["maxItems"] == 3 and ranking["items"]["enum"] == list("ABCDEF")
    assert response_format("llamacpp", schema) == {"type": "json_object", "schema": schema}
    vllm = response_format("vllm", schema)
    assert vllm["type"] == "json_schema" and vllm["json_schema"]["schema"] == schema


def test_parse_ranking_accepts_json_and_salvages_quoted_labels() -> None:
    assert parse_ranking('{"ranking": ["B", "A"]}', "ranking") == (["B", "A"], True)
    assert parse_ranking('{"ranking": ["B", "A"', "ranking") == (["B", "A"], True)
    assert parse_ranking("no labels here", "ranking") == ([], False)


async def test_llamacpp_server_rejects_the_vllm_dialect(
    llama_server: LocalServer, prompts: dict[str, PromptTemplate]
) -> None:
    backend = OpenAIHTTPBackend(HTTPBackendConfig(base_url=llama_server.base_url, dialect="vllm"))
    try:
        with pytest.raises(BackendError, match="json_object"):
            await backend.rank(prompts["listwise"].render(make_input(5, k=2)))
    finally:
        await backend.aclose()


async def test_single_pass_over_http_caps_at_20_and_floors_the_rest(
    llama_server: LocalServer, prompts: dict[str, PromptTemplate]
) -> None:
    config = HTTPBackendConfig(base_url=llama_server.base_url, top_logprobs=50, read_timeout_s=180)
    backend = OpenAIHTTPBackend(config)
    inp = make_input(24)
    try:
        out = await LLMReranker(backend, prompts["single_pass_nocontext"]).rerank(inp)
    finally:
        await backend.aclose()
    assert 1 <= out.stats["labels_scored"] <= 20 < out.stats["n_prompt"] == 24
    assert sorted(out.item_ids) == sorted(c.item_id for c in inp.candidates)


async def test_unreachable_server_is_a_retryable_error(prompts: dict[str, PromptTemplate]) -> None:
    backend = OpenAIHTTPBackend(HTTPBackendConfig(base_url=f"http://127.0.0.1:{free_port()}/v1"))
    try:
        with pytest.raises(BackendError) as err:
            await backend.score(prompts["single_pass"].render(make_input(5)))
    finally:
        await backend.aclose()
    assert err.value.retryable
