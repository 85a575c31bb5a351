"""The merged candidate sources on the real artifacts: quota, dedup, ranks, exclusion, recall."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import cast

import numpy as np
import numpy.typing as npt
import pytest

from cascade.data.idrows import IdRows
from cascade.features.registry import COLLAB, names
from cascade.retrieval.blend import BlendedRetriever, SourcedCandidates, _dense_rows
from cascade.retrieval.retriever import TwoTowerRetriever
from cascade.runtime import Runtime, load_runtime
from cascade.types import UserView


@pytest.fixture(scope="module")
def runtime(trained_artifacts: Path) -> Runtime:
    return load_runtime(trained_artifacts)


@pytest.fixture(scope="module")
def blended(runtime: Runtime) -> BlendedRetriever:
    assert runtime.collab is not None
    return BlendedRetriever(runtime.retriever, runtime.collab, runtime.dataset.catalog, collab_quota=200)


def _view(runtime: Runtime, u: int) -> UserView:
    hist = tuple(runtime.split.history_before("test").by_user()[u].tolist())
    return UserView(u, True, history=hist, seen=frozenset(hist))


class _Index:
    """The two calls `_dense_rows` makes of the two-tower retriever."""

    def __init__(self, ids: list[int]) -> None:
        self.ids = np.asarray(ids, dtype=np.int64)
        self.map = IdRows(self.ids)

    def rows(self, item_ids: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        return self.map.rows(item_ids)

    def item_ids(self) -> npt.NDArray[np.int64]:
        return self.ids


def test_dense_rows_give_ids_the_index_lacks_rows_of_their_own() -> None:
    parts = (np.asarray([20, 99], dtype=np.int64), np.asarray([99, 10, 77], dtype=np.int64))
    ids, rows, size = _dense_rows(cast(TwoTowerRetriever, _Index([10, 20])), parts)
    assert ids.tolist() == [20, 99, 99, 10, 77]
    assert rows.tolist() == [1, 3, 3, 0, 2] and size == 4  # 77 and 99 after the index's two rows


def test_merge_keeps_both_sources_without_duplicates(runtime: Runtime, blended: BlendedRetriever) -> None:
    view = _view(runtime, 10)
    got = blended.retrieve(view, 500)
    ids = got.item_ids.tolist()
    assert isinstance(got, SourcedCandidates) and len(ids) == 500 == len(set(ids))
    assert not set(ids) & set(view.history)
    assert (got.collab_rank < 200).sum() == 200  # the item-item source's quota is all in
    assert ((got.tt_rank < 500) | (got.collab_rank < 500)).all()
    tt_ids, _ = runtime.retriever.index.search_unseen(runtime.retriever.user_vector(view), 500, view.seen)
    in_tt = got.item_ids[got.tt_rank < 500]
    assert np.array_equal(np.sort(tt_ids[got.tt_rank[got.tt_rank < 500].astype(int)]), np.sort(in_tt))


@pytest.mark.parametrize("history", ["rare item", "3 items", "40 items"])
def test_each_candidates_ranks_are_its_positions_in_both_sources(
    runtime: Runtime, blended: BlendedRetriever, history: str
) -> None:
    """Also when the item-item source returns fewer items than its quota (one rarely played item)."""
    collab = blended.collab
    if history == "rare item":  # an item with 1-99 neighbours: the source pools no more than those
        few = np.flatnonzero(
            (np.diff(collab.neighbours.cos.indptr) > 0) & (np.diff(collab.neighbours.cos.indptr) < 100)
        )
        hist: tuple[int, ...] = (int(collab.item_ids[few[0]]),)
    else:
        hist = _view(runtime, 10).history[-int(history.split()[0]) :]
    view = UserView(10, True, history=hist, seen=frozenset(hist))
    got = blended.retrieve(view, 500)
    excl = np.fromiter(view.excluded(), dtype=np.int64)
    tt = runtime.retriever
    tt_ids, _ = tt.index.search_unseen(tt.user_vector(view), 500, excl)
    cf_ids = collab.item_ids[collab.source(collab.signals(view.history), collab.rows(excl), 500)]
    if history == "rare item":
        assert 0 < len(cf_ids) < 200  # the case this test is for: a source shorter than its quota
    for source, ranks in ((tt_ids.tolist(), got.tt_rank), (cf_ids.tolist(), got.collab_rank)):
        at = {int(i): r for r, i in enumerate(source)}
        assert ranks.tolist() == [float(at.get(int(i), len(source))) for i in got.item_ids]


def test_evidence_block_has_the_registry_width(blended: BlendedRetriever, runtime: Runtime) -> None:
    got = blended.retrieve(_view(runtime, 10), 500)
    block = blended.evidence(got)
    cols = names(COLLAB)
    assert block.shape == (500, len(COLLAB))
    src_cf = block[:, cols.index("src_collab")]
    assert np.array_equal(src_cf == 1, got.collab_rank < 500)
    assert np.isfinite(block).all()


def test_merged_recall_is_reported_and_holds_the_two_towers(runtime: Runtime) -> None:
    """The two-tower's candidates are a subset of the merged ones: their recall cannot be higher.

    How much the item-item source adds (seed 7: 0.923 against 0.904) is a property of one training
    run, not of the code: `care train` writes both figures to the manifest's metrics.retrieval."""
    m = runtime.manifest["metrics"]["retrieval"]
    assert {"recall@500", "two_tower_recall@500", "collab_recall@500"} <= set(m)
    assert all(0.0 <= v <= 1.0 for v in m.values())
    assert m["recall@500"] >= m["two_tower_recall@500"] and m["recall@500"] >= m["collab_recall@500"]


