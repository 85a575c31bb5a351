"""Training titles: phrased from the window's theme, varied, never an eval title."""

from __future__ import annotations

import numpy as np

from cascade.data.themes import phrase, window_theme
from eval.titlefit import load_titles


def test_window_theme_counts_genres_and_decades() -> None:
    genres, decade = window_theme([("Drama", "War"), ("Drama",), ("Comedy", "unknown")], [1994, 1996, 1979])
    assert genres == ["Drama", "Comedy"]
    assert decade == "90s"
    assert window_theme([], []) == ([], None)


def test_phrasings_vary_and_skip_forbidden_titles() -> None:
    rng = np.random.default_rng(0)
    made = {phrase(["Thriller", "Crime"], "90s", rng) for _ in range(200)}
    assert len(made) >= 20 and None not in made
    # forbid everything made so far except one: only that one can come out
    keep = sorted(t for t in made if t is not None)[0]
    forbidden = [t.upper() for t in made if t is not None and t != keep]
    out = {phrase(["Thriller", "Crime"], "90s", np.random.default_rng(s), forbidden) for s in range(50)}
    assert out <= {keep, None} and keep in out


def test_no_eval_title_is_produced() -> None:
    titles = load_titles()
    banned = {t.title.lower() for t in titles}
    rng = np.random.default_rng(1)
    for t in titles:
        for _ in range(20):
            made = phrase(list(t.genres), "90s", rng, [x.title for x in titles])
            assert made is None or made.lower() not in banned


def test_no_title_without_genres() -> None:
    assert phrase([], "90s", np.random.default_rng(0)) is None
