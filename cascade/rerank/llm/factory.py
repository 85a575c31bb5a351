"""The LLM stage (backend, tokenizer, cache, shared breaker and slots) and its once-per-process provider."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from cascade.rerank.base import Mode, Reranker
from cascade.rerank.llm.backend import LLMBackend
from cascade.rerank.llm.breaker import CircuitBreaker
from cascade.rerank.llm.cache import MemoryCache, ResultCache
from cascade.rerank.llm.guard import GuardedReranker, GuardSettings, KeyedReranker, Slots
from cascade.rerank.llm.http_backend import OpenAIHTTPBackend
from cascade.rerank.llm.inproc_backend import LlamaCppBackend
from cascade.rerank.llm.models import smollm2_path
from cascade.rerank.llm.prompts import PROMPTS_DIR, PromptError, PromptTemplate, load_prompt, prompt_path
from cascade.rerank.llm.prompts import required_ctx as required_ctx
from cascade.rerank.llm.reranker import LLMReranker
from cascade.rerank.llm.settings import HTTPBackendConfig, LLMSettings, ModelChoice
from cascade.rerank.llm.tokenizer import LlamaTokenizer, Tokenizer

log = logging.getLogger(__name__)


class LLMUnavailable(RuntimeError):
    """The LLM stage could not be built (no model file, bad settings, no server)."""


class TunedBackend:
    """The tuned model's backend (the base with `care tune`'s LoRA adapter), built on first use.

    In process: a second llama.cpp context over the same GGUF with the adapter GGUF applied. Over
    HTTP: the same server addressed by the LoRA module's name (vLLM `--lora-modules care=...`).
    A stage and its siblings share one; a failed build is remembered (LLMUnavailable at once).
    """

    def __init__(self, settings: LLMSettings, n_ctx: int) -> None:
        self.settings, self.n_ctx = settings, n_ctx
        self._lock = threading.Lock()
        self._backend: LLMBackend | None = None
        self._failed: str | None = None

    def get(self) -> LLMBackend:
        """The backend; LLMUnavailable when there is no adapter or it does not load."""
        with self._lock:
            if self._failed is not None:
                raise LLMUnavailable(self._failed)
            if self._backend is None:
                try:
                    self._backend = self._build()
                except Exception as exc:
                    self._failed = f"tuned model: {type(exc).__name__}: {exc}"
                    log.error("%s", self._failed)
                    raise LLMUnavailable(self._failed) from exc
            return self._backend

    def _build(self) -> LLMBackend:
        b = self.settings.backend
        if isinstance(b, HTTPBackendConfig):
            http = OpenAIHTTPBackend(
                b.model_copy(update={"model": b.tuned_model, "base_url": b.tuned_base_url or b.base_url})
            )
            http.name = f"{http.name}:{b.tuned_model}"
            return http
        adapter = self.settings.tuned_adapter_path()
        if adapter is None or not adapter.is_file():
            raise FileNotFoundError(f"no LoRA adapter at {adapter} (run `care tune`)")
        return LlamaCppBackend(b.model_path or smollm2_path(), n_ctx=self.n_ctx, n_threads=b.n_threads,
                               lora_path=adapter)  # fmt: skip

    async def aclose(self) -> None:
        if self._backend is not None:
            await self._backend.aclose()
            self._backend = None


class LLMStage:
    """One backend with its cache, circuit breaker and concurrency bound, shared by every llm arm."""

    def __init__(
        self,
        backend: LLMBackend,
        tokenizer: Tokenizer,
        cache: ResultCache,
        settings: LLMSettings,
        prompts_dir: Path = PROMPTS_DIR,
    ):
        self.backend = backend
        self.tokenizer = tokenizer
        self.cache = cache
        self.settings = settings
        self.prompts_dir = prompts_dir
        self.breaker = CircuitBreaker(settings.failure_threshold, settings.reset_after_s)
        self.slots = Slots(settings.max_concurrency)
        self._prompts: dict[str, PromptTemplate] = {}
        self.tuned = TunedBackend(settings, int(getattr(backend, "n_ctx", 0)) or required_ctx(prompts_dir))

    @classmethod
    def from_settings(
        cls, settings: LLMSettings, cache: ResultCache | None = None, prompts_dir: Path = PROMPTS_DIR
    ) -> LLMStage:
        """Load the model (in process) or open the client (HTTP)."""
        b = settings.backend
        backend: LLMBackend
        tokenizer: Tokenizer
        if isinstance(b, HTTPBackendConfig):
            backend = OpenAIHTTPBackend(b)
            tokenizer = LlamaTokenizer.from_gguf(b.tokenizer_path or smollm2_path())
        else:
            n_ctx = b.n_ctx or required_ctx(prompts_dir)
            inproc = LlamaCppBackend(b.model_path or smollm2_path(), n_ctx=n_ctx, n_threads=b.n_threads)
            backend, tokenizer = inproc, inproc.tokenizer
        return cls(backend, tokenizer, cache or MemoryCache(), settings, prompts_dir)

    def derive(self, cache: ResultCache | None = None, prompts_dir: Path | None = None) -> LLMStage:
        """A sibling sharing this stage's backend, tokenizer, breaker and slots; its own cache or prompts."""
        folder = prompts_dir or self.prompts_dir
        sibling = LLMStage(self.backend, self.tokenizer, cache or self.cache, self.settings, folder)
        sibling.breaker, sibling.slots, sibling.tuned = self.breaker, self.slots, self.tuned
        if folder == self.prompts_dir and prompts_dir is None:
            sibling._prompts = self._prompts  # same prompt files: share the validated templates
        return sibling

    def backend_for(self, model: ModelChoice) -> LLMBackend:
        """The base model's backend or the tuned one; LLMUnavailable when the tuned one cannot load."""
        return self.backend if model == "base" else self.tuned.get()

    def prompt(self, name: str) -> PromptTemplate:
        """prompts/<name>.yaml, loaded and validated once."""
        if name not in self._prompts:
            path = prompt_path(name, self.prompts_dir)
            tpl = load_prompt(path, self.tokenizer)
            n_ctx = getattr(self.backend, "n_ctx", None)
            if n_ctx is not None and tpl.spec.token_budget + tpl.spec.max_candidates > n_ctx:
                raise PromptError(f"{path}: token_budget + max_candidates exceeds the model's n_ctx={n_ctx}")
            self._prompts[name] = tpl
        return self._prompts[name]

    def guard(self, primary: KeyedReranker, fallback: Reranker) -> GuardedReranker:
        """`primary` behind this stage's guard: its cache, breaker and slots, each input's deadline."""
        s = self.settings
        settings = GuardSettings(
            max_concurrency=s.max_concurrency,
            failure_threshold=s.failure_threshold,
            reset_after_s=s.reset_after_s,
            max_attempts=s.max_attempts,
            cache_ttl_s=s.cache_ttl_s,
        )
        return GuardedReranker(
            primary, fallback, self.cache, settings, breaker=self.breaker, slots=self.slots
        )

    def reranker(self, prompt_name: str, fallback: Reranker) -> GuardedReranker:
        """The guarded LLM re-ranker for a prompt, answering by each input's deadline or via `fallback`."""
        return self.guard(LLMReranker(self.backend, self.prompt(prompt_name)), fallback)

    async def aclose(self) -> None:
        """Release the backends."""
        await self.tuned.aclose()
        await self.backend.aclose()


