"""The title's relevance term per candidate: lexicon genre match or MiniLM similarity (None: no signal)."""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

from cascade.rerank.title.lexicon import title_genres
from cascade.rerank.title.similarity import TitleSimilarity
from cascade.types import RerankInput

TitleSignal = Literal["none", "lexicon", "embedding"]
FloatArray = npt.NDArray[np.float64]

_SIMILARITY: TitleSimilarity | None = None


def shared_similarity() -> TitleSimilarity:
    """One MiniLM similarity (and its item-embedding cache) per process."""
    global _SIMILARITY
    if _SIMILARITY is None:
        _SIMILARITY = TitleSimilarity()
    return _SIMILARITY


def lexicon_term(title: str, inp: RerankInput) -> FloatArray | None:
    """Share of each candidate's genres named by the title's words; None when the title names none."""
    wanted = title_genres(title)
    if not wanted:
        return None
    return np.asarray(
        [len(wanted & set(c.genres)) / max(len(c.genres), 1) for c in inp.candidates], dtype=np.float64
    )


def title_term(
    signal: TitleSignal, inp: RerankInput, sim: TitleSimilarity | None = None
) -> FloatArray | None:
    """The term for `signal`, or None when the request has no title or the signal reads nothing in it."""
    title = inp.context.playlist_title
    if signal == "none" or not title or not title.strip():
        return None
    if signal == "lexicon":
        return lexicon_term(title, inp)
    return (sim or shared_similarity())(title, inp.candidates)
