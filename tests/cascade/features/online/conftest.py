"""A real 3-master Redis Cluster on loopback ports, started once for the online-store tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cascade.features.online.cluster_local import LocalCluster


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[LocalCluster]:
    with LocalCluster(masters=3) as cluster:
        yield cluster
