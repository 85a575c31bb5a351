"""The Dask engine: parts mapped over a `distributed` cluster, the ranker fitted with `xgboost.dask`.

`dask:N` starts a LocalCluster of N single-threaded worker processes on this machine (what the test
suite and the README's comparison use); `dask:tcp://scheduler:8786` joins an existing cluster, such
as the one in deploy/k8s/components/dask-training (every worker runs the same image, so the
stage functions import).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np
import xgboost as xgb
from dask import array as da
from dask.distributed import Client, LocalCluster
from xgboost import dask as dxgb

from cascade.engine.base import Group

R = TypeVar("R")


class DaskEngine:
    """Engine over a dask.distributed Client (owns the LocalCluster it started, if any)."""

    name = "dask"

    def __init__(self, client: Client, cluster: LocalCluster | None = None) -> None:
        self.client, self._cluster = client, cluster
        self.workers = max(1, len(client.scheduler_info()["workers"]))

    @classmethod
    def open(cls, where: str) -> DaskEngine:
        if where.isdigit():
            n = int(where)
            cluster = LocalCluster(
                n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
            )
            return cls(Client(cluster), cluster)
        client = Client(where, timeout=30)
        return cls(client)

    def map(self, fn: Callable[..., R], parts: Sequence[Any], *shared: Any) -> list[R]:
        sent = [self.client.scatter(s, broadcast=True) for s in shared]
        futures = self.client.map(fn, list(parts), *[[s] * len(parts) for s in sent], pure=False)
        out: list[R] = self.client.gather(futures)
        return out

    def train_xgb(
        self,
        params: dict[str, Any],
        train: Group,
        valid: Group,
        rounds: int,
        early_stopping: int | None,
        feature_names: list[str],
    ) -> tuple[xgb.Booster, list[float]]:
        """Rows partitioned on group boundaries, one chunk per worker; histograms reduced across workers."""
        dtrain, dvalid = (self._dmatrix(g, feature_names) for g in (train, valid))
        out = dxgb.train(
            self.client, {**params, "nthread": 1}, dtrain, num_boost_round=rounds,
            evals=[(dvalid, "valid")], early_stopping_rounds=early_stopping, verbose_eval=False,
        )  # fmt: skip
        booster: xgb.Booster = out["booster"]
        return booster, list(out["history"]["valid"][params["eval_metric"]])

    def _dmatrix(self, group: Group, feature_names: list[str]) -> dxgb.DaskDMatrix:
        x, y, sizes = group
        qid = np.repeat(np.arange(len(sizes), dtype=np.int64), sizes)
        # chunk boundaries on group boundaries: a query's rows never span two partitions
        ends = np.cumsum(sizes)
        cuts = [int(ends[min(len(ends) - 1, round(i * len(ends) / self.workers) - 1)])
                for i in range(1, self.workers)]  # fmt: skip
        bounds = sorted({0, *cuts, len(y)})
        rows = tuple(b - a for a, b in itertools.pairwise(bounds) if b > a)
        return dxgb.DaskDMatrix(
            self.client,
            da.from_array(x, chunks=(rows, x.shape[1])),
            da.from_array(y, chunks=(rows,)),
            qid=da.from_array(qid, chunks=(rows,)),
            feature_names=feature_names,
        )

    def close(self) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()
