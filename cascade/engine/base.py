"""Where the stages that grow with interactions run: in this process, or on a Dask cluster.

A stage splits its work into independent parts (item blocks of the neighbour search, user blocks of
the Gram products, user chunks of the ranker rows) and calls `Engine.map`; `shared` arguments are
sent to each worker once. `train_xgb` fits a booster on (features, labels, group sizes).
`LocalEngine` runs here; `cascade.engine.dask.DaskEngine` runs on a `distributed` cluster (a
LocalCluster, or a scheduler address on Kubernetes) and trains with `xgboost.dask`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

import numpy as np
import numpy.typing as npt
import xgboost as xgb

R = TypeVar("R")
F32 = npt.NDArray[np.float32]
Group = tuple[F32, F32, npt.NDArray[np.int64]]  # features, labels, group sizes


class Engine(Protocol):
    name: str
    workers: int

    def map(self, fn: Callable[..., R], parts: Sequence[Any], *shared: Any) -> list[R]:
        """[fn(part, *shared) for part in parts], in the order of `parts`."""
        ...

    def train_xgb(
        self,
        params: dict[str, Any],
        train: Group,
        valid: Group,
        rounds: int,
        early_stopping: int | None,
        feature_names: list[str],
    ) -> tuple[xgb.Booster, list[float]]:
        """A booster trained on the train groups (early-stopped on the valid groups' `eval_metric`
        unless `early_stopping` is None); that metric's curve over rounds."""
        ...

    def close(self) -> None: ...


class LocalEngine:
    """Every part in this process, one after another."""

    name = "local"
    workers = 1

    def map(self, fn: Callable[..., R], parts: Sequence[Any], *shared: Any) -> list[R]:
        return [fn(part, *shared) for part in parts]

    def train_xgb(
        self,
        params: dict[str, Any],
        train: Group,
        valid: Group,
        rounds: int,
        early_stopping: int | None,
        feature_names: list[str],
    ) -> tuple[xgb.Booster, list[float]]:
        dtrain, dvalid = (_dmatrix(g, feature_names) for g in (train, valid))
        history: dict[str, dict[str, list[float]]] = {}
        booster = xgb.train(
            params, dtrain, num_boost_round=rounds, evals=[(dvalid, "valid")],
            early_stopping_rounds=early_stopping, evals_result=history, verbose_eval=False,
        )  # fmt: skip
        return booster, history["valid"][params["eval_metric"]]

    def close(self) -> None:
        return None


def _dmatrix(group: Group, feature_names: list[str]) -> xgb.DMatrix:
    x, y, sizes = group
    d = xgb.DMatrix(x, label=y, feature_names=feature_names)
    d.set_group(sizes)
    return d


LOCAL = LocalEngine()


def chunks(n: int, parts: int) -> list[tuple[int, int]]:
    """[start, stop) bounds cutting range(n) into at most `parts` contiguous, near-equal pieces."""
    bounds = np.linspace(0, n, max(1, min(parts, n)) + 1).astype(int)
    return [(int(a), int(b)) for a, b in itertools.pairwise(bounds) if b > a]
