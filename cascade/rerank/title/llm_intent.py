"""The LLM's reading of a playlist title: one yes/no question per genre, calibrated, as a distribution.

For each genre the model answers 'Do <genre> films fit the playlist "<title>"?'; the score is the
log-odds of Yes over No at the first output token, minus the same log-odds for content-free titles
(contextual calibration, Zhao et al. 2021), so a model that says Yes to one genre whatever the title
carries no weight (cascade.rerank.title.intent_store.intent_of makes the scores a distribution).
One title costs 18 short prompts sharing their prefix; it runs once per distinct title (the cache:
cascade.rerank.title.intent_store), never on a request's path. Importing this module loads no model
code (llama.cpp comes with the backend).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from cascade.rerank.llm.sanitize import clean_text
from cascade.rerank.llm.settings import LLMSettings
from cascade.rerank.title.intent import GENRE_NAMES

if TYPE_CHECKING:  # both load llama.cpp's tokenizer module
    from cascade.rerank.llm.backend import LLMBackend
    from cascade.rerank.llm.prompts import ChatPrompt

PROMPT_VERSION = "intent-yesno-fewshot-v1"
SYSTEM = "You are a film librarian. You answer with one word: Yes or No."
# four worked answers first (titles in neither title set); chosen over a zero-shot question on
# eval/titles.yaml, where the zero-shot answers ranked the labelled genres below the others (AUC 0.33)
USER = (
    'Example: Playlist title: "scary monster movies". Do horror films fit this playlist? Yes\n'
    'Example: Playlist title: "scary monster movies". Do musicals fit this playlist? No\n'
    'Example: Playlist title: "laughs with friends". Do comedies fit this playlist? Yes\n'
    'Example: Playlist title: "laughs with friends". Do war films fit this playlist? No\n'
    'Playlist title: "{title}". Do {genre} fit this playlist?'
)
LABELS = ("Yes", "No")
GENRE_PHRASE: dict[str, str] = {
    "Action": "action films", "Adventure": "adventure films", "Animation": "animated films",
    "Children's": "children's films", "Comedy": "comedies", "Crime": "crime films",
    "Documentary": "documentaries", "Drama": "dramas", "Fantasy": "fantasy films",
    "Film-Noir": "film noir classics", "Horror": "horror films", "Musical": "musicals",
    "Mystery": "mystery films", "Romance": "romance films", "Sci-Fi": "science fiction films",
    "Thriller": "thrillers", "War": "war films", "Western": "westerns",
}  # fmt: skip
NEUTRAL_TITLES = ("N/A", "my playlist", "movies")  # content-free titles the scores are calibrated against


def model_tag(settings: LLMSettings) -> str:
    """What identifies a reader's answers: the model (LLMSettings.describe) and this prompt's version."""
    blob = json.dumps([settings.describe(), PROMPT_VERSION], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def question(title: str, genre: str) -> ChatPrompt:
    """The yes/no prompt for one genre."""
    from cascade.rerank.llm.prompts import ChatPrompt

    user = USER.format(title=clean_text(title, 80), genre=GENRE_PHRASE[genre])
    return ChatPrompt(SYSTEM, user, LABELS, "single_pass", 1, "answer")


def log_odds(logprobs: Mapping[str, float]) -> float:
    """log p(Yes) - log p(No); a missing answer counts 20 nats below the other (0 when both miss)."""
    yes, no = logprobs.get("Yes"), logprobs.get("No")
    if yes is None and no is None:
        return 0.0
    if yes is None or no is None:
        return -20.0 if yes is None else 20.0
    return float(yes - no)


class LLMIntentReader:
    """Asks a backend the 18 genre questions for a title; calibrated once per reader."""

    def __init__(self, backend: LLMBackend, tag: str) -> None:
        self.backend, self.tag = backend, tag
        self._baseline: dict[str, float] | None = None

    async def _raw(self, title: str) -> dict[str, float]:
        out: dict[str, float] = {}
        for g in GENRE_NAMES:
            res = await self.backend.score(question(title, g))
            out[g] = log_odds(res.logprobs)
        return out

    async def baseline(self) -> dict[str, float]:
        """Per genre, the mean log-odds over the content-free titles."""
        if self._baseline is None:
            raws = [await self._raw(t) for t in NEUTRAL_TITLES]
            self._baseline = {g: float(np.mean([r[g] for r in raws])) for g in GENRE_NAMES}
        return self._baseline

    async def scores(self, title: str) -> dict[str, float]:
        """Calibrated log-odds per genre (what the cache keeps)."""
        base = await self.baseline()
        raw = await self._raw(title)
        return {g: round(raw[g] - base[g], 5) for g in GENRE_NAMES if math.isfinite(raw[g])}

    async def aclose(self) -> None:
        """Release the backend."""
        await self.backend.aclose()


def reader_for(settings: LLMSettings) -> LLMIntentReader:
    """A reader over a backend of its own for `settings` (in process: a small llama.cpp context)."""
    from cascade.rerank.llm.http_backend import OpenAIHTTPBackend
    from cascade.rerank.llm.inproc_backend import LlamaCppBackend
    from cascade.rerank.llm.models import smollm2_path
    from cascade.rerank.llm.settings import HTTPBackendConfig

    b = settings.backend
    backend: LLMBackend
    if isinstance(b, HTTPBackendConfig):
        backend = OpenAIHTTPBackend(b)
    else:
        backend = LlamaCppBackend(b.model_path or smollm2_path(), n_ctx=512, n_threads=b.n_threads)
    return LLMIntentReader(backend, model_tag(settings))
