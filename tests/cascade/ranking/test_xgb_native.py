from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import xgboost as xgb

from cascade.features.registry import RANKER_FEATURES
from cascade.ranking.xgb import RankerConfig, XGBRanker
from cascade.ranking.xgb_native import DensePredictor

F = len(RANKER_FEATURES)


@pytest.fixture(scope="module")
def booster() -> xgb.Booster:
    rng = np.random.default_rng(0)
    x = rng.random((3000, F)).astype(np.float32)
    y = (x[:, 3] + 0.3 * x[:, 7] + 0.1 * rng.random(len(x)) > 0.9).astype(np.float32)
    groups = (x, y, np.full(60, 50, dtype=np.int64))
    ranker, _ = XGBRanker.train(groups, groups, seed=1, config=RankerConfig(num_rounds=30))
    return ranker.booster


def _rows(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random((n, F)).astype(np.float32)


@pytest.mark.parametrize("n", [1, 2, 50, 500])
def test_scores_are_bit_identical_to_inplace_predict(booster: xgb.Booster, n: int) -> None:
    x = _rows(n, n)
    x[0, 5] = np.nan  # missing
    got = DensePredictor(booster)(x)
    want = booster.inplace_predict(x, validate_features=False)
    assert got.dtype == np.float32 and got.shape == (n,)
    assert np.array_equal(got, want)


def test_any_layout_or_dtype_is_scored_as_float32_rows(booster: xgb.Booster) -> None:
    x = _rows(40, 1)
    predict = DensePredictor(booster)
    want = predict(x)
    assert np.array_equal(predict(np.asfortranarray(x)), want)
    assert np.array_equal(predict(x.astype(np.float64)), want)
    assert np.array_equal(predict(np.repeat(x, 2, axis=0)[::2]), want)  # a strided view


def test_the_ranker_scores_through_it_and_repeated_calls_do_not_share_a_buffer(booster: xgb.Booster) -> None:
    ranker = XGBRanker(booster)
    a, b = _rows(30, 2), _rows(30, 3)
    first = ranker.score(a)
    ranker.score(b)  # the C library reuses its output buffer: the first result must be a copy
    assert np.array_equal(first, booster.inplace_predict(a, validate_features=False))


def test_threads_predicting_at_once_each_get_their_own_rows(booster: xgb.Booster) -> None:
    predict = DensePredictor(booster)
    inputs = [_rows(200, s) for s in range(8)]
    want = [booster.inplace_predict(x, validate_features=False) for x in inputs]
    with ThreadPoolExecutor(4) as pool:
        for _ in range(5):
            got = list(pool.map(predict, inputs))
            assert all(np.array_equal(g, w) for g, w in zip(got, want, strict=True))


def test_bad_shapes_are_clear_errors(booster: xgb.Booster) -> None:
    predict = DensePredictor(booster)
    assert predict(np.zeros((0, F), dtype=np.float32)).shape == (0,)
    with pytest.raises(xgb.core.XGBoostError, match="Number of columns"):
        predict(np.zeros((3, F - 1), dtype=np.float32))
    with pytest.raises(ValueError, match="2-d"):
        predict(np.zeros(F, dtype=np.float32))
