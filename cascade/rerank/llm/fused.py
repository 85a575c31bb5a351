"""Fused LLM scoring: the LLM supplies a relevance score per candidate, the rules build the list.

score = z(ranker) + weight * z(LLM) [+ title_weight * z(title term)], then the rules' MMR and caps.
The LLM score of a candidate is the log-probability of its label at the first output position, in
windows of at most `window` one-case single-token labels; the candidates are shuffled with a seed
(per user and pass) so position bias does not track the ranker, and `passes` > 1 averages over
permutations (LLMRank-style). Each window's label log-probabilities are renormalised over its own
labels, so windows are comparable. A label-position prior (`care llm qualify` estimates it,
PriDe-style, from seeded shuffles) is subtracted per position when the settings carry one. With
weight 0 no call is made and the answer is the rules'.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np
import numpy.typing as npt

from cascade.rerank.fusion import rerank_fused
from cascade.rerank.llm.backend import LLMBackend
from cascade.rerank.llm.prompts import PromptTemplate
from cascade.rerank.llm.reranker import InvalidOutput
from cascade.rerank.rules import RulesReranker
from cascade.rerank.title.term import TitleSignal, title_term
from cascade.types import RerankInput, RerankOutput

FloatArray = npt.NDArray[np.float64]
MISSING_MARGIN = 1.0  # a label the backend did not return scores this far below the window's lowest


@dataclass(frozen=True)
class FusionSettings:
    """What decides a fused answer besides the input."""

    weight: float
    passes: int = 1
    max_scored: int = 20
    seed: int = 0
    title: TitleSignal = "none"
    title_weight: float = 0.0
    alone: bool = False  # the LLM's order over the scored candidates, no fusion and no rules
    prior: tuple[float, ...] = ()  # per label position, subtracted from each window's log-probabilities


class ScoreStore(Protocol):
    """Window log-probabilities kept across runs (offline: eval and tuning reruns make no LLM call)."""

    def get(self, key: str) -> list[float] | None: ...

    def put(self, key: str, values: Sequence[float]) -> None: ...


SCORE_STORE: list[ScoreStore] = []  # at most one; set by offline callers (eval, tune-fusion), never serving


def use_score_store(store: ScoreStore | None) -> None:
    """Keep window scores in `store` (None: stop)."""
    SCORE_STORE.clear()
    if store is not None:
        SCORE_STORE.append(store)


def windows(n: int, size: int, user_id: int, seed: int, pass_no: int) -> list[npt.NDArray[np.int64]]:
    """A seeded permutation of range(n), cut into near-equal windows of at most `size`."""
    perm = np.random.default_rng([seed, abs(user_id), pass_no]).permutation(n).astype(np.int64)
    return [w for w in np.array_split(perm, max(1, math.ceil(n / size))) if len(w)]


def window_logprobs(logprobs: dict[str, float], labels: tuple[str, ...]) -> FloatArray:
    """Labels' log-probabilities renormalised over the window (missing ones below the lowest)."""
    got = [logprobs[lab] for lab in labels if lab in logprobs]
    if not got:
        raise InvalidOutput("no candidate label among the returned log-probabilities")
    floor = min(got) - MISSING_MARGIN
    lp = np.asarray([logprobs.get(lab, floor) for lab in labels], dtype=np.float64)
    m = float(lp.max())
    return lp - (m + math.log(float(np.exp(lp - m).sum())))


def debias(lp: FloatArray, prior: Sequence[float]) -> FloatArray:
    """A window's log-probabilities less the label-position prior (unchanged when it does not cover them)."""
    if len(prior) < len(lp):
        return lp
    return lp - np.asarray(prior[: len(lp)], dtype=np.float64)


