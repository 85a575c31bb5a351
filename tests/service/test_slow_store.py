"""The service over a slow Redis: the breaker opens, answers degrade, writes answer 503, it recovers."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator

import numpy as np
import pytest

from cascade.features.online.redis_store import RedisStore
from cascade.proxy import DelayProxy
from tests.service.conftest import MakeClient

REC = {"user_id": 1, "k": 5, "arm": "rules"}


@pytest.fixture
def slow_redis() -> Iterator[tuple[DelayProxy, RedisStore]]:
    direct = RedisStore("redis://127.0.0.1:6379/15", prefix=f"care-slow-{uuid.uuid4().hex[:8]}:")
    with DelayProxy() as proxy:
        try:
            yield proxy, direct
        finally:
            direct.delete_prefix()
            direct.close()


def _until(cond: Callable[[], bool], limit_s: float = 60.0) -> None:
    """Poll; the limit only keeps a broken build from hanging (not a speed check)."""
    end = time.monotonic() + limit_s
    while not cond():
        if time.monotonic() > end:
            raise AssertionError("condition never held")
        time.sleep(0.02)


def test_slow_store_opens_the_breaker_and_the_service_recovers(
    make_client: MakeClient, slow_redis: tuple[DelayProxy, RedisStore]
) -> None:
    proxy, direct = slow_redis
    client = make_client(
        redis_url=proxy.url + "/15",
        redis_prefix=direct.prefix,
        redis_socket_timeout_s=0.25,
        store_breaker_failures=2,
        store_breaker_probe_s=0.05,
    )
    healthy = client.post("/recommend", json=REC).json()
    assert healthy["degraded"] is False

    proxy.delay_s = 1.0
    answers = [client.post("/recommend", json=REC) for _ in range(4)]
    assert all(r.status_code == 200 and r.json()["degraded"] is True for r in answers)
    assert [len(r.json()["items"]) for r in answers] == [5] * 4
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["store_breaker"]["state"] in ("open", "half_open")
    refused = client.post("/events", json={"user_id": 1, "item_id": 50, "type": "play"})
    assert refused.status_code == 503  # never acknowledged unless stored
    metrics = client.get("/metrics").text
    assert "care_store_breaker_open 1.0" in metrics and "care_store_breaker_trips_total 1.0" in metrics

    proxy.delay_s = 0.0
    _until(lambda: client.get("/readyz").status_code == 200)
    assert client.post("/recommend", json=REC).json()["degraded"] is False
    stored = client.post("/events", json={"user_id": 1, "item_id": 50, "type": "play"})
    assert stored.status_code == 200
    assert direct.fetch(1, np.empty(0, dtype=np.int64)).session.recent[0] == 50
