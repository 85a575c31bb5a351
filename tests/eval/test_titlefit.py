import math
from pathlib import Path

import pytest

from cascade.rerank.title.intent import TitleIntent
from eval.title_protocol import per_user_metrics
from eval.titlefit import (
    LabelledTitle,
    intent_quality,
    load_titles,
    pair_titles,
    steerability,
    title_fit,
)

GENRES = {1: ("Horror",), 2: ("Comedy", "Romance"), 3: ("Drama",), 4: ("Horror", "Thriller")}
HORROR = LabelledTitle(title="friday night frights", genres=("Horror",), free_form=True)
ROMCOM = LabelledTitle(title="romantic comedies", genres=("Romance", "Comedy"), free_form=False)


def test_the_shipped_title_set_is_large_and_mostly_free_form() -> None:
    titles = load_titles()
    assert len(titles) >= 60
    assert sum(t.free_form for t in titles) * 2 >= len(titles)
    assert len({t.title for t in titles}) == len(titles)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{title: "scary war stories", genres: [War], free_form: true}', "genre word 'war'"),
        ('{title: "x", genres: [Spooky], free_form: false}', "unknown genres"),
        ('{title: "x", genres: [Drama], decades: [1990, 1980], free_form: false}', "backwards"),
    ],
)
def test_a_bad_title_file_names_itself(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "titles.yaml"
    path.write_text(f'titles:\n  - {{title: "ok", genres: [Drama], free_form: true}}\n  - {line}\n')
    with pytest.raises(ValueError, match=message) as err:
        load_titles(path)
    assert str(path) in str(err.value)


def test_title_fit_counts_items_sharing_a_labelled_genre() -> None:
    assert title_fit([1, 2, 3, 4], GENRES, HORROR, k=4) == 0.5
    assert title_fit([1, 2, 3, 4], GENRES, HORROR, k=1) == 1.0
    assert title_fit([2, 3], GENRES, ROMCOM, k=10) == 0.5
    assert math.isnan(title_fit([], GENRES, HORROR, k=10))


def test_steerability() -> None:
    assert steerability(1.0, 0.0, 1.0, 0.0) == 1.0  # each list fits only its own title
    assert steerability(0.5, 0.5, 0.2, 0.2) == 0.0  # the title changed nothing


def test_pairs_have_disjoint_genres_and_are_seeded() -> None:
    titles = load_titles()
    pairs = pair_titles(list(range(100)), titles, seed=3)
    assert all(not set(a.genres) & set(b.genres) for a, b in pairs.values())
    assert pairs == pair_titles(list(range(100)), titles, seed=3)
    assert len({a.title for a, _ in pairs.values()}) == len(titles)  # slot A cycles through the set


def test_per_user_metrics_from_the_two_lists() -> None:
    lists = {"A": {7: [1, 4]}, "B": {7: [2, 3]}}
    ranker = {"A": {7: [1, 3]}, "B": {7: [2, 3]}}
    m = per_user_metrics(lists, ranker, {7: [3, 1]}, {7: (HORROR, ROMCOM)}, {7: {4}}, GENRES, k=2)[7]
    assert m["titlefit@10"] == pytest.approx((1.0 + 0.5) / 2)
    assert m["kept@10"] == pytest.approx((0.5 + 0.5) / 2)  # each list keeps one of the own two
    assert m["kept_titled@10"] == pytest.approx((0.5 + 1.0) / 2)
    assert m["titlefit_free@10"] == 1.0  # only the horror title is free-form
    assert m["steer@10"] == pytest.approx(((1.0 - 0.0) + (0.5 - 0.0)) / 2)
    assert 0.0 < m["ndcg@10"] < 1.0


def test_intent_quality_scores_a_reader_against_the_labels() -> None:
    said = {
        HORROR.title: TitleIntent({"Horror": 0.7, "Thriller": 0.3}),
        ROMCOM.title: TitleIntent({"Romance": 0.5, "Drama": 0.5}),
    }
    q = intent_quality([HORROR, ROMCOM], lambda t: said[t])
    assert q["precision"] == pytest.approx(2 / 3)  # Horror; Romance and Drama (both at the top)
    assert q["recall"] == pytest.approx(2 / 3)  # Horror of 1, Romance of 2
    assert q["mass"] == pytest.approx((0.7 + 0.5) / 2)
    assert q["read"] == 1.0
    empty = intent_quality([HORROR], lambda _t: TitleIntent())
    assert empty["read"] == 0.0 and math.isnan(empty["precision"]) and empty["recall"] == 0.0
