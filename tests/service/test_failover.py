"""A Redis Cluster primary lost under load (3 primaries, 3 replicas, `care serve --workers 2`), and the
guarantee that makes an acknowledged event survive it: WAIT for one replica before acknowledging."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from cascade.features.online.cluster_local import LocalCluster
from cascade.features.online.redis_cluster import RedisClusterStore
from cascade.llm import PROMPTS_DIR
from service.bench.failover import (
    NODE_TIMEOUT_MS,
    partitioned_writes,
    plays,
    post_event,
    recover,
    shard_of,
    store_write,
    under_load,
)
from service.bench.service import _wait_workers
from service.process import ServerProcess
from tests.service.conftest import EXPERIMENTS, server_env

Served = tuple[LocalCluster, ServerProcess, str]


@pytest.fixture(scope="module")
def served(artifacts: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A 3+3 cluster with a 1 s node timeout, and two workers over it that WAIT for one replica."""
    config = tmp_path_factory.mktemp("failover") / "prompts"
    shutil.copytree(PROMPTS_DIR, config)
    (config / "experiments.yaml").write_text(EXPERIMENTS)
    prefix = f"care-test-failover-{uuid.uuid4().hex[:8]}:"
    with LocalCluster(3, replicas=1, node_timeout_ms=NODE_TIMEOUT_MS) as cluster:
        env = server_env(
            artifacts,
            config,
            CARE_REDIS_URL=cluster.url,
            CARE_REDIS_CLUSTER="true",
            CARE_REDIS_MIN_REPLICAS="1",
            CARE_REDIS_PREFIX=prefix,
            CARE_IMPRESSIONS="off",
        )
        with ServerProcess(env, args=["--workers", "2"]) as server:
            _wait_workers(server, 2)
            yield cluster, server, prefix


def test_a_primary_killed_under_load_costs_no_error_and_no_acknowledged_event(served: Served) -> None:
    cluster, server, prefix = served
    res = under_load(cluster, server.url, prefix, rate=12.0, user=1)
    assert res.degraded > 0 and res.events_acked > 0  # the kill hit the traffic, events flowed
    assert (res.server_errors, res.recommend_failed, res.events_lost) == (0, 0, 0), res
    assert res.recovery_s <= 5.0, res  # normal answers again within 5 s of the replica's promotion


def test_an_acknowledged_event_survives_its_primary_and_an_unconfirmed_one_is_refused(served: Served) -> None:
    """The loss is made to happen: the replica is frozen and cut off while events arrive, then the primary
    dies. Written without WAIT they are acknowledged and lost; through the service they are refused."""
    cluster, server, prefix = served
    user = 7
    control = RedisClusterStore(cluster.url, prefix=prefix + "control:", min_replicas=0)  # same slot
    try:
        shard = shard_of(cluster, control.user_key(user, "s"))
        assert post_event(server.url, user) and post_event(server.url, user)  # replicated: acknowledged
        control_acked: list[bool] = []
        without_wait = store_write(control, user)

        def write() -> bool:
            control_acked.append(without_wait())
            return post_event(server.url, user)

        acked, _ = partitioned_writes(cluster, shard, write, n=3)
        recover(cluster, shard)
        assert acked == 0  # no replica could confirm them: 503, never 200
        assert plays(cluster, prefix, user) == 2  # both acknowledged events survived the failover
        assert control_acked == [True] * 3  # without WAIT the same writes were acknowledged...
        assert plays(cluster, prefix + "control:", user) == 0  # ...and are gone with the primary
    finally:
        control.close()
