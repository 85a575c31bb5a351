"""Build the LLM stage once (backend, tokenizer, cache, shared breaker and slots) and a Reranker per arm."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from cascade.experiments import Arm
from cascade.rerank.base import IdentityReranker, Reranker
from cascade.rerank.llm.backend import LLMBackend
from cascade.rerank.llm.breaker import CircuitBreaker
from cascade.rerank.llm.cache import MemoryCache, RedisCache, ResultCache
from cascade.rerank.llm.guard import GuardedReranker, GuardSettings, Slots
from cascade.rerank.llm.http_backend import HTTPBackendConfig, OpenAIHTTPBackend
from cascade.rerank.llm.inproc_backend import LlamaCppBackend
from cascade.rerank.llm.models import smollm2_path
from cascade.rerank.llm.prompts import (
    PROMPTS_DIR,
    PromptError,
    PromptTemplate,
    load_prompt,
    prompt_path,
    required_ctx,
)
from cascade.rerank.llm.reranker import LLMReranker
from cascade.rerank.llm.tokenizer import LlamaTokenizer, Tokenizer


class LLMSettings(BaseModel):
    """How the LLM stage runs: embedded llama.cpp or an OpenAI-compatible server (vLLM)."""

    model_config = ConfigDict(extra="forbid")
    backend: Literal["inproc", "http"] = "inproc"
    model_path: Path | None = None  # GGUF for inproc, and the tokenizer prompts are validated with
    http: HTTPBackendConfig | None = None
    n_ctx: int | None = Field(default=None, ge=256)  # None: sized to the prompt files' token budgets
    n_threads: int = Field(default=2, ge=1)
    redis_url: str | None = None  # result cache in Redis; None keeps it in process
    cache_prefix: str = "care:llm:"
    max_concurrency: int = Field(default=1, ge=1)
    failure_threshold: int = Field(default=5, ge=1)
    reset_after_s: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=2, ge=1)
    cache_ttl_s: float = Field(default=900.0, gt=0)
    prompts_dir: Path | None = None


class LLMStage:
    """One backend with its cache, circuit breaker and concurrency bound, shared by every llm arm."""

    def __init__(self, backend: LLMBackend, tokenizer: Tokenizer, cache: ResultCache, settings: LLMSettings):
        self.backend = backend
        self.tokenizer = tokenizer
        self.cache = cache
        self.settings = settings
        self.breaker = CircuitBreaker(settings.failure_threshold, settings.reset_after_s)
        self.slots = Slots(settings.max_concurrency)
        self._prompts: dict[str, PromptTemplate] = {}

    @classmethod
    def from_settings(cls, settings: LLMSettings) -> LLMStage:
        """Load the model (inproc) or open the client (http), and the cache."""
        model = settings.model_path or smollm2_path()
        backend: LLMBackend
        tokenizer: Tokenizer
        if settings.backend == "inproc":
            n_ctx = settings.n_ctx or required_ctx(settings.prompts_dir)
            inproc = LlamaCppBackend(model, n_ctx=n_ctx, n_threads=settings.n_threads)
            backend, tokenizer = inproc, inproc.tokenizer
        else:
            if settings.http is None:
                raise ValueError("backend 'http' needs settings.http")
            backend, tokenizer = OpenAIHTTPBackend(settings.http), LlamaTokenizer.from_gguf(model)
        cache: ResultCache = (
            RedisCache.from_url(settings.redis_url, settings.cache_prefix)
            if settings.redis_url
            else MemoryCache()
        )
        return cls(backend, tokenizer, cache, settings)

    def derive(self, cache: ResultCache | None = None, prompts_dir: Path | None = None) -> LLMStage:
        """A sibling sharing this stage's backend, tokenizer, breaker and slots; its own cache or prompts."""
        settings = (
            self.settings
            if prompts_dir is None
            else self.settings.model_copy(update={"prompts_dir": prompts_dir})
        )
        sibling = LLMStage(self.backend, self.tokenizer, cache or self.cache, settings)
        sibling.breaker, sibling.slots = self.breaker, self.slots
        if prompts_dir is None:
            sibling._prompts = self._prompts  # same prompt files: share the validated templates
        return sibling

    def prompt(self, name: str) -> PromptTemplate:
        """prompts/<name>.yaml, loaded and validated once."""
        if name not in self._prompts:
            path = prompt_path(name, self.settings.prompts_dir or PROMPTS_DIR)
            tpl = load_prompt(path, self.tokenizer)
            n_ctx = getattr(self.backend, "n_ctx", None)
            if n_ctx is not None and tpl.spec.token_budget + tpl.spec.max_candidates > n_ctx:
                raise PromptError(f"{path}: token_budget + max_candidates exceeds the model's n_ctx={n_ctx}")
            self._prompts[name] = tpl
        return self._prompts[name]

    def reranker(self, prompt_name: str, fallback: Reranker, timeout_ms: int) -> GuardedReranker:
        """The guarded LLM re-ranker for a prompt, answering by its deadline or via `fallback`."""
        s = self.settings
        guard = GuardSettings(
            timeout_s=timeout_ms / 1000.0,
            max_concurrency=s.max_concurrency,
            failure_threshold=s.failure_threshold,
            reset_after_s=s.reset_after_s,
            max_attempts=s.max_attempts,
            cache_ttl_s=s.cache_ttl_s,
        )
        primary = LLMReranker(self.backend, self.prompt(prompt_name))
        return GuardedReranker(primary, fallback, self.cache, guard, breaker=self.breaker, slots=self.slots)

    async def aclose(self) -> None:
        """Release the backend."""
        await self.backend.aclose()


def build_arm_reranker(arm: Arm, rules: Reranker, stage: LLMStage | None) -> Reranker:
    """The Reranker an arm names: identity, `rules`, or the guarded LLM with `rules` as its fallback."""
    if arm.reranker == "none":
        return IdentityReranker()
    if arm.reranker == "rules":
        return rules
    if stage is None or arm.prompt is None:
        raise ValueError(f"arm {arm.name!r} needs the LLM stage and a prompt")
    return stage.reranker(arm.prompt, rules, arm.timeout_ms)
