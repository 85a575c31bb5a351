"""Playlist-context titles derived from a user's history (MovieLens has no playlists).

The rule, deterministic and documented (README "Evaluation"):

1. Take the user's last 20 items before the scored window (train+validation for the test window),
   in time order (ties by item id), i.e. `Interactions.by_user()` order.
2. Genres: count each item's genres ("unknown" ignored). The dominant genre has the highest count
   (ties: the order of GENRES, which is MovieLens' column order). A second genre joins it when its
   count is at least 75% of the dominant one's ("comedy & romance").
3. Decade: the most frequent release decade among the 20 items with a known year (ties: the later
   decade), written "90s" for 1990-1999 and "2000s" for 2000 onwards. Omitted if no year is known.
4. Title: "<decade> <genre>[ & <genre>]" using the nouns in GENRE_NOUN, e.g. "90s thrillers",
   "80s comedy & romance". A user with no usable history gets no title (None).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from cascade.data.dataset import GENRES, Catalog

N_LAST = 20
SECOND_GENRE_SHARE = 0.75

GENRE_NOUN: dict[str, str] = {
    "Action": "action",
    "Adventure": "adventure",
    "Animation": "animation",
    "Children's": "family films",
    "Comedy": "comedy",
    "Crime": "crime",
    "Documentary": "documentaries",
    "Drama": "drama",
    "Fantasy": "fantasy",
    "Film-Noir": "film noir",
    "Horror": "horror",
    "Musical": "musicals",
    "Mystery": "mystery",
    "Romance": "romance",
    "Sci-Fi": "sci-fi",
    "Thriller": "thrillers",
    "War": "war films",
    "Western": "westerns",
}


def decade_label(year: int) -> str:
    """1994 -> '90s', 1930 -> '30s', 2003 -> '2000s'."""
    decade = year // 10 * 10
    return f"{decade}s" if decade >= 2000 else f"{decade % 100:02d}s"


def dominant_genres(genre_lists: Sequence[Sequence[str]]) -> list[str]:
    """The dominant genre, plus a second when it reaches SECOND_GENRE_SHARE of the first's count."""
    counts = Counter(g for gs in genre_lists for g in gs if g != "unknown")
    if not counts:
        return []
    ranked = sorted(counts, key=lambda g: (-counts[g], GENRES.index(g)))
    out = ranked[:1]
    if len(ranked) > 1 and counts[ranked[1]] >= SECOND_GENRE_SHARE * counts[ranked[0]]:
        out.append(ranked[1])
    return out


def dominant_decade(years: Sequence[int]) -> int | None:
    counts = Counter(y // 10 * 10 for y in years if y > 0)
    if not counts:
        return None
    return max(counts, key=lambda d: (counts[d], d))


def context_title(history: Sequence[int], catalog: Catalog, n_last: int = N_LAST) -> str | None:
    """The playlist title for a history (oldest first); None when it names no genre."""
    last = [i for i in history if i in catalog][-n_last:]
    rows = [catalog.row(int(i)) for i in last]
    genres = dominant_genres([catalog.genres[r] for r in rows])
    if not genres:
        return None
    decade = dominant_decade([int(catalog.years[r]) for r in rows])
    noun = " & ".join(GENRE_NOUN.get(g, g.lower()) for g in genres)
    return f"{decade_label(decade)} {noun}" if decade is not None else noun


def context_titles(histories: Mapping[int, Sequence[int]], catalog: Catalog) -> dict[int, str | None]:
    """context_title for every user."""
    return {u: context_title(h, catalog) for u, h in sorted(histories.items())}
