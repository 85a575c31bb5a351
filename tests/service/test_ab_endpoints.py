"""Impressions and attribution through the real app, on a real Redis (and on the embedded SQLite log)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cascade.impressions import RedisImpressionLog, delete_prefix, read_impressions, read_outcomes
from cascade.ports import free_port
from tests.service.conftest import MakeClient

REDIS = "redis://127.0.0.1:6379/0"


def metric(client: TestClient, name: str, **labels: str) -> float:
    """A sample's value from /metrics (0 when absent)."""
    text = client.get("/metrics").text
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split(" ")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.fixture
def prefix() -> Iterator[str]:
    p = f"test-ab-{uuid.uuid4().hex[:8]}:"
    yield p
    delete_prefix(REDIS, p)


@pytest.fixture
def redis_client(make_client: MakeClient, prefix: str) -> TestClient:
    return make_client(redis_url=REDIS, redis_prefix=prefix)


def recommend(client: TestClient, user: int, arm: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"user_id": user, "k": 5}
    if arm:
        body["arm"] = arm
    r = client.post("/recommend", json=body)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def test_impressions_are_logged_to_the_redis_stream(redis_client: TestClient, prefix: str) -> None:
    a = recommend(redis_client, 3)
    b = recommend(redis_client, 4, arm="none")
    svc = redis_client.app.state.service  # type: ignore[attr-defined]
    assert svc.tracker.recorder.flush(5.0)
    log = RedisImpressionLog(REDIS, prefix)
    got = {i.request_id: i for i in read_impressions(log, 0, 4e9)}
    log.close()
    assert set(got) == {a["request_id"], b["request_id"]}
    ia = got[a["request_id"]]
    assert ia.user_id == 3 and ia.arm == a["arm"] and ia.experiment == "main" and not ia.forced
    assert list(ia.items) == [it["item_id"] for it in a["items"]]
    assert ia.reranker == a["reranker_used"] and ia.total_ms > 0
    assert got[b["request_id"]].forced and got[b["request_id"]].arm == "none"
    assert metric(redis_client, "care_ab_impressions_total", experiment="main", arm=a["arm"]) >= 1


def test_event_attributed_by_request_id(redis_client: TestClient) -> None:
    first = recommend(redis_client, 5)
    second = recommend(redis_client, 5)
    item = first["items"][0]["item_id"]
    ev = {"user_id": 5, "item_id": item, "type": "play", "request_id": first["request_id"], "position": 1}
    assert redis_client.post("/events", json=ev).status_code == 200
    arm = first["arm"]
    assert (
        metric(redis_client, "care_ab_attributed_events_total", experiment="main", arm=arm, type="play") == 1
    )
    assert metric(redis_client, "care_ab_unattributed_events_total", type="play") == 0
    assert second["request_id"] != first["request_id"]


def test_event_attributed_by_window_and_unattributed(redis_client: TestClient) -> None:
    rec = recommend(redis_client, 6)
    liked = rec["items"][2]["item_id"]
    shown = {it["item_id"] for it in rec["items"]}
    never = next(i for i in range(1, 1683) if i not in shown)
    batch = {"events": [
        {"user_id": 6, "item_id": liked, "type": "like"},
        {"user_id": 6, "item_id": never, "type": "play"},
    ]}  # fmt: skip
    assert redis_client.post("/events", json=batch).status_code == 200
    arm = rec["arm"]
    assert (
        metric(redis_client, "care_ab_attributed_events_total", experiment="main", arm=arm, type="like") == 1
    )
    assert metric(redis_client, "care_ab_unattributed_events_total", type="play") == 1


def test_outcomes_are_logged_with_arm_and_position(redis_client: TestClient, prefix: str) -> None:
    rec = recommend(redis_client, 8)
    item = rec["items"][1]["item_id"]
    ev = {"user_id": 8, "item_id": item, "type": "play", "request_id": rec["request_id"]}
    assert redis_client.post("/events", json=ev).status_code == 200
    log = RedisImpressionLog(REDIS, prefix)
    outs = list(read_outcomes(log, 0, 4e9))
    log.close()
    assert len(outs) == 1
    o = outs[0]
    assert (o.request_id, o.arm, o.position, o.how, o.item_id) == (
        rec["request_id"],
        rec["arm"],
        2,
        "request_id",
        item,
    )


def test_bad_request_id_or_position_is_a_422(redis_client: TestClient) -> None:
    r = redis_client.post("/events", json={"user_id": 1, "item_id": 1, "type": "play", "request_id": "a b"})
    assert r.status_code == 422
    r = redis_client.post("/events", json={"user_id": 1, "item_id": 1, "type": "play", "position": 0})
    assert r.status_code == 422


def test_a_dead_impression_log_never_fails_a_recommendation(make_client: MakeClient) -> None:
    client = make_client(impressions="redis", impressions_redis_url=f"redis://127.0.0.1:{free_port()}/0")
    recs = [recommend(client, u) for u in (1, 2, 3)]
    svc = client.app.state.service  # type: ignore[attr-defined]
    svc.tracker.recorder.flush(5.0)
    item = recs[0]["items"][0]["item_id"]
    ev = {"user_id": 1, "item_id": item, "type": "play", "request_id": recs[0]["request_id"]}
    assert client.post("/events", json=ev).status_code == 200
    assert metric(client, "care_ab_log_failures_total", op="write") == 3
    assert metric(client, "care_ab_log_failures_total", op="read") == 1
    assert metric(client, "care_ab_attributed_events_total") == 0


def test_embedded_default_logs_to_sqlite_and_attributes(make_client: MakeClient) -> None:
    client = make_client()
    svc = client.app.state.service  # type: ignore[attr-defined]
    assert svc.tracker is not None and svc.tracker.sink.name == "sqlite"
    rec = recommend(client, 9)
    ev = {
        "user_id": 9,
        "item_id": rec["items"][0]["item_id"],
        "type": "play",
        "request_id": rec["request_id"],
    }
    assert client.post("/events", json=ev).status_code == 200
    assert metric(client, "care_ab_attributed_events_total", arm=rec["arm"], type="play") == 1
