"""Collaborative and sequential evidence: the closed form, the ranks, and point-in-time rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cascade.data.dataset import Catalog, Dataset, Interactions
from cascade.data.split import split_by_user
from cascade.features.batch import BatchFeatures
from cascade.features.collab import CollabConfig, CollabModel, ease_weights
from cascade.features.registry import RANKER_FEATURES
from cascade.runtime import Runtime, load_runtime
from cascade.types import Context
from eval.baselines import ease_weights as eval_ease


def _catalog(n: int) -> Catalog:
    genres = [("Sci-Fi",) if i % 2 else ("Drama",) for i in range(n)]
    return Catalog(np.arange(1, n + 1, dtype=np.int64), [f"t{i}" for i in range(n)],
                   np.zeros(n, dtype=np.int64), genres)  # fmt: skip


def _inter(rows: list[tuple[int, int]]) -> Interactions:
    u = np.asarray([r[0] for r in rows], dtype=np.int64)
    i = np.asarray([r[1] for r in rows], dtype=np.int64)
    return Interactions(u, i, np.ones(len(rows), dtype=np.float32), np.arange(len(rows), dtype=np.int64))


@pytest.fixture(scope="module")
def toy() -> CollabModel:
    # items 1 and 2 always together (users 1..5); item 3 and 4 together (users 6..8); item 5 alone
    rows = [(u, i) for u in range(1, 6) for i in (1, 2)] + [(u, i) for u in range(6, 9) for i in (3, 4)]
    rows.append((9, 5))
    return CollabModel.fit(_inter(rows), _catalog(6), CollabConfig(ease_lambda=1.0, recent=3, decay=0.5))


def test_ease_matches_the_eval_baseline() -> None:
    rng = np.random.default_rng(0)
    x = (rng.random((40, 12)) < 0.3).astype(np.float64)
    assert np.allclose(ease_weights(x, 5.0), eval_ease(x, 5.0))


def test_co_occurrence_counts_and_cosine(toy: CollabModel) -> None:
    r1, r2, r3 = toy.rows([1, 2, 3])
    assert toy.cooc[r1, r2] == 5 and toy.cooc[r1, r3] == 0 and toy.cooc[r1, r1] == 5
    assert toy.cos[r1, r2] == pytest.approx(1.0) and toy.cos[r1, r1] == 0.0


def test_evidence_favours_the_partner_of_the_last_item(toy: CollabModel) -> None:
    sig = toy.signals(history=[3, 1])  # newest: 1
    cands = toy.rows([2, 4, 5])
    ev = toy.evidence(sig, cands, toy.genres[cands])
    assert ev[0, 0] > ev[2, 0]  # EASE: 2 (partner of 1) above 5
    assert ev[0, 6] == pytest.approx(1.0) and ev[1, 6] == 0.0  # cosine with the last item
    assert ev[1, 7] > 0.0  # 4 is the partner of 3, within the last 3
    assert ev[0, 1] == 0.0  # 2 is the EASE top among unseen
    # genres: odd ids Drama, even ids Sci-Fi; the history (3, 1) is all Drama
    assert ev[0, 10] == 50.0 and ev[0, 11] == 0.0  # no Sci-Fi item in the history
    assert ev[2, 10] == 0.0 and ev[2, 11] == 1.0  # Drama: the newest item, and all of the last 10


def test_unknown_items_get_neutral_evidence(toy: CollabModel) -> None:
    sig = toy.signals(history=[1])
    ev = toy.evidence(sig, np.asarray([-1]), np.zeros((1, toy.genres.shape[1]), np.float32))
    assert ev[0, 0] == 0.0 and ev[0, 1] == len(toy) and ev[0, 10] == 50.0


def test_source_excludes_and_orders(toy: CollabModel) -> None:
    sig = toy.signals(history=[1])
    top = toy.source(sig, toy.rows([1]), 3)
    assert toy.rows([1])[0] not in top and top[0] == toy.rows([2])[0]


def test_save_load_round_trip(toy: CollabModel, tmp_path: Path) -> None:
    toy.save(tmp_path)
    back = CollabModel.load(tmp_path)
    assert back.cfg == toy.cfg and np.array_equal(back.ease, toy.ease) and np.array_equal(back.cos, toy.cos)


@pytest.fixture(scope="module")
def runtime(trained_artifacts: Path) -> Runtime:
    return load_runtime(trained_artifacts)


def _row_as_of_test_start(runtime: Runtime, ds: Dataset, log: Interactions, u: int) -> np.ndarray:
    """User u's ranker rows as of their test start, every model and feature built from `log`."""
    split = split_by_user(log)
    batch = BatchFeatures(log, ds.catalog, ds.users)
    collab = CollabModel.fit(split.history_before("test"), ds.catalog)
    rt = Runtime(runtime.dataset, split, runtime.retriever, runtime.ranker, batch, collab=collab)
    pipe = rt.offline_pipeline("test")
    t = float(split.test.ts[split.test.user == u].min())
    return pipe.candidate_features(pipe.features.user(u, (), t), Context(timestamp=t), t, {})[1]


@pytest.mark.parametrize("u", [1, 2])
def test_a_row_as_of_t_sees_nothing_after_t(runtime: Runtime, ml100k: Dataset, u: int) -> None:
    """Change the items of user u's events after their test start t: their rows as of t stay the same."""
    inter = ml100k.interactions
    t = int(runtime.split.test.ts[runtime.split.test.user == u].min())
    future = (inter.user == u) & (inter.ts > t)
    items = inter.item.copy()
    items[future] = np.roll(items[future], 3)  # other items at the same times
    changed = Interactions(inter.user, items, inter.rating, inter.ts)
    assert future.sum() >= 3 and not np.array_equal(changed.item, inter.item)
    original = _row_as_of_test_start(runtime, ml100k, inter, u)
    assert original.shape[1] == len(RANKER_FEATURES)
    assert np.array_equal(original, _row_as_of_test_start(runtime, ml100k, changed, u))
