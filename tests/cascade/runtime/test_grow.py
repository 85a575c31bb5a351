"""Synthetic artifacts at 20k items: built once and reused, loaded as a runtime that serves from them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cascade.arms import arm_resolver
from cascade.experiments import ArmSpec
from cascade.features.online.memory import MemoryStore
from cascade.retrieval.index import IndexConfig
from cascade.runtime import load_runtime
from cascade.runtime.grow import Built, ScaleSpec, scaled_artifacts
from cascade.scale.files import SCALE_DIR, load_features, load_vectors
from cascade.scale.recall import index_recall
from cascade.types import Context

N = 20_000
SPEC = ScaleSpec(N, seed=1, index=IndexConfig(kind="ivf", ivf_nprobe=64), queries=100)


@pytest.fixture(scope="module")
def built(trained_artifacts: Path, tmp_path_factory: pytest.TempPathFactory) -> Built:
    return scaled_artifacts(SPEC, trained_artifacts, tmp_path_factory.mktemp("scale"), log=lambda _: None)


def test_built_once_then_reused(built: Built, trained_artifacts: Path) -> None:
    assert not built.reused
    syn = built.manifest["synthetic"]
    assert syn["items"] == N and syn["index"]["kind"] == "ivf" and syn["collab"].startswith("on:")
    again = scaled_artifacts(SPEC, trained_artifacts, built.folder.parent)
    assert again.reused and again.folder == built.folder
    other = ScaleSpec(N, seed=2, index=SPEC.index, queries=100)
    assert other.key(built.manifest) != SPEC.key(built.manifest)
    with pytest.raises(ValueError, match="at least"):
        scaled_artifacts(ScaleSpec(100), trained_artifacts, built.folder.parent, log=lambda _: None)


def test_runtime_serves_the_synthetic_catalog(built: Built) -> None:
    rt = load_runtime(built.folder)
    catalog = rt.dataset.catalog
    assert len(catalog) == N and rt.retriever.index.kind == "ivf"
    assert rt.collab is not None and len(rt.collab) == N  # the item-item model grown to the catalog
    first_row = len(rt.collab) - (N - int(built.manifest["synthetic"]["real_items"]))
    assert (rt.collab.neighbours.cos.indices >= first_row).mean() > 0.5  # synthetic items are neighbours
    assert len(rt.retriever.index) == N
    scale = built.folder / SCALE_DIR
    assert np.array_equal(rt.retriever.item_vectors(), load_vectors(scale))
    store = rt.feature_store(MemoryStore())
    ids = catalog.item_ids[[0, N // 2, N - 1]]
    assert np.array_equal(store.items(ids), load_features(scale)[[0, N // 2, N - 1]])

    arm = arm_resolver(catalog, "serving").resolve(ArmSpec(name="rules", reranker="rules"))
    pipeline = rt.online_pipeline(store)
    first = int(built.manifest["synthetic"]["first_id"])
    shown: list[int] = []
    for user in (1, 2, 3):
        rec = pipeline.recommend_sync(user, 10, Context(), arm)
        items = [t.item_id for t, _ in rec.items]
        assert len(set(items)) == 10 and all(i in catalog for i in items)
        assert not set(items) & set(store.fetch_user(user)[0].seen)
        shown += items
    assert any(i >= first for i in shown)


def test_index_recall_against_exact_search(built: Built) -> None:
    r = index_recall(built.folder, k=500, nprobes=(8, 64, 512))
    assert r.kind == "ivf" and r.queries == 100 and "nprobe=64" in r.params
    # 0.913-0.933 over the artifacts of training seeds 7, 1, 2, 3 (`care bench service --items` prints it)
    assert 0.0 <= r.recall <= 1.0 and r.recall >= 0.85
    assert r.sweep[512][0] == pytest.approx(1.0)  # every list searched: exact
    assert r.sweep[8][0] <= r.sweep[64][0] == pytest.approx(r.recall)
