"""MiniLM title embeddings: offline, deterministic, normalised, and semantically ordered."""

from __future__ import annotations

import numpy as np

from cascade.retrieval.text import TEXT_DIM, embed_texts, item_text


def test_item_text_format() -> None:
    assert item_text("Heat", 1995, ("Action", "Crime")) == "Heat (1995) — Action, Crime"
    assert item_text("Nameless", 0, ("unknown",)) == "Nameless"


def test_embeddings_are_deterministic_unit_float32() -> None:
    texts = ["Toy Story (1995) — Animation, Children's, Comedy", "Heat (1995) — Action, Crime"]
    a, b = embed_texts(texts), embed_texts(list(reversed(texts)))
    assert a.shape == (2, TEXT_DIM) and a.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(a, b[::-1], atol=1e-5)
    assert embed_texts([]).shape == (0, TEXT_DIM)


def test_similar_titles_are_closer_than_unrelated() -> None:
    trek1, trek2, austen = embed_texts(
        [
            "Star Trek: First Contact (1996) — Action, Adventure, Sci-Fi",
            "Star Trek: Generations (1994) — Action, Adventure, Sci-Fi",
            "Sense and Sensibility (1995) — Drama, Romance",
        ]
    )
    assert trek1 @ trek2 > trek1 @ austen + 0.2
    assert trek1 @ trek2 > trek2 @ austen + 0.2