class LLMProvider:
    """Builds the LLM stage once per process, on first use, and hands out stages for one mode.

    serving: every arm shares the result cache (Redis or memory), breaker and call slots; a stage
    per reload re-reads the prompts. quality: the settings measure the model (LLMSettings.for_quality)
    and each arm gets a result cache of its own, so no arm is answered from another's result.
    A failed build is remembered: later calls raise LLMUnavailable at once.
    """

    def __init__(
        self, settings: LLMSettings, mode: Mode, cache: Callable[[], ResultCache] = MemoryCache
    ) -> None:
        self.mode = mode
        self.settings = settings.for_quality() if mode == "quality" else settings
        self._cache = cache
        self._lock = threading.Lock()
        self._base: LLMStage | None = None
        self._failed: str | None = None

    def stage(self, prompts_dir: Path) -> LLMStage:
        """A stage reading `prompts_dir`; LLMUnavailable if the backend cannot be built."""
        with self._lock:
            if self._failed is not None:
                raise LLMUnavailable(self._failed)
            if self._base is None:
                try:
                    self._base = LLMStage.from_settings(self.settings, self._cache(), prompts_dir)
                except Exception as exc:  # no model file, bad settings: the arms say llm_unavailable
                    self._failed = f"{type(exc).__name__}: {exc}"
                    log.error("LLM backend unavailable: %s", self._failed)
                    raise LLMUnavailable(self._failed) from exc
                log.info("LLM backend %s ready", self._base.backend.name)
            cache = MemoryCache() if self.mode == "quality" else None
            return self._base.derive(cache=cache, prompts_dir=prompts_dir)

    async def aclose(self) -> None:
        """Release the backend if it was built."""
        if self._base is not None:
            await self._base.aclose()
            self._base = None
