"""One contract for every engine (in process; a real two-worker Dask LocalCluster): same parts and models."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import scipy.sparse as sp

from cascade.engine import LOCAL, Engine, check_engine, chunks, open_engine
from cascade.features.ease import fit_low_rank_ease
from cascade.features.neighbours import top_k_neighbours
from cascade.features.registry import RANKER_FEATURES
from cascade.ranking.xgb import RankerConfig, XGBRanker


@pytest.fixture(scope="module", params=["local", "dask:2"])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    e = open_engine(request.param)
    yield e
    e.close()


def test_map_keeps_the_order_of_parts_and_sends_shared_arguments(engine: Engine) -> None:
    # a library function: workers import functions by module, and tests/ is not installed there
    got = engine.map(np.multiply, list(range(10)), np.arange(3))
    assert [g.tolist() for g in got] == [[0, p, 2 * p] for p in range(10)]


def test_dask_runs_on_two_workers(engine: Engine) -> None:
    assert engine.workers == (1 if engine.name == "local" else 2)


def _interactions(seed: int) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    return sp.csr_matrix((rng.random((400, 150)) < 0.06).astype(np.float32))


def test_neighbours_do_not_depend_on_the_engine(engine: Engine) -> None:
    x = _interactions(0)
    here, there = top_k_neighbours(x, 15), top_k_neighbours(x, 15, engine)
    assert (here.cos != there.cos).nnz == 0 and (here.count != there.count).nnz == 0


def test_low_rank_ease_does_not_depend_on_the_engine(engine: Engine) -> None:
    x = _interactions(1)
    here, there = (
        fit_low_rank_ease(x, 10.0, 32, seed=3),
        fit_low_rank_ease(x, 10.0, 32, seed=3, engine=engine),
    )
    seen = np.flatnonzero(x[0].toarray().ravel())
    rows = np.arange(150)
    # sums of Gram blocks may add in another order: equal up to float32 rounding
    np.testing.assert_allclose(
        there.scores(there.user_factor(seen), rows), here.scores(here.user_factor(seen), rows), atol=1e-4
    )


def test_the_ranker_learns_the_signal_on_every_engine(engine: Engine) -> None:
    rng = np.random.default_rng(2)
    n_f = len(RANKER_FEATURES)

    def groups(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x = rng.random((n * 40, n_f)).astype(np.float32)
        y = (x[:, 0] > 0.8).astype(np.float32)  # column 0 decides relevance
        return x, y, np.full(n, 40, dtype=np.int64)

    ranker, fit = XGBRanker.train(groups(60), groups(20), 7, RankerConfig(num_rounds=20), engine)
    assert fit["valid_ndcg@10"] > 0.95
    x, y, _ = groups(1)
    top = np.argsort(-ranker.score(x))[: int(y.sum())]
    assert y[top].all()


def test_chunks_cover_the_range_in_order() -> None:
    assert chunks(10, 3) == [(0, 3), (3, 6), (6, 10)]
    assert chunks(2, 8) == [(0, 1), (1, 2)] and chunks(0, 4) == []


@pytest.mark.parametrize("bad", ["", "spark", "dask:", "dask:0", "dask:two", "local:2"])
def test_an_unknown_engine_is_refused_by_name(bad: str) -> None:
    with pytest.raises(ValueError, match="expected 'local', 'dask:N'"):
        check_engine(bad)
    assert check_engine("dask:tcp://scheduler:8786") == "dask:tcp://scheduler:8786"
    assert open_engine("local") is LOCAL