def test_a_title_adds_its_source_and_features(runtime: Runtime, blended: BlendedRetriever) -> None:
    from cascade.retrieval.text import embed_texts
    from cascade.retrieval.title_source import TITLE_QUOTA

    view = _view(runtime, 10)
    plain = blended.retrieve(view, 500)
    assert plain.title_sim is None and blended.title_features(plain) is None
    title = embed_texts(["spine-chilling horror films"])[0]
    got = blended.retrieve(view, 500, title)
    assert got.title_sim is not None and got.title_src is not None
    assert len(got) == 500 and not set(got.item_ids.tolist()) & set(view.history)
    assert int(got.title_src.sum()) == TITLE_QUOTA  # every title-source item is in
    catalog = runtime.dataset.catalog
    horror = [("Horror" in catalog.genres[catalog.row(int(i))]) for i in got.item_ids[got.title_src > 0]]
    assert np.mean(horror) > 0.5
    # the title source's items are the most similar of all candidates
    assert got.title_sim[got.title_src > 0].min() >= got.title_sim[got.title_src == 0].max()
    block = blended.title_features(got)
    assert block is not None and block.shape == (500, 4) and np.isclose(block[:, 2].max(), 0.0)


def _same_candidates(head: SourcedCandidates, full: SourcedCandidates, at: npt.NDArray[np.int64]) -> None:
    for name in ("item_ids", "scores", "tt_rank", "collab_rank", "rows", "vectors", "fresh_fit"):
        assert np.array_equal(getattr(head, name), getattr(full, name)[at]), name


def test_the_scored_head_is_the_first_n_with_every_title_source_candidate(
    runtime: Runtime, blended: BlendedRetriever
) -> None:
    from cascade.retrieval.text import embed_texts

    view = _view(runtime, 10)
    got = blended.retrieve(view, 500, embed_texts(["spine-chilling horror films"])[0])
    assert got.title_src is not None and got.title_sim is not None
    head = got.scored_head(200)
    at = np.flatnonzero((np.arange(500) < 200) | (got.title_src > 0))
    assert len(at) > 200  # some title-source candidates sit past the first 200 (no rank in either source)
    _same_candidates(head, got, at)
    assert head.title_src is not None and head.title_sim is not None
    assert np.array_equal(head.title_src, got.title_src[at])
    assert np.array_equal(head.title_sim, got.title_sim[at])
    assert head.n_retrieved == 500 and head.signals is got.signals and head.keep == got.keep
    assert got.scored_head(500) is got and got.scored_head(800) is got
    # source flags are relative to the retrieved list, not to the head
    cols = names(COLLAB)
    for flag in ("src_two_tower", "src_collab", "src_collab_rank"):
        c = cols.index(flag)
        assert np.array_equal(blended.evidence(head)[:, c], blended.evidence(got)[at, c]), flag


def test_the_scored_head_keeps_fresh_candidates_wherever_they_rank(
    runtime: Runtime, blended: BlendedRetriever
) -> None:
    got = blended.retrieve(_view(runtime, 10), 500)
    fit = np.zeros(500, dtype=np.float32)
    fit[[3, 450]] = 0.5  # two fresh items: one in the head, one far past it
    fresh = replace(got, fresh_fit=fit)
    head = fresh.scored_head(100)
    _same_candidates(head, fresh, np.asarray([*range(100), 450], dtype=np.int64))
