"""The LLM re-ranker: prompt from the RerankInput, one backend call, answer repaired into a valid order.

RerankOutput.stats keys:
  valid_before_repair  1.0 if the answer needed no repair, else 0.0
  repairs_unknown      labels outside the candidate set (dropped)
  repairs_duplicate    labels repeated (later copies dropped)
  repairs_missing      labels a listwise answer lacked (appended in ranker order)
  labels_scored        single-pass: labels with a returned log-probability (others rank last)
  n_prompt             candidates shown to the model
  prompt_tokens, completion_tokens, llm_ms
  cache_hit            set by GuardedReranker: 1.0 when served from the result cache
  retries              set by GuardedReranker: retried backend calls
"""

from __future__ import annotations

import hashlib
import json
import time

from cascade.rerank.llm import metrics
from cascade.rerank.llm.backend import LLMBackend
from cascade.rerank.llm.prompts import PromptTemplate
from cascade.rerank.llm.repair import order_by_scores, repair
from cascade.types import RerankInput, RerankOutput


class InvalidOutput(RuntimeError):
    """The model's answer held nothing usable (no known label at all)."""


class LLMReranker:
    """Reranker that asks an LLMBackend to order the top candidates, as the prompt file says."""

    def __init__(self, backend: LLMBackend, prompt: PromptTemplate, *, name: str = "llm"):
        self.backend = backend
        self.prompt = prompt
        self.name = name

    def cache_key(self, inp: RerankInput) -> str:
        """User, prompt version and a hash of the candidates and context: equal keys, equal answers."""
        state = {
            "c": [c.item_id for c in inp.candidates],
            "r": [r.item_id for r in inp.recent],
            "p": inp.context.playlist_title,
            "k": inp.k,
        }
        digest = hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()[:24]
        return f"{self.prompt.version}:{inp.user_id}:{digest}"

    async def rerank(self, inp: RerankInput) -> RerankOutput:
        """Order the candidates with the LLM; raises InvalidOutput or BackendError on failure."""
        chat = self.prompt.render(inp)
        n = len(chat.labels)
        head = [c.item_id for c in inp.candidates[:n]]
        tail = [c.item_id for c in inp.candidates[n:]]
        t0 = time.perf_counter()
        stats: dict[str, float] = {"n_prompt": float(n)}
        if chat.strategy == "single_pass":
            scored = await self.backend.score(chat)
            if not scored.logprobs:
                raise InvalidOutput(
                    f"{self.backend.name}: no candidate label among the returned log-probabilities"
                )
            answer = order_by_scores(scored.logprobs, chat.labels)
            rep = repair(answer, chat.labels, head, required=n)
            stats |= {"labels_scored": float(len(scored.logprobs))}
            prompt_tokens, completion_tokens = scored.prompt_tokens, scored.completion_tokens
        else:
            listed = await self.backend.rank(chat)
            if not listed.parsed or not set(listed.labels) & set(chat.labels):
                raise InvalidOutput(f"{self.backend.name}: unusable listwise answer {listed.raw[:120]!r}")
            rep = repair(listed.labels, chat.labels, head, required=chat.rank_depth)
            prompt_tokens, completion_tokens = listed.prompt_tokens, listed.completion_tokens
        elapsed = time.perf_counter() - t0
        metrics.LATENCY.labels(chat.strategy).observe(elapsed)
        for kind, count in (("unknown", rep.unknown), ("duplicate", rep.duplicate), ("missing", rep.missing)):
            if count:
                metrics.REPAIRS.labels(kind).inc(count)
        stats |= {
            "valid_before_repair": float(rep.valid_before_repair),
            "repairs_unknown": float(rep.unknown),
            "repairs_duplicate": float(rep.duplicate),
            "repairs_missing": float(rep.missing),
            "prompt_tokens": float(prompt_tokens),
            "completion_tokens": float(completion_tokens),
            "llm_ms": elapsed * 1000.0,
        }
        return RerankOutput(rep.item_ids + tail, reranker=self.name, stats=stats)
