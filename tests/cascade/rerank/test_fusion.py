import numpy as np
import pytest

from cascade.data.dataset import Dataset
from cascade.rerank.fusion import fuse, ranker_z, rerank_fused, zscore
from cascade.rerank.rules import RulesReranker
from cascade.rerank.title_kind import TitleRules, TitleRulesConfig
from cascade.types import Context, ItemText, RerankInput

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _input(ml100k: Dataset, title: str | None = None, n: int = 30) -> RerankInput:
    cat = ml100k.catalog
    cands = tuple(
        ItemText(int(i), cat.titles[r], int(cat.years[r]), cat.genres[r])
        for r, i in enumerate(cat.item_ids[:n])
    )
    return RerankInput(3, Context(playlist_title=title), cands, tuple(float(n - j) for j in range(n)), (), 10)


def test_zscore() -> None:
    z = zscore([1.0, 2.0, 3.0])
    assert z.mean() == pytest.approx(0.0) and z.std() == pytest.approx(1.0)
    assert zscore([2.0, 2.0]).tolist() == [0.0, 0.0]
    assert zscore([1.0, float("nan"), 3.0])[1] == zscore([1.0, float("nan"), 3.0])[0]  # nan -> the minimum


def test_ranker_z_falls_back_to_position() -> None:
    inp = RerankInput(1, Context(), (ItemText(1, "a", 1990, ()), ItemText(2, "b", 1990, ())), (), (), 1)
    assert ranker_z(inp).tolist() == [1.0, -1.0]


def test_zero_weight_or_flat_term_leaves_the_input_unchanged(ml100k: Dataset) -> None:
    inp = _input(ml100k)
    assert fuse(inp, [(0.0, np.arange(30.0))]) is inp
    assert fuse(inp, [(1.0, np.ones(30))]) is inp


def test_fused_term_moves_items_the_rules_then_order(ml100k: Dataset) -> None:
    inp = _input(ml100k)
    rules = RulesReranker.from_yaml(catalog=ml100k.catalog)
    boost = np.zeros(30)
    boost[-1] = 1.0  # the ranker's last candidate
    out = rerank_fused(rules, inp, [(10.0, boost)], "fused")
    assert out.item_ids[0] == inp.candidates[-1].item_id and out.reranker == "fused"
    assert sorted(out.item_ids) == sorted(c.item_id for c in inp.candidates)


async def test_lexicon_rules_raise_the_titles_genres(ml100k: Dataset) -> None:
    rules = RulesReranker.from_yaml(catalog=ml100k.catalog)
    arm = TitleRules(rules, TitleRulesConfig(signal="lexicon", title_weight=2.0), "rules_title:lexicon")
    inp = _input(ml100k, "horror marathon", n=50)
    plain = (await rules.rerank(inp)).item_ids[:10]
    titled = (await arm.rerank(inp)).item_ids[:10]
    genres = {c.item_id: c.genres for c in inp.candidates}
    assert sum("Horror" in genres[i] for i in titled) > sum("Horror" in genres[i] for i in plain)
    untitled = await arm.rerank(_input(ml100k, None, n=50))  # no title: exactly the rules
    assert untitled.item_ids == (await rules.rerank(_input(ml100k, None, n=50))).item_ids


def test_rules_with_another_lambda_share_the_catalog_data(ml100k: Dataset) -> None:
    rules = RulesReranker.from_yaml(catalog=ml100k.catalog)
    assert rules.with_mmr_lambda(None) is rules and rules.with_mmr_lambda(rules.config.mmr_lambda) is rules
    twin = rules.with_mmr_lambda(1.0)
    assert twin.config.mmr_lambda == 1.0 and twin.config.max_per_franchise == rules.config.max_per_franchise
    inp = _input(ml100k, n=50)
    assert twin.rerank_sync(inp).item_ids[:3] == [c.item_id for c in inp.candidates[:3]]  # pure relevance
