"""The trained retriever: protocol behaviour, numpy/torch parity, cold start, save/load and quality floors."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch

from cascade.data.dataset import Dataset
from cascade.data.split import Split
from cascade.retrieval.encode import age_bucket, gender_index
from cascade.retrieval.evaluate import evaluate_popularity, evaluate_retrieval, user_views
from cascade.retrieval.retriever import TwoTowerRetriever
from cascade.types import Retriever, UserView

NEW_ID = 99_001


def _views(ds: Dataset, split: Split) -> dict[int, UserView]:
    return user_views(ds.users, split.history_before("test").by_user())


def test_retrieve_excludes_seen_and_returns_n_unique(
    retriever: TwoTowerRetriever, ds: Dataset, split: Split
) -> None:
    proto: Retriever = retriever
    for view in list(_views(ds, split).values())[:20]:
        extra = UserView(view.user_id, True, view.age, view.gender, view.occupation, view.history,
                         session_items=(int(ds.catalog.item_ids[-1]),), seen=view.seen)  # fmt: skip
        got = proto.retrieve(extra, 500)
        ids = got.item_ids.tolist()
        assert len(ids) == 500 and len(set(ids)) == 500
        assert not set(ids) & (view.seen | set(extra.session_items))
        assert np.all(np.diff(got.scores) <= 1e-6)
        np.testing.assert_allclose(retriever.score(extra, got.item_ids[:20]), got.scores[:20], atol=1e-5)


def test_numpy_user_tower_matches_torch(retriever: TwoTowerRetriever, ds: Dataset, split: Split) -> None:
    view = _views(ds, split)[42]
    view = UserView(42, True, view.age, view.gender, view.occupation, view.history, session_items=(50, 181))
    rows = [retriever.catalog.row(i) for i in view.history[-retriever.cfg.history_len :]]
    vecs = torch.from_numpy(retriever.item_vectors())
    with torch.inference_mode():
        expected = retriever.model.user(
            torch.tensor([retriever.vocab.user_index(42)]),
            torch.tensor([age_bucket(view.age)]),
            torch.tensor([gender_index(view.gender)]),
            torch.tensor([retriever.vocab.occupation_index(view.occupation)]),
            vecs[rows].mean(0, keepdim=True),
            vecs[[retriever.catalog.row(50), retriever.catalog.row(181)]].mean(0, keepdim=True),
        )[0].numpy()
    np.testing.assert_allclose(retriever.user_vector(view), expected, atol=1e-5)


def test_unknown_user_gets_a_vector(retriever: TwoTowerRetriever) -> None:
    got = retriever.retrieve(UserView(10**9, False, session_items=(50,), seen=frozenset({50})), 100)
    assert len(got) == 100 and 50 not in got.item_ids


def _genre_share(ds: Dataset, history: tuple[int, ...], genres: set[str]) -> float:
    return float(np.mean([bool(genres & set(ds.catalog.genres[ds.catalog.row(i)])) for i in history]))


def test_cold_start_item_is_retrieved_for_matching_taste_only(ds: Dataset, split: Split, saved: Path) -> None:
    catalog = copy.deepcopy(ds.catalog)
    fresh = TwoTowerRetriever.load(saved, catalog)
    views = [v for v in _views(ds, split).values() if len(v.history) >= 40]
    scifi = {"Sci-Fi", "Action"}
    soft = {"Romance", "Children's", "Musical"}
    fan = max(views, key=lambda v: _genre_share(ds, v.history, scifi) - _genre_share(ds, v.history, soft))
    foe = max(views, key=lambda v: _genre_share(ds, v.history, soft) - _genre_share(ds, v.history, scifi))
    fresh.add_item(NEW_ID, "Star Trek: The Final Voyage", 1995, ("Action", "Adventure", "Sci-Fi"))
    assert NEW_ID in catalog and NEW_ID not in ds.catalog
    n = len(fresh.item_ids())

    def rank(v: UserView) -> int:
        return int(np.flatnonzero(fresh.retrieve(v, n).item_ids == NEW_ID)[0])

    fan_rank, foe_rank = rank(fan), rank(foe)
    # Measured with the test config, seeds 0-4 (of 1683; a 1998 release ranks lower: see README):
    # fan 73, 13, 7, 21, 33 and foe 883, 681, 751, 519, 1002, so foe/fan is 12x at least. Only the
    # relative order is asserted: the absolute ranks move with the seed (and the machine) far more.
    assert foe_rank > 4 * fan_rank, (fan_rank, foe_rank)
    vec = fresh.embed_new_items(["Star Trek: The Final Voyage"], [1995], [("Action", "Adventure", "Sci-Fi")])
    np.testing.assert_allclose(vec[0], fresh.item_vectors()[-1], atol=1e-5)


def test_save_load_round_trip(retriever: TwoTowerRetriever, ds: Dataset, split: Split, saved: Path) -> None:
    back = TwoTowerRetriever.load(saved, ds.catalog)
    np.testing.assert_array_equal(back.item_ids(), retriever.item_ids())
    np.testing.assert_allclose(back.item_vectors(), retriever.item_vectors(), atol=1e-6)
    for view in list(_views(ds, split).values())[:10]:
        a, b = retriever.retrieve(view, 500), back.retrieve(view, 500)
        np.testing.assert_array_equal(a.item_ids, b.item_ids)
        np.testing.assert_allclose(a.scores, b.scores, atol=1e-6)


def test_quality_beats_popularity_with_floor(retriever: TwoTowerRetriever, ds: Dataset, split: Split) -> None:
    tt = evaluate_retrieval(retriever, split, "test")
    pop = evaluate_popularity(split, ds.catalog.item_ids, "test")
    assert tt["recall@500"] >= RECALL_500_FLOOR, tt
    assert tt["ndcg@10"] >= max(NDCG_10_FLOOR, 1.3 * pop["ndcg@10"]), (tt, pop)
    assert tt["recall@500"] > pop["recall@500"] + 0.05, (tt, pop)


# Measured with the test config, seeds 0-4: recall@500 0.874-0.880 (popularity 0.770), NDCG@10
# 0.122-0.129 (popularity 0.077, so 1.58x-1.67x): every floor below holds by 0.02 NDCG@10 or more.
RECALL_500_FLOOR = 0.80
NDCG_10_FLOOR = 0.09
