"""OpenAI-compatible chat completions over HTTP (vLLM in production; llama.cpp's server here).

Dialects differ only in how structured output is requested:
- "vllm": the OpenAI-standard `response_format: {"type": "json_schema", "json_schema": {...}}`;
  single-pass needs the server started with `--max-logprobs` >= the candidate count (and
  `top_logprobs` set to it here) to score every label.
- "llamacpp": llama-cpp-python's `response_format: {"type": "json_object", "schema": {...}}`
  (it rejects "json_schema"); `top_logprobs` is capped at 20 and labels outside the returned
  set are ranked below every returned one, in ranker order.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import httpx

from cascade.rerank.llm.backend import BackendError, ListResult, ScoreResult
from cascade.rerank.llm.prompts import ChatPrompt
from cascade.rerank.llm.settings import Dialect, HTTPBackendConfig

__all__ = ["HTTPBackendConfig", "OpenAIHTTPBackend"]

_QUOTED = re.compile(r'"([A-Za-z0-9]{1,3})"')


def ranking_schema(prompt: ChatPrompt) -> dict[str, Any]:
    """JSON schema of a listwise answer: {key: [exactly rank_depth labels]}."""
    items = {"type": "string", "enum": list(prompt.labels)}
    array = {"type": "array", "items": items, "minItems": prompt.rank_depth, "maxItems": prompt.rank_depth}
    return {"type": "object", "properties": {prompt.output_key: array}, "required": [prompt.output_key]}


def response_format(dialect: Dialect, schema: dict[str, Any]) -> dict[str, Any]:
    """The response_format field for a dialect."""
    if dialect == "vllm":
        return {"type": "json_schema", "json_schema": {"name": "ranking", "schema": schema, "strict": True}}
    return {"type": "json_object", "schema": schema}


def parse_ranking(content: str, key: str) -> tuple[list[str], bool]:
    """Labels from a listwise answer; falls back to quoted tokens when the JSON is broken."""
    try:
        doc = json.loads(content)
        value = doc.get(key) if isinstance(doc, dict) else None
        if isinstance(value, list):
            return [str(v).strip() for v in value], True
    except json.JSONDecodeError:
        pass
    found = _QUOTED.findall(content)
    return [f.strip() for f in found if f != key], bool(found)


class OpenAIHTTPBackend:
    """LLMBackend over an OpenAI-compatible server, with one shared AsyncClient."""

    def __init__(self, config: HTTPBackendConfig):
        self.config = config
        self.name = f"http:{config.dialect}"
        key = config.api_key.get_secret_value() if config.api_key else None
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._client = httpx.AsyncClient(
            base_url=config.base_url.rstrip("/"),
            headers=headers,
            timeout=httpx.Timeout(config.read_timeout_s, connect=config.connect_timeout_s),
            limits=httpx.Limits(max_connections=config.max_connections),
        )

    def _messages(self, prompt: ChatPrompt) -> list[dict[str, str]]:
        return [{"role": "system", "content": prompt.system}, {"role": "user", "content": prompt.user}]

    async def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            resp = await self._client.post("/chat/completions", json=body)
        except httpx.TimeoutException as exc:
            raise BackendError(f"{self.name}: timeout: {exc!r}", retryable=True) from exc
        except httpx.TransportError as exc:
            raise BackendError(f"{self.name}: transport error: {exc!r}", retryable=True) from exc
        if resp.status_code >= 400:
            raise BackendError(
                f"{self.name}: HTTP {resp.status_code}: {resp.text[:300]}", retryable=resp.status_code >= 500
            )
        data: dict[str, Any] = resp.json()
        return data

    async def score(self, prompt: ChatPrompt) -> ScoreResult:
        """One token with top log-probabilities; labels read off the first position."""
        body = {
            "model": self.config.model,
            "messages": self._messages(prompt),
            "max_tokens": 1,
            "temperature": 0.0,
            "logprobs": True,
            "top_logprobs": min(self.config.top_logprobs, 20 if self.config.dialect == "llamacpp" else 1000),
        }
        data = await self._post(body)
        try:
            top = data["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
        except (KeyError, IndexError, TypeError) as exc:
            raise BackendError(f"{self.name}: response has no logprobs") from exc
        wanted = set(prompt.labels)
        out: dict[str, float] = {}
        for entry in top:
            label = str(entry.get("token", "")).strip()
            lp = float(entry.get("logprob", -math.inf))
            if label in wanted:
                out[label] = float(max(out.get(label, -math.inf), lp))
        usage = data.get("usage") or {}
        return ScoreResult(out, int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 1)))

    async def rank(self, prompt: ChatPrompt) -> ListResult:
        """A JSON answer constrained by the dialect's structured-output field."""
        body = {
            "model": self.config.model,
            "messages": self._messages(prompt),
            "max_tokens": 6 * prompt.rank_depth + 16,
            "temperature": 0.0,
            "response_format": response_format(self.config.dialect, ranking_schema(prompt)),
        }
        data = await self._post(body)
        try:
            content = str(data["choices"][0]["message"]["content"] or "")
        except (KeyError, IndexError, TypeError) as exc:
            raise BackendError(f"{self.name}: response has no message") from exc
        labels, parsed = parse_ranking(content, prompt.output_key)
        usage = data.get("usage") or {}
        return ListResult(
            labels,
            int(usage.get("prompt_tokens", 0)),
            int(usage.get("completion_tokens", 0)),
            parsed,
            content,
        )

    async def aclose(self) -> None:
        """Close the shared client."""
        await self._client.aclose()
