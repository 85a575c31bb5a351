"""Noisy intent titles for the ranker's training rows."""

from __future__ import annotations

import numpy as np

from cascade.data.dataset import Dataset
from cascade.data.themes import NOUN
from cascade.ranking.titles import intent_title, training_titles


def _window(ds: Dataset, genre: str, n: int = 6) -> list[int]:
    c = ds.catalog
    return [int(i) for i in c.item_ids if c.genres[c.row(int(i))] == (genre,)][:n]


def test_a_clean_title_names_the_windows_genre(ml100k: Dataset) -> None:
    items = _window(ml100k, "Horror")
    titles = {intent_title(items, ml100k.catalog, np.random.default_rng(s), noisy=False) for s in range(20)}
    assert None not in titles
    words = [w for phrase in NOUN["Horror"] for w in phrase.split()] + ["spine-chilling", "creepy"]
    assert all(any(w in t for w in words) for t in titles if t), titles


def test_training_titles_are_seeded_partial_and_avoid_forbidden(ml100k: Dataset) -> None:
    window = {u: np.asarray(_window(ml100k, "Comedy", 5 + u % 3), dtype=np.int64) for u in range(200)}
    a = training_titles(window, ml100k.catalog, seed=3)
    assert a == training_titles(window, ml100k.catalog, seed=3)
    assert a != training_titles(window, ml100k.catalog, seed=4)
    assert 0.35 < len(a) / len(window) < 0.65  # about half the users get a titled group
    banned = set(a.values())
    b = training_titles(window, ml100k.catalog, seed=3, forbidden=banned)
    assert not set(b.values()) & banned
    # noise: some titles name a genre the all-comedy windows do not have
    other = [p for g, phrases in NOUN.items() if g != "Comedy" for p in phrases]
    assert any(any(p in t for p in other) for t in a.values())
    assert intent_title([], ml100k.catalog, np.random.default_rng(0)) is None
