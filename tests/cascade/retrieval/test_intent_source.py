import numpy as np

from cascade.data.dataset import Dataset
from cascade.retrieval.intent_source import MIN_FIT, item_fit, title_cut


def test_without_a_quota_the_cut_is_the_rankers_top_n() -> None:
    scores = np.asarray([0.1, 0.9, 0.5, 0.7], dtype=np.float32)
    assert title_cut(scores, 3, 0, None).tolist() == [1, 3, 2]
    assert title_cut(scores, 3, 2, None).tolist() == [1, 3, 2]


def test_the_quota_takes_the_best_scored_fitting_rows_past_the_head() -> None:
    scores = np.arange(10, 0, -1).astype(np.float32)  # row r is the r-th best
    fits = np.asarray([1, 0, 0, 0, 0, 0, 0, 1, 0, 1], dtype=np.float64)
    top = title_cut(scores, 5, 2, lambda rows: fits[rows])
    assert top.tolist() == [0, 1, 2, 7, 9]  # the head of 3, then rows 7 and 9 (fit, in ranker order)
    assert len(set(top.tolist())) == len(top)


def test_too_few_fitting_rows_leave_the_rankers_own_in_the_quota() -> None:
    scores = np.arange(10, 0, -1).astype(np.float32)
    fits = np.zeros(10)
    fits[[3, 8]] = 1.0
    top = title_cut(scores, 5, 3, lambda rows: fits[rows])
    assert top.tolist() == [0, 1, 2, 3, 8]  # row 3 fits inside the quota already; row 8 joins
    none_fit = title_cut(scores, 5, 3, lambda rows: np.zeros(len(rows)))
    assert none_fit.tolist() == [0, 1, 2, 3, 4]


def test_item_fit_is_the_intents_mass_on_the_items_genres(ml100k: Dataset) -> None:
    cat = ml100k.catalog
    weights = np.zeros(len(cat.genre_names))
    weights[cat.genre_names.index("Horror")] = 0.75
    weights[cat.genre_names.index("Comedy")] = 0.25
    ids = np.asarray(cat.item_ids[:200], dtype=np.int64)
    fit = item_fit(weights, cat, ids)
    for i, f in zip(ids.tolist(), fit.tolist(), strict=True):
        g = set(cat.genres[cat.row(i)])
        assert f == 0.75 * ("Horror" in g) + 0.25 * ("Comedy" in g)
    assert (fit >= MIN_FIT).sum() == sum("Horror" in cat.genres[cat.row(i)] for i in ids.tolist())
