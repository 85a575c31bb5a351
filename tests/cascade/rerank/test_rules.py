"""The rule re-ranker: permutation, caps, MMR, promotion, determinism and config validation."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from cascade.data.dataset import Catalog
from cascade.data.fetch import load_default
from cascade.rerank.base import Reranker
from cascade.rerank.franchise import catalog_groups
from cascade.rerank.rules import (
    DEFAULT_CONFIG,
    PromoteRecent,
    RulesConfig,
    RulesConfigError,
    RulesReranker,
    load_config,
)
from cascade.types import Context, ItemText, RerankInput


def uncapped(mmr_lambda: float, promote: PromoteRecent | None = None) -> RulesConfig:
    """A config without franchise or genre caps."""
    return RulesConfig(
        mmr_lambda=mmr_lambda,
        max_per_franchise=None,
        max_per_primary_genre=None,
        promote_recent_release=promote or PromoteRecent(),
    )


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    """The real MovieLens-100k catalog."""
    return load_default().catalog


def item(catalog: Catalog, title: str) -> ItemText:
    """The catalog item with this title."""
    r = catalog.titles.index(title)
    return ItemText(int(catalog.item_ids[r]), catalog.titles[r], int(catalog.years[r]), catalog.genres[r])


def items_at(catalog: Catalog, rows: Sequence[int]) -> list[ItemText]:
    """Catalog items at these rows."""
    return [
        ItemText(int(catalog.item_ids[r]), catalog.titles[r], int(catalog.years[r]), catalog.genres[r])
        for r in rows
    ]


def make_input(cands: Sequence[ItemText], k: int = 10, scores: Sequence[float] | None = None) -> RerankInput:
    """A request with strictly decreasing scores unless given."""
    s = tuple(scores) if scores is not None else tuple(float(len(cands) - i) for i in range(len(cands)))
    return RerankInput(user_id=1, context=Context(), candidates=tuple(cands), scores=s, recent=(), k=k)


def plain_items(catalog: Catalog, n: int, exclude: set[int] | None = None, seed: int = 0) -> list[ItemText]:
    """n random catalog items that belong to no franchise, known year, not in exclude."""
    grouped = catalog_groups(catalog)
    exclude = exclude or set()
    rows = [
        r
        for r in np.random.default_rng(seed).permutation(len(catalog))
        if int(catalog.item_ids[r]) not in grouped
        and int(catalog.item_ids[r]) not in exclude
        and 0 < catalog.years[r] < 1990
        and catalog.genres[r]
    ]
    return items_at(catalog, rows[:n])


def ids(items: Sequence[ItemText]) -> list[int]:
    """Item ids in order."""
    return [c.item_id for c in items]


def test_satisfies_protocol() -> None:
    assert isinstance(RulesReranker(), Reranker)
    assert RulesReranker().name == "rules"


@pytest.mark.parametrize("seed", range(5))
def test_output_is_a_permutation(catalog: Catalog, seed: int) -> None:
    rng = np.random.default_rng(seed)
    cands = items_at(catalog, rng.choice(len(catalog), 50, replace=False).tolist())
    scores = sorted(rng.normal(size=50).tolist(), reverse=True)
    out = RulesReranker(load_config(), catalog=catalog).rerank_sync(make_input(cands, 10, scores))
    assert sorted(out.item_ids) == sorted(ids(cands))
    assert len(set(out.item_ids)) == 50
    assert out.reranker == "rules" and out.fallback_reason is None


def test_franchise_cap_holds_in_top_k(catalog: Catalog) -> None:
    trek = [item(catalog, t) for t in catalog.titles if t.startswith("Star Trek")][:5]
    cands = trek + plain_items(catalog, 45)
    cfg = RulesConfig(mmr_lambda=1.0, max_per_franchise=2, max_per_primary_genre=None)
    out = RulesReranker(cfg, catalog=catalog).rerank_sync(make_input(cands, k=10))
    top = out.item_ids[:10]
    trek_ids = ids(trek)
    assert sum(1 for i in top if i in trek_ids) == 2
    assert top[:2] == trek_ids[:2]  # the best two stay in place
    rest = [i for i in out.item_ids[10:] if i in trek_ids]
    assert rest == trek_ids[2:]  # the others follow in ranker order


def test_franchise_cap_without_catalog_uses_known_roots(catalog: Catalog) -> None:
    batman = [item(catalog, t) for t in ("Batman", "Batman Returns", "Batman Forever", "Batman & Robin")]
    cands = batman + plain_items(catalog, 20)
    cfg = RulesConfig(mmr_lambda=1.0, max_per_primary_genre=None)
    out = RulesReranker(cfg).rerank_sync(make_input(cands))
    assert sum(1 for i in out.item_ids[:10] if i in ids(batman)) == 2


def test_genre_cap_holds_in_top_k(catalog: Catalog) -> None:
    rows = [r for r in range(len(catalog)) if catalog.genres[r][:1] == ("Drama",)]
    drama = items_at(catalog, rows[:20])
    others = [c for c in plain_items(catalog, 200, exclude=set(ids(drama))) if c.genres[0] != "Drama"][:30]
    cfg = RulesConfig(mmr_lambda=1.0, max_per_franchise=None, max_per_primary_genre=3)
    out = RulesReranker(cfg, catalog=catalog).rerank_sync(make_input(drama + others, k=10))
    by_id = {c.item_id: c for c in drama + others}
    primaries = Counter(by_id[i].genres[0] for i in out.item_ids[:10])
    assert primaries["Drama"] == 3
    assert max(primaries.values()) <= 3


def test_uncapped_genres_skip_the_primary_genre_cap(catalog: Catalog) -> None:
    rows = [r for r in range(len(catalog)) if catalog.genres[r][:1] == ("Drama",)]
    drama = items_at(catalog, rows[:20])
    others = [c for c in plain_items(catalog, 200, exclude=set(ids(drama))) if c.genres[0] != "Drama"][:30]
    cfg = RulesConfig(mmr_lambda=1.0, max_per_franchise=None, max_per_primary_genre=3)
    inp = make_input(drama + others, k=10)
    out = RulesReranker(cfg, catalog=catalog).rerank_sync(inp, uncapped=frozenset({"Drama"}))
    assert out.item_ids[:10] == ids(drama[:10])  # the title's genre fills the list in ranker order
    other = RulesReranker(cfg, catalog=catalog).rerank_sync(inp, uncapped=frozenset({"Western"}))
    primaries = Counter(c.genres[0] for c in drama + others if c.item_id in other.item_ids[:10])
    assert primaries["Drama"] == 3  # an exemption for another genre leaves the cap on drama


@pytest.mark.parametrize("keep", [0, 4, 10])
def test_keep_holds_that_many_of_the_rankers_top_k(catalog: Catalog, keep: int) -> None:
    cands = plain_items(catalog, 40)
    scores = [1.0] * 10 + [5.0] * 30  # the scores now favour everything past the ranker's top 10
    inp = make_input(cands, k=10, scores=scores)
    out = RulesReranker(uncapped(1.0)).rerank_sync(inp, keep=keep)
    kept = len(set(out.item_ids[:10]) & set(ids(cands[:10])))
    assert kept == keep
    assert sorted(out.item_ids) == sorted(ids(cands))


def test_lambda_one_without_binding_caps_keeps_ranker_order(catalog: Catalog) -> None:
    cands = items_at(catalog, list(range(50)))
    out = RulesReranker(uncapped(1.0)).rerank_sync(make_input(cands))
    assert out.item_ids == ids(cands)
    assert out.stats["moved_in_top_k"] == 0


def test_mmr_diversifies_a_monotone_head(catalog: Catalog) -> None:
    comedies = items_at(catalog, [r for r in range(len(catalog)) if catalog.genres[r] == ("Comedy",)][:15])
    pool = plain_items(catalog, 100, exclude=set(ids(comedies)))
    others = [c for c in pool if "Comedy" not in c.genres][:35]
    cands = comedies + others
    diverse = RulesReranker(uncapped(0.3)).rerank_sync(make_input(cands))
    assert sum(1 for i in diverse.item_ids[:10] if i in ids(comedies)) < 10
    assert diverse.item_ids[0] == cands[0].item_id  # nothing chosen yet: relevance decides


def test_deterministic_across_runs_and_instances(catalog: Catalog) -> None:
    rng = np.random.default_rng(7)
    cands = items_at(catalog, rng.choice(len(catalog), 50, replace=False).tolist())
    inp = make_input(cands, 10, [1.0] * 25 + [0.5] * 25)  # ties: broken by ranker position
    first = RulesReranker(load_config(), catalog=catalog).rerank_sync(inp).item_ids
    for _ in range(3):
        assert RulesReranker(load_config(), catalog=catalog).rerank_sync(inp).item_ids == first
    reranker = RulesReranker(load_config(), catalog=catalog)
    assert reranker.rerank_sync(inp).item_ids == reranker.rerank_sync(inp).item_ids == first


def test_unmeetable_caps_fill_in_ranker_order() -> None:
    cands = [ItemText(i, f"Star Trek: Episode {i}", 1990, ("Sci-Fi",)) for i in range(12)]
    out = RulesReranker(RulesConfig(max_per_franchise=2)).rerank_sync(make_input(cands, k=10))
    assert out.item_ids == list(range(12))
    assert out.stats["cap_fallbacks"] == 8


def test_async_matches_sync(catalog: Catalog) -> None:
    reranker = RulesReranker(load_config(), catalog=catalog)
    inp = make_input(plain_items(catalog, 50))
    assert asyncio.run(reranker.rerank(inp)).item_ids == reranker.rerank_sync(inp).item_ids


@pytest.mark.parametrize("k", [0, 1, 80])
def test_k_edges_return_a_permutation(catalog: Catalog, k: int) -> None:
    cands = plain_items(catalog, 30)
    out = RulesReranker(load_config()).rerank_sync(make_input(cands, k=k))
    assert sorted(out.item_ids) == sorted(ids(cands))
    if k == 0:
        assert out.item_ids == ids(cands)


def test_missing_scores_fall_back_to_positions(catalog: Catalog) -> None:
    cands = plain_items(catalog, 20)
    out = RulesReranker(uncapped(1.0)).rerank_sync(make_input(cands, scores=()))
    assert out.item_ids == ids(cands)


def _promoting(position: int | None = None) -> RulesConfig:
    """No caps, ranker order, and promotion of 1998 releases."""
    promo = PromoteRecent(enabled=True, within_years=0, reference_year=1998, position=position)
    return uncapped(1.0, promo)


def test_promotion_brings_a_recent_release_into_top_k(catalog: Catalog) -> None:
    old = plain_items(catalog, 40)
    new = items_at(catalog, [r for r in range(len(catalog)) if catalog.years[r] == 1998][:2])
    cands = old[:30] + new + old[30:]
    out = RulesReranker(_promoting()).rerank_sync(make_input(cands, k=10))
    assert out.item_ids[9] == new[0].item_id  # the best recent one, in the last slot
    assert out.item_ids[:9] == ids(old[:9])
    assert out.item_ids[10] == old[9].item_id  # the displaced item leads the rest
    assert sorted(out.item_ids) == sorted(ids(cands))
    assert out.stats["promoted"] == 1
    at_top = RulesReranker(_promoting(position=1)).rerank_sync(make_input(cands, k=10))
    assert at_top.item_ids[0] == new[0].item_id


def test_promotion_is_off_by_default_and_idle_when_not_needed(catalog: Catalog) -> None:
    old = plain_items(catalog, 40)
    new = items_at(catalog, [r for r in range(len(catalog)) if catalog.years[r] == 1998][:1])
    cands = old[:30] + new + old[30:]
    plain = RulesReranker(uncapped(1.0)).rerank_sync(make_input(cands))
    assert new[0].item_id not in plain.item_ids[:10]
    already = new + old
    out = RulesReranker(_promoting()).rerank_sync(make_input(already))
    assert out.item_ids == ids(already) and out.stats["promoted"] == 0


def test_embedding_similarity_by_vectors_and_by_callable(catalog: Catalog) -> None:
    cands = plain_items(catalog, 30)
    rng = np.random.default_rng(3)
    vectors = {c.item_id: rng.normal(size=8).astype(np.float32) for c in cands}
    cfg = RulesConfig(similarity="embedding", mmr_lambda=0.5)
    by_vec = RulesReranker(cfg, item_vectors=vectors).rerank_sync(make_input(cands))

    def cosine(a: int, b: int) -> float:
        va, vb = vectors[a], vectors[b]
        return float(va @ vb / (np.linalg.norm(va) * np.linalg.norm(vb)))

    by_fn = RulesReranker(cfg, item_vectors=cosine).rerank_sync(make_input(cands))
    assert by_vec.item_ids == by_fn.item_ids
    assert sorted(by_vec.item_ids) == sorted(ids(cands))
    with pytest.raises(ValueError, match="item_vectors"):
        RulesReranker(cfg)


def test_default_config_file_loads() -> None:
    cfg = load_config(DEFAULT_CONFIG)
    assert cfg.max_per_franchise == 2
    assert RulesReranker.from_yaml().config == cfg


def test_config_rejects_unknown_keys_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("mmr_lambda: 0.5\nmax_per_franchize: 2\n")
    with pytest.raises(RulesConfigError) as err:
        load_config(path)
    assert str(path) in str(err.value) and "max_per_franchize" in str(err.value)


@pytest.mark.parametrize(
    "text",
    ["mmr_lambda: 1.5\n", "promote_recent_release: {enabled: true, years: 2}\n", "mmr_lambda: [\n"],
)
def test_config_rejects_bad_values_naming_the_file(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(RulesConfigError, match=r"bad\.yaml"):
        load_config(path)
