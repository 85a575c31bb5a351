"""The LLM stage for arms: one backend per process (built on first use), prompts re-read on each reload."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from cascade.rerank.base import Reranker
from cascade.runtime import Runtime
from service.arms import LLMBuilder, Unavailable
from service.settings import Settings

log = logging.getLogger("care.service.llm")


def llm_factory(settings: Settings, runtime: Runtime) -> LLMBuilder:
    """(prompt, prompts dir, fallback, timeout_ms) -> (guarded LLM re-ranker, prompt version)."""
    from cascade.rerank.llm.factory import LLMSettings, LLMStage
    from cascade.rerank.llm.http_backend import HTTPBackendConfig

    http = None
    if settings.llm_backend == "http":
        if not settings.llm_base_url:
            raise ValueError("CARE_LLM_BACKEND=http needs CARE_LLM_BASE_URL")
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
        http = HTTPBackendConfig(
            base_url=settings.llm_base_url,
            model=settings.llm_model,
            dialect=settings.llm_dialect,
            api_key=key,
        )
    llm_settings = LLMSettings(
        backend="http" if settings.llm_backend == "http" else "inproc",
        model_path=settings.llm_model_path,
        http=http,
        redis_url=settings.redis_url,
        cache_prefix=settings.redis_prefix + "llm:",
        max_concurrency=settings.llm_concurrency,
        cache_ttl_s=settings.llm_cache_ttl_s,
    )
    lock = threading.Lock()
    base: list[LLMStage] = []
    failed: list[str] = []

    def stage(prompts_dir: Path) -> LLMStage:
        with lock:
            if not base:
                base.append(LLMStage.from_settings(llm_settings))
                log.info("LLM backend %s ready", base[0].backend.name)
            # a stage per build re-reads the prompts; backend, cache, breaker and slots stay shared
            return base[0].derive(prompts_dir=prompts_dir)

    def build(prompt: str, prompts_dir: Path, fallback: Reranker, timeout_ms: int) -> tuple[Reranker, str]:
        if failed:
            return Unavailable(fallback, "llm_unavailable"), ""
        try:
            st = stage(prompts_dir)
        except Exception as exc:  # no model file, bad settings: llm arms answer with the rules and say so
            log.error("LLM backend unavailable; llm arms fall back to rules: %r", exc)
            failed.append(repr(exc))
            return Unavailable(fallback, "llm_unavailable"), ""
        rr = st.reranker(prompt, fallback, timeout_ms)  # PromptError (ValueError): the reload is refused
        return rr, st.prompt(prompt).version

    return build
