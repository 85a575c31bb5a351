"""The merged candidate sources on the real artifacts: quota, dedup, ranks, exclusion, recall."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cascade.features.registry import COLLAB, names
from cascade.retrieval.blend import BlendedRetriever, SourcedCandidates
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


def test_evidence_block_has_the_registry_width(blended: BlendedRetriever, runtime: Runtime) -> None:
    got = blended.retrieve(_view(runtime, 10), 500)
    block = blended.evidence(got)
    cols = names(COLLAB)
    assert block.shape == (500, len(COLLAB))
    src_cf = block[:, cols.index("src_collab")]
    assert np.array_equal(src_cf == 1, got.collab_rank < 500)
    assert np.isfinite(block).all()


def test_merged_recall_beats_the_two_tower_alone(runtime: Runtime) -> None:
    m = runtime.manifest["metrics"]["retrieval"]
    assert m["recall@500"] > m["two_tower_recall@500"] + 0.01
