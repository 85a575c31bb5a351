"""Collaborative and sequential evidence: the closed form, the ranks, and point-in-time rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from cascade.data.dataset import Catalog, Dataset, Interactions
from cascade.data.split import split_by_user
from cascade.features import neighbours
from cascade.features.batch import BatchFeatures
from cascade.features.collab import CollabConfig, CollabModel
from cascade.features.ease import fit_low_rank_ease
from cascade.features.neighbours import top_k_neighbours
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
    cfg = CollabConfig(ease_lambda=1.0, recent=3, decay=0.5, neighbours=3, rank=64)
    return CollabModel.fit(_inter(rows), _catalog(6), cfg)


def test_low_rank_ease_at_full_rank_is_exact_ease() -> None:
    """Rank >= n_items: the factored scores of unconsumed items equal the dense closed form's."""
    rng = np.random.default_rng(0)
    x = (rng.random((60, 30)) < 0.3).astype(np.float64)
    exact = x @ eval_ease(x, 5.0)
    model = fit_low_rank_ease(sp.csr_matrix(x.astype(np.float32)), 5.0, rank=30)
    for u in range(60):
        seen, unseen = np.flatnonzero(x[u]), np.flatnonzero(x[u] == 0)
        got = model.scores(model.user_factor(seen), unseen)
        assert np.allclose(got, exact[u, unseen], atol=1e-4)


def test_low_rank_ease_approaches_exact_ease_with_rank() -> None:
    """The top-10 unseen items agree more with exact EASE at rank 64 than at rank 8 (of 120 items)."""
    rng = np.random.default_rng(1)
    taste = rng.random((300, 4)) @ rng.random((4, 120))
    x = (rng.random((300, 120)) < taste / taste.max() * 0.5).astype(np.float64)
    exact = x @ eval_ease(x, 20.0)

    def overlap(rank: int) -> float:
        model = fit_low_rank_ease(sp.csr_matrix(x.astype(np.float32)), 20.0, rank=rank)
        shares = []
        for u in range(300):
            seen, unseen = np.flatnonzero(x[u]), np.flatnonzero(x[u] == 0)
            got = model.scores(model.user_factor(seen), unseen)
            top_got = set(unseen[np.argsort(-got)[:10]])
            top_exact = set(unseen[np.argsort(-exact[u, unseen])[:10]])
            shares.append(len(top_got & top_exact) / 10)
        return float(np.mean(shares))

    assert overlap(64) >= overlap(8) + 0.2  # measured: 0.69 against 0.37


def test_top_k_neighbours_match_dense_cosine() -> None:
    """Each item's k kept neighbours are its k highest dense cosines, with their counts."""
    rng = np.random.default_rng(2)
    x = (rng.random((200, 50)) < 0.2).astype(np.float32)
    dense = x.T @ x
    norm = np.sqrt(np.maximum(np.diag(dense), 1.0))
    cos = dense / norm[:, None] / norm[None, :]
    np.fill_diagonal(cos, -1.0)
    nb = top_k_neighbours(sp.csr_matrix(x), k=7)
    for i in range(50):
        row = nb.cos[i]
        assert row.nnz == 7 and i not in row.indices
        kept = np.sort(cos[i, row.indices])
        assert kept.min() >= np.sort(cos[i])[-7] - 1e-6
        assert np.allclose(np.sort(row.toarray().ravel()[row.indices]), kept, atol=1e-6)
        assert np.array_equal(nb.count[i].toarray().ravel()[row.indices], dense[i, row.indices])
        assert (np.diff(row.data) <= 0).all()  # best first
    rows, score = nb.pool(np.asarray([0, 1]), np.asarray([1.0, 0.5], np.float32), per_row=2)
    first = {int(c): float(v) for c, v in zip(nb.cos[0].indices[:2], nb.cos[0].data[:2], strict=True)}
    second = {int(c): 0.5 * float(v) for c, v in zip(nb.cos[1].indices[:2], nb.cos[1].data[:2], strict=True)}
    want = {c: first.get(c, 0.0) + second.get(c, 0.0) for c in {*first, *second}}
    assert dict(zip(rows.tolist(), score.tolist(), strict=True)) == pytest.approx(want)


