"""The `rules_title` kind: the rules over z(ranker) + weight * z(title term).

signal: how the title is read (lexicon, MiniLM embedding, the LLM's cached intent, or the three
combined: cascade.rerank.title.term). Arms reading an intent (llm, combined) may also ask for
`candidates` on-theme candidates at the ranker's cut (cascade.retrieval.intent_source), exempt the
title's genres from the primary-genre cap, and keep a share of the ranker's own top k (`own_share`).
"""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import numpy as np
import numpy.typing as npt
from pydantic import Field, model_validator

from cascade.rerank.fusion import fuse
from cascade.rerank.kinds import BuildContext, Built, Kind, KindConfig
from cascade.rerank.rules import DEFAULT_CONFIG, RulesReranker
from cascade.rerank.title.intent import TitleIntent
from cascade.rerank.title.intent_store import LLMIntents, ScoreReader
from cascade.rerank.title.term import (
    INTENT_SIGNALS,
    LLM_WEIGHT,
    TitleSignal,
    read_intent,
    shared_intents,
    title_term,
)
from cascade.types import RerankInput, RerankOutput


class TitleRulesConfig(KindConfig):
    """signal: how the title is read; title_weight: of its z-scored term against z(ranker).

    For intent signals only: candidates (on-theme candidates at the ranker's cut), uncap_title_genres
    (the primary-genre cap skips the genres the title asks for), own_share (at least this share of
    the ranker's own top k stays), decade_weight (added to the term inside the decades it names),
    llm_weight (the LLM's share in the combined intent against 0.5 each for lexicon and MiniLM).
    """

    signal: TitleSignal = "lexicon"
    title_weight: float = Field(default=1.0, ge=0.0, le=20.0)
    mmr_lambda: float | None = Field(default=None, ge=0.0, le=1.0)
    candidates: int = Field(default=0, ge=0, le=40)
    uncap_title_genres: bool = False
    own_share: float = Field(default=0.0, ge=0.0, le=1.0)
    decade_weight: float = Field(default=0.0, ge=0.0, le=5.0)
    llm_weight: float = Field(default=LLM_WEIGHT, ge=0.0, le=10.0)

    @model_validator(mode="after")
    def _intent_options(self) -> TitleRulesConfig:
        used = self.candidates or self.uncap_title_genres or self.own_share or self.decade_weight
        if used and self.signal not in INTENT_SIGNALS:
            raise ValueError(
                "candidates, uncap_title_genres, own_share and decade_weight need signal llm or "
                f"combined, not {self.signal!r}"
            )
        return self


class TitleRules:
    """Rules that read the playlist title as a relevance term."""

    def __init__(
        self, rules: RulesReranker, cfg: TitleRulesConfig, name: str, intents: LLMIntents | None = None
    ) -> None:
        self.rules, self.cfg, self.name = rules.with_mmr_lambda(cfg.mmr_lambda), cfg, name
        self.title_candidates = cfg.candidates
        self._intents = intents

    def intent(self, title: str) -> TitleIntent | None:
        """The title's intent under an intent signal (None for lexicon and embedding)."""
        if self.cfg.signal not in INTENT_SIGNALS or not title.strip():
            return None
        return read_intent(self.cfg.signal, title, self._intents or shared_intents(), self.cfg.llm_weight)

    def genre_weights(self, title: str, names: tuple[str, ...]) -> npt.NDArray[np.float64] | None:
        """The intent's probability per genre in `names` order (the pipeline's title quota)."""
        intent = self.intent(title)
        return intent.vector(names) if intent else None

    async def rerank(self, inp: RerankInput) -> RerankOutput:
        cfg = self.cfg
        intent = self.intent(inp.context.playlist_title or "")
        term = title_term(cfg.signal, inp, intent=intent, decade_weight=cfg.decade_weight)
        fused = fuse(inp, [] if term is None else [(cfg.title_weight, term)])
        uncapped = intent.predicted() if intent is not None and cfg.uncap_title_genres else frozenset()
        keep = math.ceil(cfg.own_share * inp.k) if term is not None else 0
        out = self.rules.rerank_sync(fused, uncapped=uncapped, keep=keep)
        out.reranker = self.name
        out.stats["title_term"] = float(term is not None)
        if intent is not None:
            out.stats["intent_llm"] = float(intent.source in ("llm", "combined"))  # not the cold fallback
        return out


def reads_llm(cfg: TitleRulesConfig) -> bool:
    """Whether the arm reads the LLM's title intent (signal llm, or combined with an LLM share)."""
    return cfg.signal == "llm" or (cfg.signal == "combined" and cfg.llm_weight > 0)


def rules_of(ctx: BuildContext) -> RulesReranker:
    """The resolver's rules re-ranker (the kinds that fuse scores need its MMR and caps)."""
    if not isinstance(ctx.rules, RulesReranker):
        raise ValueError(f"score fusion needs the rule re-ranker, not {type(ctx.rules).__name__}")
    return ctx.rules


def _build(cfg: TitleRulesConfig, ctx: BuildContext) -> Built:
    intents = None
    if cfg.signal in INTENT_SIGNALS and ctx.mode == "serving" and reads_llm(cfg):
        intents = shared_intents()
        if not intents.has_factory:

            async def factory() -> ScoreReader:
                from cascade.rerank.title.llm_intent import LLMIntentReader, model_tag

                stage = await asyncio.to_thread(ctx.llm_stage)  # loads the model off the event loop
                return LLMIntentReader(stage.backend, model_tag(stage.settings))

            intents.set_factory(factory)
    return Built(TitleRules(rules_of(ctx), cfg, f"rules_title:{cfg.signal}", intents))


def _files(cfg: TitleRulesConfig, _prompts_dir: Path) -> list[Path]:
    title = Path(__file__).parent / "title"
    intent = [title / "intent.py", title / "term.py"] if cfg.signal in INTENT_SIGNALS else []
    return [DEFAULT_CONFIG, title / "lexicon.py", *intent]


def _reads_context(_cfg: TitleRulesConfig, _prompts_dir: Path) -> bool:
    return True


KIND = Kind("rules_title", TitleRulesConfig, _build, files=_files, reads_context=_reads_context)
