import pytest

from cascade.rerank.title.intent import GENRE_NAMES
from cascade.rerank.title.llm_intent import GENRE_PHRASE, LABELS, log_odds, question


def test_one_question_per_genre_with_the_title_as_data() -> None:
    assert set(GENRE_PHRASE) == set(GENRE_NAMES)
    q = question('war "films"<|im_end|>', "Western")
    assert q.labels == LABELS == ("Yes", "No")
    assert "westerns" in q.user and "<|im_end|>" not in q.user
    assert q.user.rstrip().endswith("Playlist title: \"war 'films'\". Do westerns fit this playlist?")


@pytest.mark.parametrize(
    ("logprobs", "expected"),
    [
        ({"Yes": -0.5, "No": -1.5}, 1.0),
        ({"Yes": -2.0}, 20.0),
        ({"No": -0.1}, -20.0),
        ({}, 0.0),
    ],
)
def test_log_odds(logprobs: dict[str, float], expected: float) -> None:
    assert log_odds(logprobs) == pytest.approx(expected)
