"""Title intent: a playlist title read as a distribution over genres, plus a decade range it names.

Three readers share this form: the keyword lexicon (uniform over the genres its words name), MiniLM
(softmax of the title's cosine with a short description of each genre) and the LLM
(cascade.rerank.title.llm_intent, cached per title). `combine` mixes them; `intent_term` turns an
intent into a per-candidate relevance term for the rules (cascade.rerank.title.term).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from cascade.data.dataset import GENRES
from cascade.rerank.title.lexicon import title_genres
from cascade.rerank.title.similarity import shared_similarity
from cascade.types import ItemText

FloatArray = npt.NDArray[np.float64]
Embedder = Callable[[Sequence[str]], npt.NDArray[np.float32]]
GENRE_NAMES: tuple[str, ...] = tuple(g for g in GENRES if g != "unknown")
# what MiniLM compares a title with: three plain descriptions per genre (written from the genres'
# meaning, not from a title set); a genre's cosine is the best of its three
GENRE_TEXT: dict[str, tuple[str, str, str]] = {
    "Action": ("action movies", "explosions, fights and car chases", "high-octane action heroes"),
    "Adventure": (
        "adventure movies",
        "quests, journeys and treasure hunts",
        "daring expeditions to faraway lands",
    ),
    "Animation": ("animated cartoons", "cartoon animation films", "hand-drawn and computer-animated movies"),
    "Children's": (
        "children's movies for kids and families",
        "family films for young children",
        "kids' movies",
    ),
    "Comedy": ("comedy movies", "funny films that make you laugh", "silly light-hearted comedies"),
    "Crime": ("crime movies", "gangsters, heists and detectives", "criminals, cops and the underworld"),
    "Documentary": (
        "documentary films",
        "true stories about real people and events",
        "non-fiction documentaries",
    ),
    "Drama": ("drama films", "serious emotional stories about people's lives", "moving character dramas"),
    "Fantasy": (
        "fantasy movies",
        "magic, wizards and mythical creatures",
        "fairy tales and enchanted worlds",
    ),
    "Film-Noir": (
        "film noir",
        "black-and-white detective stories with femmes fatales",
        "shadowy hard-boiled crime classics",
    ),
    "Horror": ("horror movies", "scary films with monsters, ghosts and killers", "frightening creepy horror"),
    "Musical": ("musicals", "films with singing and dancing", "song and dance numbers on stage and screen"),
    "Mystery": ("mystery movies", "whodunits and puzzles to solve", "detectives solving mysterious cases"),
    "Romance": ("romance movies", "love stories about couples falling in love", "romantic films"),
    "Sci-Fi": (
        "science fiction movies",
        "space, aliens, robots and the future",
        "futuristic sci-fi technology",
    ),
    "Thriller": ("thriller movies", "tense suspenseful thrillers", "nail-biting suspense and danger"),
    "War": ("war movies", "soldiers, battles and military combat", "films about wartime"),
    "Western": ("western movies", "cowboys, outlaws and the wild west frontier", "gunfights in the old west"),
}  # fmt: skip
MINILM_TEMPERATURE = 0.03  # softmax temperature over cosines (chosen on eval/titles.yaml and derived titles)
PREDICTED_SHARE = 0.5  # the genres an intent predicts: probability at least this share of the top one's

_WORDS = {
    "twenties": 1920, "thirties": 1930, "forties": 1940, "fifties": 1950, "sixties": 1960,
    "seventies": 1970, "eighties": 1980, "nineties": 1990,
}  # fmt: skip
_DECADE = re.compile(
    r"(?<![a-z0-9])(?:'|’)?(?P<year>(?:19|20)?\d0)(?:'|’)?s(?![a-z0-9])|(?P<word>" + "|".join(_WORDS) + ")"
)


@dataclass(frozen=True)
class TitleIntent:
    """genres: probability per genre (sums to 1; empty: the reader read nothing); decades: years."""

    genres: Mapping[str, float] = field(default_factory=dict)
    decades: tuple[int, int] | None = None
    source: str = "none"

    def __bool__(self) -> bool:
        return bool(self.genres) or self.decades is not None

    def predicted(self, share: float = PREDICTED_SHARE) -> frozenset[str]:
        """The genres the intent names: probability at least `share` of the most likely genre's."""
        if not self.genres:
            return frozenset()
        top = max(self.genres.values())
        return frozenset(g for g, p in self.genres.items() if p > 0 and p >= share * top)

    def vector(self, names: Sequence[str] = GENRE_NAMES) -> FloatArray:
        """The genre probabilities in `names` order."""
        return np.asarray([float(self.genres.get(g, 0.0)) for g in names], dtype=np.float64)

    def to_json(self) -> dict[str, Any]:
        return {
            "genres": {g: round(float(p), 6) for g, p in self.genres.items()},
            "decades": list(self.decades) if self.decades else None,
            "source": self.source,
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> TitleIntent:
        dec = doc.get("decades")
        genres = {str(g): float(p) for g, p in dict(doc.get("genres") or {}).items()}
        return cls(genres, (int(dec[0]), int(dec[1])) if dec else None, str(doc.get("source", "none")))


def normalise(scores: Mapping[str, float]) -> dict[str, float]:
    """Non-negative scores scaled to sum 1 (empty when they sum to 0)."""
    total = sum(max(v, 0.0) for v in scores.values())
    return {g: max(v, 0.0) / total for g, v in scores.items() if v > 0} if total > 0 else {}


def softmax(scores: FloatArray, temperature: float) -> FloatArray:
    """softmax(scores / temperature)."""
    z = scores / max(temperature, 1e-9)
    e = np.exp(z - z.max())
    out: FloatArray = e / e.sum()
    return out


def title_decades(title: str | None) -> tuple[int, int] | None:
    """The years a title's decade words span ("90s", "1970s", "fifties", "the 30s and 40s"), or None."""
    starts: list[int] = []
    for m in _DECADE.finditer((title or "").lower()):
        if m.group("word"):
            starts.append(_WORDS[m.group("word")])
            continue
        y = int(m.group("year"))
        starts.append(y if y >= 1000 else (1900 + y if y >= 20 else 2000 + y))
    return (min(starts), max(starts) + 9) if starts else None


def lexicon_intent(title: str | None) -> TitleIntent:
    """The lexicon's genres, uniform; the decade the title names."""
    genres = title_genres(title)
    return TitleIntent({g: 1.0 / len(genres) for g in sorted(genres)}, title_decades(title), "lexicon")


def _minilm(texts: Sequence[str]) -> npt.NDArray[np.float32]:
    from cascade.retrieval.text import embed_texts  # loads torch + MiniLM only when first used

    return embed_texts(texts)


@lru_cache(maxsize=4)
def _genre_vectors(embed: Embedder) -> npt.NDArray[np.float32]:
    """(genres, 3, dim): the descriptions' unit embeddings."""
    texts = [t for g in GENRE_NAMES for t in GENRE_TEXT[g]]
    return embed(texts).reshape(len(GENRE_NAMES), 3, -1)


def minilm_intent(
    title: str, embed: Embedder = _minilm, temperature: float = MINILM_TEMPERATURE
) -> TitleIntent:
    """softmax over genres of max cos(title, genre description) / temperature; the decade named."""
    vec = shared_similarity().title_vector(title) if embed is _minilm else embed([title])[0]
    cos = (_genre_vectors(embed) @ vec).max(axis=1).astype(np.float64)
    p = softmax(cos, temperature)
    return TitleIntent(dict(zip(GENRE_NAMES, p.tolist(), strict=True)), title_decades(title), "minilm")


def combine(parts: Sequence[tuple[float, TitleIntent]], source: str = "combined") -> TitleIntent:
    """Weighted mean of the readers' distributions (a reader that read nothing drops out); first decade."""
    live = [(w, i) for w, i in parts if w > 0 and i.genres]
    mix: dict[str, float] = {}
    for w, intent in live:
        for g, p in intent.genres.items():
            mix[g] = mix.get(g, 0.0) + w * p
    decades = next((i.decades for _, i in parts if i.decades is not None), None)
    return TitleIntent(normalise(mix), decades, source)


def intent_term(
    intent: TitleIntent, items: Sequence[ItemText], decade_weight: float = 0.0, match: str = "sum"
) -> FloatArray | None:
    """Per item: the intent's probability on its genres (sum, or max), plus decade_weight where its
    year is in the named decades; None when the intent reads nothing."""
    if not intent:
        return None
    out = np.zeros(len(items), dtype=np.float64)
    for n, c in enumerate(items):
        ps = [float(intent.genres.get(g, 0.0)) for g in c.genres]
        out[n] = (max(ps) if match == "max" else min(sum(ps), 1.0)) if ps else 0.0
    if intent.decades is not None and decade_weight > 0:
        lo, hi = intent.decades
        years = np.fromiter((c.year for c in items), dtype=np.float64, count=len(items))
        out += decade_weight * ((years >= lo) & (years <= hi))
    return out
