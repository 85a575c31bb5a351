import numpy as np
import pytest

from cascade.rerank.title.intent import (
    GENRE_NAMES,
    TitleIntent,
    combine,
    intent_term,
    lexicon_intent,
    minilm_intent,
    title_decades,
)
from cascade.types import ItemText


@pytest.mark.parametrize(
    ("title", "decades"),
    [
        ("90s thrillers", (1990, 1999)),
        ("paranoid 1970s cinema", (1970, 1979)),
        ("fifties family matinees", (1950, 1959)),
        ("jazz from the 20s and 30s", (1920, 1939)),
        ("the '80s", (1980, 1989)),
        ("rainy sunday tearjerkers", None),
        ("top 100 films", None),  # a number that is not a decade
    ],
)
def test_title_decades(title: str, decades: tuple[int, int] | None) -> None:
    assert title_decades(title) == decades


def test_lexicon_intent_is_uniform_over_the_words_genres() -> None:
    intent = lexicon_intent("guns, horses and dust in the 50s")
    assert intent.decades == (1950, 1959) and intent.source == "lexicon"
    assert not lexicon_intent("zzz").genres
    horror = lexicon_intent("haunted house")
    assert dict(horror.genres) == {"Horror": 1.0}


def test_minilm_intent_is_a_distribution_led_by_the_theme() -> None:
    intent = minilm_intent("scary ghosts and monsters")
    assert set(intent.genres) == set(GENRE_NAMES)
    assert sum(intent.genres.values()) == pytest.approx(1.0)
    assert max(intent.genres, key=lambda g: intent.genres[g]) == "Horror"
    assert "Horror" in intent.predicted() and "Musical" not in intent.predicted()


def test_predicted_genres_are_those_near_the_top() -> None:
    intent = TitleIntent({"Horror": 0.5, "Thriller": 0.3, "Comedy": 0.2})
    assert intent.predicted() == {"Horror", "Thriller"}
    assert TitleIntent().predicted() == frozenset()


def test_combine_mixes_the_readers_and_drops_an_empty_one() -> None:
    a = TitleIntent({"Horror": 1.0}, (1980, 1989))
    b = TitleIntent({"Horror": 0.5, "Comedy": 0.5})
    mixed = combine([(1.0, a), (1.0, b), (1.0, TitleIntent())])
    assert dict(mixed.genres) == pytest.approx({"Horror": 0.75, "Comedy": 0.25})
    assert mixed.decades == (1980, 1989)


def test_json_round_trip() -> None:
    intent = TitleIntent({"War": 0.25, "Drama": 0.75}, (1940, 1949), "llm")
    assert TitleIntent.from_json(intent.to_json()) == intent


def test_intent_term_sums_the_items_genres_and_raises_the_decade() -> None:
    items = [
        ItemText(1, "a", 1985, ("Horror", "Comedy")),
        ItemText(2, "b", 1995, ("Comedy",)),
        ItemText(3, "c", 1995, ()),
    ]
    intent = TitleIntent({"Horror": 0.75, "Comedy": 0.25}, (1980, 1989))
    summed, best = intent_term(intent, items), intent_term(intent, items, match="max")
    assert summed is not None and summed.tolist() == [1.0, 0.25, 0.0]
    assert best is not None and best.tolist() == [0.75, 0.25, 0.0]
    raised = intent_term(intent, items, decade_weight=0.5)
    assert raised is not None and np.allclose(raised, [1.5, 0.25, 0.0])
    assert intent_term(TitleIntent(), items) is None
