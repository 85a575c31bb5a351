"""The one pipeline, on the real trained artifacts: offline (point in time) and online (feature store)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cascade.arms import Arm
from cascade.features.online import MemoryStoreConfig, RedisStoreConfig, create_store
from cascade.features.online.base import ShownEntry
from cascade.features.session import Event
from cascade.features.store import FeatureStore
from cascade.pipeline import Pipeline
from cascade.ports import free_port
from cascade.ranking.discount import ImpressionDiscount
from cascade.ranking.head import N_SCORE
from cascade.rerank.base import IdentityReranker
from cascade.rerank.rules import RulesReranker
from cascade.retrieval.blend import SourcedCandidates
from cascade.runtime import Runtime, load_runtime
from cascade.types import Context

NONE = Arm("none", "none", IdentityReranker())


@pytest.fixture(scope="module")
def runtime(trained_artifacts: Path) -> Runtime:
    return load_runtime(trained_artifacts)


@pytest.fixture
def online(runtime: Runtime) -> tuple[FeatureStore, Pipeline]:
    store = runtime.feature_store(create_store(MemoryStoreConfig()))
    return store, runtime.online_pipeline(store)


def test_manifest_reports_a_cascade_far_above_popularity(runtime: Runtime) -> None:
    m = runtime.manifest["metrics"]
    assert set(m) >= {"popularity", "two_tower", "two_tower+xgb", "+rules", "retrieval"}
    # wide margins over training seeds 7, 1, 2, 3: 2.11x-2.33x popularity, recall@500 0.923-0.925
    assert m["two_tower+xgb"]["ndcg@10"] > 1.5 * m["popularity"]["ndcg@10"]
    assert m["retrieval"]["recall@500"] > 0.8
    assert runtime.manifest["data"]["split"] == {"train": 81_140, "val": 9_430, "test": 9_430}
    assert len(runtime.manifest["config"]["ranker_features"]) >= 40


def test_offline_never_recommends_the_history(runtime: Runtime) -> None:
    pipe = runtime.offline_pipeline("test")
    history = runtime.split.history_before("test")
    for u in (1, 42, 500):
        rec = pipe.recommend_sync(u, 10, Context(), NONE)
        seen = set(history.item[history.user == u].tolist())
        ids = [it.item_id for it, _ in rec.items]
        assert len(ids) == 10 == len(set(ids)) and not seen & set(ids)
        assert rec.ranker_order[:10] == ids  # the identity arm keeps the ranker's order


def test_a_title_reaches_the_ranker_and_no_title_leaves_its_columns_zero(runtime: Runtime) -> None:
    """A titled request gets the title source and title features; an untitled one has them all zero.

    Whether the trained ranker then follows the title is a property of one training run, not of the
    code (seed 2 gives title_sim no importance at all; +intent_title is within 0.002 NDCG@10 of
    two_tower+xgb on either side): `care train` prints the +intent_title row and writes it and the
    feature importances to manifest.json; `care eval --protocol titles` reports titlefit@10/steer@10.
    """
    from cascade.features.registry import RANKER_FEATURES, names

    pipe = runtime.offline_pipeline("test")
    now = float(runtime.as_of_end)
    cols = names(RANKER_FEATURES)
    present, sim = cols.index("title_present"), cols.index("title_sim")
    for u in range(1, 6):
        plain = pipe.rank(u, Context(timestamp=now))
        titled = pipe.rank(u, Context(playlist_title="scary horror movies", timestamp=now))
        assert "title" in titled.timings_ms and "title" not in plain.timings_ms
        assert len(titled.ranked.item_ids) == len(plain.ranked.item_ids)
    uf = pipe.features.user(42, (), now)
    _, x, _ = pipe.candidate_features(uf, Context(timestamp=now), now, {})
    assert (x[:, present] == 0).all() and (x[:, sim] == 0).all()
    titled_ctx = Context(playlist_title="scary horror movies", timestamp=now)
    _, xt, _ = pipe.candidate_features(uf, titled_ctx, now, {})
    assert xt.shape == x.shape and (xt[:, present] == 1).all() and (xt[:, sim] != 0).any()
    m = runtime.manifest["metrics"]
    assert 0.0 <= m["+intent_title"]["ndcg@10"] <= 1.0
    assert all(v >= 0.0 for v in runtime.manifest["feature_importance"].values())


def test_an_intent_arms_quota_brings_on_theme_candidates_past_the_rankers_head(runtime: Runtime) -> None:
    """The ranker's first n - q stay; the last q are its best-scored candidates of the title's genres."""
    from cascade.rerank.title_kind import TitleRules, TitleRulesConfig

    pipe = runtime.offline_pipeline("test")
    rules = RulesReranker.from_yaml(catalog=runtime.dataset.catalog)
    cfg = TitleRulesConfig(signal="combined", llm_weight=0.0, candidates=10)
    quota = TitleRules(rules, cfg, "rules_title:combined")
    ctx = Context(playlist_title="dusty saloon standoffs", timestamp=float(runtime.as_of_end))
    genres = runtime.dataset.catalog.genres
    for u in (1, 2, 3):
        plain = pipe.rank(u, ctx).ranked.item_ids.tolist()
        steered = pipe.rank(u, ctx, quota=quota).ranked.item_ids.tolist()
        assert steered[:40] == plain[:40] and len(steered) == len(plain) == len(set(steered))
        tail = steered[40:]
        western = sum("Western" in genres[runtime.dataset.catalog.row(i)] for i in tail)
        assert western > sum("Western" in genres[runtime.dataset.catalog.row(i)] for i in plain[40:])


def test_a_played_item_is_not_recommended_again(online: tuple[FeatureStore, Pipeline]) -> None:
    store, pipe = online
    first = pipe.recommend_sync(7, 10, Context(), NONE)
    top = first.items[0][0].item_id
    before = store.fetch_user(7)[1].session.features(now=2e9)
    store.ingest([Event(7, top, "play", 1.9e9)])
    after = pipe.recommend_sync(7, 10, Context(), NONE)
    assert top not in [it.item_id for it, _ in after.items]
    assert not np.array_equal(before, store.fetch_user(7)[1].session.features(now=2e9))


def test_rules_arm_respects_the_franchise_cap(
    online: tuple[FeatureStore, Pipeline], runtime: Runtime
) -> None:
    _, pipe = online
    from cascade.rerank.franchise import catalog_groups

    groups = catalog_groups(runtime.dataset.catalog)
    rec = pipe.recommend_sync(
        13, 10, Context(), Arm("rules", "rules", RulesReranker(catalog=runtime.dataset.catalog))
    )
    keys = [groups.get(it.item_id) for it, _ in rec.items]
    assert all(keys.count(k) <= 2 for k in keys if k is not None)
    assert rec.reranker_used == "rules"


def test_unknown_user_takes_the_cold_start_path(online: tuple[FeatureStore, Pipeline]) -> None:
    _, pipe = online
    rec = pipe.recommend_sync(10_000_000, 10, Context(session_items=(50, 181)), NONE)
    assert len(rec.items) == 10 and not rec.degraded
    assert {50, 181}.isdisjoint(it.item_id for it, _ in rec.items)


def test_redis_down_degrades_instead_of_failing(runtime: Runtime) -> None:
    dead = create_store(RedisStoreConfig(url=f"redis://127.0.0.1:{free_port()}/0", connect_timeout_s=0.1))
    pipe = runtime.online_pipeline(runtime.feature_store(dead, materialize=False))
    rec = pipe.recommend_sync(1, 10, Context(), NONE)
    assert rec.degraded and len(rec.items) == 10


def test_a_new_item_is_retrievable_at_once(trained_artifacts: Path) -> None:
    rt = load_runtime(trained_artifacts)  # its own copy: adding an item changes the catalog
    store = rt.feature_store(create_store(MemoryStoreConfig()))
    pipe = rt.online_pipeline(store)
    assert pipe.item_text(1).item_id == 1  # the item texts are built before the item exists
    rt.add_item(store, 5000, "Star Trek: The Next Voyage", 1996, ("Action", "Adventure", "Sci-Fi"))
    new = pipe.item_text(5000)
    assert (new.item_id, new.title, new.year, new.genres) == (
        5000, "Star Trek: The Next Voyage", 1996, ("Action", "Adventure", "Sci-Fi"),
    )  # fmt: skip
    fans = [u for u in (1, 7, 13, 92, 276, 450) if 5000 in pipe.rank(u, Context()).retrieved.item_ids]
    assert fans, "the new Sci-Fi item should be retrieved for some users with Sci-Fi history"
    for u in fans:  # the ranker scores it when its genres fit the user, wherever the sources rank it
        r = pipe.rank(u, Context())
        at = int(np.flatnonzero(r.retrieved.item_ids == 5000)[0])
        assert isinstance(r.retrieved, SourcedCandidates)
        assert (5000 in r.scored.item_ids) == (at < N_SCORE or r.retrieved.fresh_fit[at] > 0)
    assert store.items(np.asarray([5000]))[0, 0] == 0.0  # no interactions yet


def test_the_ranker_scores_the_head_with_the_rows_of_the_full_assembly(runtime: Runtime) -> None:
    """Each scored row is the row training builds for that candidate among all 500, but for the columns
    relative to the candidates scored (two ranks among them, the gap to the best title match)."""
    from cascade.features.registry import RANKER_FEATURES, names

    pipe = runtime.offline_pipeline("test")
    assert pipe.n_score == N_SCORE
    cols = names(RANKER_FEATURES)
    relative = {cols.index(c) for c in ("cf_ease_rank", "cf_knn_rank", "title_sim_gap")}
    same = [c for c in range(len(cols)) if c not in relative]
    now = float(runtime.as_of_end)
    for u, title in ((1, None), (42, "scary horror movies"), (500, "feel-good comedies")):
        ctx = Context(playlist_title=title, timestamp=now)
        r = pipe.rank(u, ctx)
        assert len(r.retrieved) == 500 and N_SCORE <= len(r.scored) < 500
        assert set(r.ranked.item_ids.tolist()) <= set(r.scored.item_ids.tolist())
        uf = pipe.features.user(u, (), now)
        full, x, _ = pipe.candidate_features(uf, ctx, now, {})
        assert np.array_equal(full.item_ids, r.retrieved.item_ids)
        at = np.flatnonzero(np.isin(full.item_ids, r.scored.item_ids))  # the head keeps retrieval order
        assert np.array_equal(full.item_ids[at], r.scored.item_ids)
        head, _ = pipe.features_of(uf, r.scored, ctx, now, {})
        # equal but for float32 rounding: BLAS may sum a product over fewer rows in another order
        np.testing.assert_allclose(head[:, same], x[at][:, same], rtol=1e-6, atol=1e-7)
        assert np.array_equal(r.ranked.scores[:5], np.sort(runtime.ranker.score(head))[::-1][:5])
    pipe.n_score = 10  # a head shorter than the ranked list: the list's length is scored
    r = pipe.rank(1, Context(timestamp=now))
    assert len(r.scored) == len(r.ranked) == pipe.n_rank
    pipe.n_score = None  # every candidate scored: the head is the whole list
    r = pipe.rank(1, Context(timestamp=now))
    assert r.scored is r.retrieved


def test_with_nothing_shown_the_discount_changes_no_list(
    online: tuple[FeatureStore, Pipeline], runtime: Runtime
) -> None:
    """Offline evaluation never has impressions: the discounted pipeline must rank exactly as before."""
    store, plain = online
    discounted = runtime.online_pipeline(store, ImpressionDiscount())
    rules = Arm("rules", "rules", RulesReranker(catalog=runtime.dataset.catalog))
    ctx = Context(timestamp=float(runtime.as_of_end))
    for u in (1, 42, 500, 10_000_000):
        a, b = plain.rank(u, ctx), discounted.rank(u, ctx)
        assert np.array_equal(a.ranked.item_ids, b.ranked.item_ids)
        assert np.array_equal(a.ranked.scores, b.ranked.scores)  # bit for bit
        for arm in (NONE, rules):
            ra, rb = plain.recommend_sync(u, 10, ctx, arm), discounted.recommend_sync(u, 10, ctx, arm)
            assert [(it.item_id, s) for it, s in ra.items] == [(it.item_id, s) for it, s in rb.items]


def test_items_shown_and_skipped_fall_behind_the_rest(
    online: tuple[FeatureStore, Pipeline], runtime: Runtime
) -> None:
    store, plain = online
    discount = ImpressionDiscount(factor=0.01, half_life_s=86_400.0)
    discounted = runtime.online_pipeline(store, discount)
    now = float(runtime.as_of_end)
    ctx = Context(timestamp=now)
    before = plain.rank(42, ctx).ranked.item_ids.tolist()
    store.online.record_shown([ShownEntry(42, tuple(before[:3]), now - 60.0)])
    after = discounted.rank(42, ctx).ranked.item_ids.tolist()
    assert set(before[:3]).isdisjoint(after[:3])
    assert [i for i in after if i not in before[:3]][:7] == before[3:10]  # the others keep their order
    assert plain.rank(42, ctx).ranked.item_ids.tolist() == before  # no discount: the old order
    # years later the showings have faded: the old order again
    assert (
        discounted.rank(42, Context(timestamp=now + 10 * 365 * 86_400.0)).ranked.item_ids.tolist()[:3]
        == (plain.rank(42, Context(timestamp=now + 10 * 365 * 86_400.0)).ranked.item_ids.tolist()[:3])
    )
