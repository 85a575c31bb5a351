"""Playlist titles for training examples, phrased freely from the genres and decades of a user's window.

The eval's labelled titles (eval/titles.yaml) are passed in as `forbidden` and never produced.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence

import numpy as np

NOUN: dict[str, tuple[str, ...]] = {
    "Action": ("action movies", "action flicks"),
    "Adventure": ("adventures", "adventure films"),
    "Animation": ("animated films", "animation"),
    "Children's": ("kids' movies", "family movies"),
    "Comedy": ("comedies", "funny films"),
    "Crime": ("crime stories", "crime films"),
    "Documentary": ("documentaries", "true stories"),
    "Drama": ("dramas", "drama"),
    "Fantasy": ("fantasy films", "fantasy"),
    "Film-Noir": ("noir", "noir classics"),
    "Horror": ("horror films", "scary movies"),
    "Musical": ("musicals", "movies with songs"),
    "Mystery": ("mysteries", "puzzlers"),
    "Romance": ("love stories", "romances"),
    "Sci-Fi": ("science fiction", "sci-fi films"),
    "Thriller": ("thrillers", "suspense films"),
    "War": ("war movies", "battle films"),
    "Western": ("cowboy films", "westerns"),
}
MOOD: dict[str, tuple[str, ...]] = {
    "Action": ("high-octane", "adrenaline"),
    "Adventure": ("daring", "globe-trotting"),
    "Animation": ("hand-drawn", "colourful"),
    "Children's": ("all-ages", "family-friendly"),
    "Comedy": ("light-hearted", "silly"),
    "Crime": ("gritty", "underworld"),
    "Documentary": ("eye-opening", "factual"),
    "Drama": ("moving", "heartfelt"),
    "Fantasy": ("magical", "enchanted"),
    "Film-Noir": ("smoky", "hard-boiled"),
    "Horror": ("spine-chilling", "creepy"),
    "Musical": ("toe-tapping", "showtune"),
    "Mystery": ("puzzling", "clue-hunting"),
    "Romance": ("swoony", "lovestruck"),
    "Sci-Fi": ("futuristic", "space-age"),
    "Thriller": ("tense", "nail-biting"),
    "War": ("wartime", "frontline"),
    "Western": ("dusty frontier", "saloon"),
}
TEMPLATES: tuple[str, ...] = (
    "{decade} {noun}",
    "{noun} from the {decade}",
    "{mood} {noun}",
    "something {mood}",
    "{mood} {decade} picks",
    "a {mood} evening",
    "my {noun} list",
    "{noun} and {noun2}",
    "{mood} and {mood2}",
    "best {noun} of the {decade}",
    "weekend of {noun}",
    "{noun}, {decade} edition",
)


def decade_word(year: int) -> str:
    """1994 -> '90s', 2001 -> '2000s'."""
    d = year // 10 * 10
    return f"{d}s" if d >= 2000 else f"{d % 100:02d}s"


def window_theme(genres: Sequence[Sequence[str]], years: Sequence[int]) -> tuple[list[str], str | None]:
    """The two most frequent genres and the most frequent decade among a window's items."""
    counts = Counter(g for gs in genres for g in gs if g in NOUN)
    top = [g for g, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:2]]
    decades = Counter(y // 10 * 10 for y in years if y > 0)
    decade = decade_word(max(decades, key=lambda d: (decades[d], d))) if decades else None
    return top, decade


def phrase(
    genres: Sequence[str], decade: str | None, rng: np.random.Generator, forbidden: Collection[str] = ()
) -> str | None:
    """A free-form title for the theme; None when the theme is empty or every try hits `forbidden`."""
    if not genres:
        return None
    banned = {t.strip().lower() for t in forbidden}
    g1, g2 = genres[0], genres[-1]
    for _ in range(20):
        tpl = TEMPLATES[int(rng.integers(len(TEMPLATES)))]
        if ("{decade}" in tpl and decade is None) or ("2}" in tpl and g1 == g2):
            continue
        title = tpl.format(
            decade=decade,
            noun=rng.choice(NOUN[g1]),
            noun2=rng.choice(NOUN[g2]),
            mood=rng.choice(MOOD[g1]),
            mood2=rng.choice(MOOD[g2]),
        )
        if title.lower() not in banned:
            return title
    return None