class FusedLLMReranker:
    """KeyedReranker for the guard: LLM label scores fused with the ranker's, list built by the rules."""

    def __init__(
        self, backend: LLMBackend, prompt: PromptTemplate, rules: RulesReranker, settings: FusionSettings
    ) -> None:
        self.backend, self.prompt, self.rules, self.settings = backend, prompt, rules, settings
        self.window = prompt.spec.max_candidates
        self.name = "llm_fused"
        blob = json.dumps(
            [settings.__dict__, rules.config.model_dump(), backend.name], sort_keys=True, default=str
        )
        self._version = f"fused:{prompt.version}:{hashlib.sha256(blob.encode()).hexdigest()[:10]}"

    def cache_key(self, inp: RerankInput) -> str:
        """User, settings and a hash of the candidates and context: equal keys, equal answers."""
        state = {
            "c": [c.item_id for c in inp.candidates],
            "s": [round(s, 6) for s in inp.scores],
            "r": [r.item_id for r in inp.recent],
            "p": inp.context.playlist_title,
            "k": inp.k,
        }
        digest = hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()[:24]
        return f"{self._version}:{inp.user_id}:{digest}"

    def _window_key(self, sub: RerankInput) -> str:
        state = [
            [c.item_id for c in sub.candidates],
            [r.item_id for r in sub.recent],
            sub.context.playlist_title,
        ]
        digest = hashlib.sha256(json.dumps(state).encode()).hexdigest()[:24]
        return f"{self.prompt.version}:{self.backend.name}:{sub.user_id}:{digest}"

    async def llm_scores(self, inp: RerankInput) -> tuple[FloatArray, dict[str, float]]:
        """Per candidate, the mean (over passes) window log-probability; unscored ones at the minimum."""
        s = self.settings
        n_all = len(inp.candidates)
        n = min(n_all, s.max_scored)
        total = np.zeros(n, dtype=np.float64)
        tokens = calls = 0
        for b in range(s.passes):
            for win in windows(n, self.window, inp.user_id, s.seed, b):
                sub = replace(inp, candidates=tuple(inp.candidates[i] for i in win), scores=())
                key = self._window_key(sub)
                hit = SCORE_STORE[0].get(key) if SCORE_STORE else None
                if hit is not None and len(hit) == len(win):
                    total[win] += debias(np.asarray(hit, dtype=np.float64), s.prior)
                    continue
                chat = self.prompt.render(sub)
                res = await self.backend.score(chat)
                lp = window_logprobs(res.logprobs, chat.labels)
                if SCORE_STORE:
                    SCORE_STORE[0].put(key, [float(v) for v in lp])
                total[win] += debias(lp, s.prior)
                tokens += res.prompt_tokens
                calls += 1
        total /= s.passes
        out = np.full(n_all, float(total.min()) if n else 0.0)
        out[:n] = total
        return out, {"llm_calls": float(calls), "prompt_tokens": float(tokens), "n_prompt": float(n)}

    async def rerank(self, inp: RerankInput) -> RerankOutput:
        """The rules' list over the fused scores; raises InvalidOutput / BackendError on LLM failure."""
        s = self.settings
        if s.alone:
            return await self._alone(inp)
        title = title_term(s.title, inp) if s.title_weight > 0 else None
        terms: list[tuple[float, FloatArray]] = [] if title is None else [(s.title_weight, title)]
        stats: dict[str, float] = {"llm_calls": 0.0}
        if s.weight > 0 and inp.candidates:
            t0 = time.perf_counter()
            llm, stats = await self.llm_scores(inp)
            stats["llm_ms"] = (time.perf_counter() - t0) * 1000.0
            terms.insert(0, (s.weight, llm))
        out = rerank_fused(self.rules, inp, terms, self.name)
        out.stats |= stats | {"valid_before_repair": 1.0}
        return out

    async def _alone(self, inp: RerankInput) -> RerankOutput:
        """The scored candidates by LLM score, then the rest in the ranker's order."""
        if not inp.candidates:
            return RerankOutput([], self.name, stats={"llm_calls": 0.0})
        t0 = time.perf_counter()
        llm, stats = await self.llm_scores(inp)
        stats["llm_ms"] = (time.perf_counter() - t0) * 1000.0
        order = np.argsort(-llm, kind="stable")
        ids = [inp.candidates[int(i)].item_id for i in order]
        return RerankOutput(ids, self.name, stats=stats | {"valid_before_repair": 1.0})
