"""Shared fixtures: the real MovieLens-100k data (fetched once into $CARE_HOME) and trained artifacts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cascade.data.dataset import Dataset
from cascade.data.fetch import load_default
from cascade.data.split import Split, split_by_user
from cascade.features.online.cluster_local import LocalCluster


@pytest.fixture(scope="session")
def ml100k() -> Dataset:
    return load_default()


@pytest.fixture(scope="session")
def ml_split(ml100k: Dataset) -> Split:
    return split_by_user(ml100k.interactions)


@pytest.fixture(scope="session")
def trained_artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """$CARE_ARTIFACTS when trained by this code (`make test` trains them first), else trained once here."""
    from cascade.paths import artifacts_dir
    from cascade.train import SEED, is_current, train

    default = artifacts_dir()
    if is_current(default, SEED):
        return default
    out = tmp_path_factory.mktemp("artifacts") / "current"
    train(out, seed=SEED)
    return out


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[LocalCluster]:
    """A real 3-master Redis Cluster on loopback ports, started once for the whole run."""
    with LocalCluster(masters=3) as cluster:
        yield cluster
