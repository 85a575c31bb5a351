"""Playlist titles for the ranker's training rows: a user's label window as stated intent.

Phrased from the window's top genres and decade (cascade.data.themes), with noise: sometimes one
genre only, sometimes a wrong genre, often no decade. Half the users get a titled group next to
their untitled one, so the ranker learns how far to trust a title and still ranks without one.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

import numpy as np
import numpy.typing as npt

from cascade.data.dataset import Catalog
from cascade.data.themes import NOUN, phrase, window_theme

TITLE_SHARE = 0.5  # users whose window also yields a titled group
P_PARTIAL = 0.3  # the title names the top genre only
P_WRONG = 0.15  # one named genre is replaced by another
P_NO_DECADE = 0.5  # the title names no decade
_GENRES = tuple(sorted(NOUN))


def intent_title(
    items: Iterable[int],
    catalog: Catalog,
    rng: np.random.Generator,
    forbidden: Collection[str] = (),
    noisy: bool = True,
) -> str | None:
    """A free-form title for the theme of `items`; None when they carry no genre."""
    rows = [catalog.row(int(i)) for i in sorted(set(items)) if int(i) in catalog]
    genres, decade = window_theme([catalog.genres[r] for r in rows], [int(catalog.years[r]) for r in rows])
    if not genres:
        return None
    if noisy:
        if len(genres) > 1 and rng.random() < P_PARTIAL:
            genres = genres[:1]
        if rng.random() < P_WRONG:
            others = [g for g in _GENRES if g not in genres]
            genres[-1] = others[int(rng.integers(len(others)))]
        if rng.random() < P_NO_DECADE:
            decade = None
    return phrase(genres, decade, rng, forbidden)


def training_titles(
    window: Mapping[int, npt.NDArray[np.int64]],
    catalog: Catalog,
    seed: int,
    forbidden: Collection[str] = (),
    share: float = TITLE_SHARE,
) -> dict[int, str]:
    """user -> a noisy intent title from that user's window items, for a seeded `share` of users."""
    out: dict[int, str] = {}
    for u in sorted(window):
        rng = np.random.default_rng([seed, u])
        if rng.random() >= share:
            continue
        title = intent_title(window[u].tolist(), catalog, rng, forbidden)
        if title:
            out[u] = title
    return out
