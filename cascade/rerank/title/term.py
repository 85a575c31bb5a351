"""The title's relevance term per candidate (None: no signal), by signal:

- lexicon: the share of each candidate's genres the title's words name (cascade.rerank.title.lexicon);
- embedding: MiniLM cosine(title, item text);
- llm: the LLM's title intent from the cache (cascade.rerank.title.intent_store); while the title is
  cold, the lexicon and MiniLM intents combined, and the title is queued for the background reader;
- combined: the lexicon, MiniLM and (when cached) LLM intents mixed by COMBINED_WEIGHTS.
For llm and combined the term is the intent's probability on each candidate's genres
(cascade.rerank.title.intent.intent_term).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

import numpy as np
import numpy.typing as npt

from cascade.rerank.title.intent import TitleIntent, combine, intent_term, lexicon_intent, minilm_intent
from cascade.rerank.title.intent_store import IntentStore, LLMIntents
from cascade.rerank.title.lexicon import title_genres
from cascade.rerank.title.similarity import TitleSimilarity, shared_similarity
from cascade.types import RerankInput

TitleSignal = Literal["none", "lexicon", "embedding", "llm", "combined"]
__all__ = ["INTENT_SIGNALS", "TitleSignal", "read_intent", "shared_similarity", "title_term"]
INTENT_SIGNALS: frozenset[str] = frozenset({"llm", "combined"})
FloatArray = npt.NDArray[np.float64]
# the combined intent's mix: lexicon and MiniLM alike (eval/titles.yaml and derived titles), the LLM's
# share an arm option (the embedded model's intent carried no signal there: AUC 0.51-0.53)
COMBINED_WEIGHTS = {"lexicon": 0.5, "minilm": 0.5}
LLM_WEIGHT = 0.1

_INTENTS: LLMIntents | None = None


def shared_intents() -> LLMIntents:
    """The process's LLM title intents (default: the embedded model's, from $CARE_HOME)."""
    global _INTENTS
    if _INTENTS is None:
        from cascade.rerank.llm.settings import LLMSettings
        from cascade.rerank.title.llm_intent import model_tag

        _INTENTS = LLMIntents(IntentStore(), model_tag(LLMSettings()))
    return _INTENTS


def use_intents(intents: LLMIntents | None) -> None:
    """Read LLM intents from `intents` (None: back to the default)."""
    global _INTENTS
    _INTENTS = intents


@lru_cache(maxsize=4096)
def text_intents(title: str) -> tuple[TitleIntent, TitleIntent]:
    """The lexicon's and MiniLM's intents for a title (cached: titles repeat)."""
    return lexicon_intent(title), minilm_intent(title)


def read_intent(
    signal: str, title: str, intents: LLMIntents | None = None, llm_weight: float = LLM_WEIGHT
) -> TitleIntent:
    """The title's intent under an intent signal; queues a cold title for the LLM, never waits for it.

    llm_weight: the LLM's share in the combined intent (0: lexicon and MiniLM only, no LLM asked)."""
    lex, mini = text_intents(title)
    w = COMBINED_WEIGHTS
    if signal == "combined" and llm_weight <= 0:
        return combine([(w["lexicon"], lex), (w["minilm"], mini)], source="combined-text")
    book = intents or shared_intents()
    llm = book.lookup(title)
    if llm is None:
        book.request(title)
    if signal == "llm":
        if llm is not None:
            return llm
        return combine([(w["lexicon"], lex), (w["minilm"], mini)], source="llm-cold")
    parts = [(w["lexicon"], lex), (w["minilm"], mini)] + ([(llm_weight, llm)] if llm is not None else [])
    return combine(parts, source="combined" if llm is not None else "combined-cold")


def lexicon_term(title: str, inp: RerankInput) -> FloatArray | None:
    """Share of each candidate's genres named by the title's words; None when the title names none."""
    wanted = title_genres(title)
    if not wanted:
        return None
    return np.asarray(
        [len(wanted & set(c.genres)) / max(len(c.genres), 1) for c in inp.candidates], dtype=np.float64
    )


def title_term(
    signal: TitleSignal,
    inp: RerankInput,
    sim: TitleSimilarity | None = None,
    intent: TitleIntent | None = None,
    decade_weight: float = 0.0,
) -> FloatArray | None:
    """The term for `signal`, or None when the request has no title or the signal reads nothing in it.

    intent: the title's intent already read (llm, combined), so a caller reads it once per request."""
    title = inp.context.playlist_title
    if signal == "none" or not title or not title.strip():
        return None
    if signal == "lexicon":
        return lexicon_term(title, inp)
    if signal in INTENT_SIGNALS:
        return intent_term(intent or read_intent(signal, title), inp.candidates, decade_weight)
    return (sim or shared_similarity())(title, inp.candidates)