def test_gather_reads_the_neighbour_lists_exactly() -> None:
    """gather == the dense matrices' [src][:, dst], with unknown (-1) and repeated src rows, twice over
    (the row -> position table is emptied after each call)."""
    rng = np.random.default_rng(5)
    x = (rng.random((300, 80)) < 0.15).astype(np.float32)
    nb = top_k_neighbours(sp.csr_matrix(x), k=9)
    dense_cos, dense_count = nb.cos.toarray(), nb.count.toarray()
    for _ in range(2):
        src = rng.choice(80, 12).astype(np.int64)  # may repeat
        dst = rng.permutation(80)[:30].astype(np.int64)
        dst[[3, 17]] = -1
        cos, count = nb.gather(src, dst)
        want_cos, want_count = dense_cos[src][:, np.maximum(dst, 0)], dense_count[src][:, np.maximum(dst, 0)]
        want_cos[:, dst < 0] = 0.0
        want_count[:, dst < 0] = 0.0
        assert np.array_equal(cos, want_cos) and np.array_equal(count, want_count)
        assert np.array_equal(nb.cosine(src, dst), want_cos)


def test_neighbour_blocks_do_not_change_the_result(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    x = sp.csr_matrix((rng.random((100, 40)) < 0.25).astype(np.float32))
    whole = top_k_neighbours(x, k=5)
    monkeypatch.setattr(neighbours, "_BLOCK_NNZ", 50)
    blocked = top_k_neighbours(x, k=5)
    assert (whole.cos != blocked.cos).nnz == 0 and (whole.count != blocked.count).nnz == 0


def test_co_occurrence_counts_and_cosine(toy: CollabModel) -> None:
    r1, r2, r3 = toy.rows([1, 2, 3])
    cos, count = toy.neighbours.gather(np.asarray([r1]), np.asarray([r2, r3, r1]))
    assert count[0].tolist() == [5.0, 0.0, 0.0]  # self is never a neighbour
    assert cos[0, 0] == pytest.approx(1.0) and cos[0, 1] == 0.0


def test_evidence_favours_the_partner_of_the_last_item(toy: CollabModel) -> None:
    sig = toy.signals(history=[3, 1])  # newest: 1
    cands = toy.rows([2, 4, 5])
    ev = toy.evidence(sig, cands, toy.genres[cands])
    assert ev[0, 0] > ev[2, 0]  # EASE: 2 (partner of 1) above 5
    assert ev[0, 6] == pytest.approx(1.0) and ev[1, 6] == 0.0  # cosine with the last item
    assert ev[1, 7] > 0.0  # 4 is the partner of 3, within the last 3
    assert ev[0, 1] == 0.0  # 2 is the EASE top among the candidates
    # genres: odd ids Drama, even ids Sci-Fi; the history (3, 1) is all Drama
    assert ev[0, 10] == 50.0 and ev[0, 11] == 0.0  # no Sci-Fi item in the history
    assert ev[2, 10] == 0.0 and ev[2, 11] == 1.0  # Drama: the newest item, and all of the last 10


def test_unknown_items_get_neutral_evidence(toy: CollabModel) -> None:
    sig = toy.signals(history=[1])
    rows = np.asarray([-1, toy.rows([2])[0]])
    ev = toy.evidence(sig, rows, np.zeros((2, toy.genres.shape[1]), np.float32))
    assert ev[0, 0] == 0.0 and ev[0, 1] == 2.0 and ev[0, 10] == 50.0
    assert ev[1, 1] == 0.0  # the known candidate ranks first


def test_source_excludes_and_orders(toy: CollabModel) -> None:
    sig = toy.signals(history=[1])
    top = toy.source(sig, toy.rows([1]), 3)
    assert toy.rows([1])[0] not in top and top[0] == toy.rows([2])[0]


def test_source_pools_only_neighbours_of_the_history(toy: CollabModel) -> None:
    """No full-catalog scan: an item that never co-occurs with the history is not a candidate."""
    top = toy.source(toy.signals(history=[3]), toy.rows([3]), 10)
    assert top.tolist() == toy.rows([4]).tolist()


def test_source_scores_only_the_best_pooled_items() -> None:
    """A pool larger than source_pool is cut by pooled cosine before any EASE score is computed."""
    rows = [(u, i) for u in range(1, 6) for i in (1, 2)] + [(u, i) for u in range(6, 9) for i in (3, 4)]
    wide, narrow = (
        CollabModel.fit(
            _inter(rows), _catalog(6), CollabConfig(ease_lambda=1.0, decay=0.5, rank=64, source_pool=n)
        )
        for n in (10, 1)
    )
    history = [3, 1]  # item 1 is the newest: its neighbour 2 pools weight 1, item 3's neighbour 4 only 0.5
    exclude = wide.rows(history)
    assert sorted(wide.source(wide.signals(history=history), exclude, 10).tolist()) == sorted(
        wide.rows([2, 4])
    )
    assert narrow.source(narrow.signals(history=history), exclude, 10).tolist() == narrow.rows([2]).tolist()


def test_save_load_round_trip(toy: CollabModel, tmp_path: Path) -> None:
    toy.save(tmp_path)
    back = CollabModel.load(tmp_path)
    assert back.cfg == toy.cfg and np.array_equal(back.ease.v, toy.ease.v)
    assert (back.neighbours.cos != toy.neighbours.cos).nnz == 0
    sig = toy.signals(history=[3, 1])
    cands = toy.rows([2, 4, 5])
    assert np.array_equal(back.evidence(back.signals(history=[3, 1]), cands, toy.genres[cands]),
                          toy.evidence(sig, cands, toy.genres[cands]))  # fmt: skip


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


def _dense_evidence_columns(model: CollabModel, recent: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Columns 2 and 4-9 of the evidence by their definition: reductions of the dense matrices."""
    known = rows >= 0
    cos, count = model.neighbours.gather(recent, np.where(known, rows, -1))
    k = len(recent)
    cols = [
        model._decay[:k] @ cos,
        np.log1p(count).sum(axis=0),
        cos.mean(axis=0),
        cos[0],
        cos[:3].mean(axis=0),
        cos[:10].mean(axis=0),
        cos[:10].max(axis=0),
    ]
    out = np.stack(cols, axis=1).astype(np.float32)
    out[~known] = 0.0
    return out


@pytest.mark.parametrize("n_recent", [1, 2, 3, 7, 10, 25])
def test_neighbour_evidence_equals_the_dense_reductions_bit_for_bit(n_recent: int) -> None:
    """The evidence adds the neighbour pairs recent item by recent item: the same float32 sums (and so
    the same ranker rows) as the column sums and means of the dense recent x candidates matrices."""
    rng = np.random.default_rng(n_recent)
    n_items = 400
    rows = [(u, int(i) + 1) for u in range(300) for i in rng.choice(n_items, 25, replace=False)]
    cfg = CollabConfig(recent=30, neighbours=60, rank=32)
    model = CollabModel.fit(_inter(rows), _catalog(n_items), cfg)
    history = rng.choice(np.arange(1, n_items + 1), n_recent, replace=False).tolist()
    sig = model.signals(history)
    cands = rng.choice(n_items, 150, replace=False).astype(np.int64)
    cands[[4, 90]] = -1  # items the model does not know
    ev = model.evidence(sig, cands, model.genres[np.maximum(cands, 0)])
    assert np.array_equal(ev[:, [2, 4, 5, 6, 7, 8, 9]], _dense_evidence_columns(model, sig.recent, cands))
    assert (ev[:, 4] > 0).sum() > 20  # the candidates do meet the recent items' neighbours
