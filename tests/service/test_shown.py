"""Impression discounting through the real app on a real Redis: what an answer showed and the user did not
play falls on their next request; a reaction clears it; the switch off restores the old order."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pytest
import redis
from fastapi.testclient import TestClient

from cascade.features.online.base import ShownEntry, StoreUnavailable
from cascade.impressions import delete_prefix
from service.shown import ShownRecorder
from tests.service.conftest import MakeClient

REDIS = "redis://127.0.0.1:6379/0"
T0 = 1.0e9  # the requests' own clock (context timestamps)
STRONG = {"factor": 1e-6, "half_life_s": 86_400.0}  # a showing outweighs any score gap


@pytest.fixture
def prefix() -> Iterator[str]:
    p = f"test-shown-{uuid.uuid4().hex[:8]}:"
    yield p
    delete_prefix(REDIS, p)


def answer(client: TestClient, user: int, ts: float) -> dict[str, Any]:
    r = client.post(
        "/recommend", json={"user_id": user, "k": 10, "arm": "none", "context": {"timestamp": ts}}
    )
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def ids(body: dict[str, Any]) -> list[int]:
    return [int(it["item_id"]) for it in body["items"]]


def shown(client: TestClient, user: int) -> dict[int, tuple[int, float]]:
    svc = client.app.state.service  # type: ignore[attr-defined]
    assert svc.shown.flush(5.0)
    entries: dict[int, tuple[int, float]] = svc.loaded.online.fetch(
        user, np.empty(0, np.int64)
    ).shown.entries()
    return entries


def test_an_item_shown_and_not_played_drops_on_the_next_request(make_client: MakeClient, prefix: str) -> None:
    client = make_client(redis_url=REDIS, redis_prefix=prefix, discount=STRONG)
    first = ids(answer(client, 42, T0))
    second = ids(answer(client, 42, T0 + 60))  # no event in between: all ten were passed over
    assert set(first).isdisjoint(second)
    assert shown(client, 42) == {**{i: (1, T0) for i in first}, **{i: (1, T0 + 60) for i in second}}
    keys = redis.Redis.from_url(REDIS).keys(f"{prefix}sh:*")
    assert keys == [f"{prefix}sh:42".encode()]  # kept with the user, in the online store


def test_a_play_or_a_click_clears_the_item(make_client: MakeClient, prefix: str) -> None:
    client = make_client(redis_url=REDIS, redis_prefix=prefix, discount=STRONG)
    body = answer(client, 7, T0)
    first = ids(body)
    clicked, played = first[0], first[1]
    events = [
        {"user_id": 7, "item_id": clicked, "type": "click", "request_id": body["request_id"], "position": 1},
        {"user_id": 7, "item_id": played, "type": "play", "request_id": body["request_id"], "position": 2},
    ]
    assert client.post("/events", json={"events": events}).status_code == 200
    assert set(shown(client, 7)) == set(first) - {clicked, played}
    second = ids(answer(client, 7, T0 + 60))
    assert set(first).isdisjoint(second)  # reacted to: in the session (not recommended); the rest discounted
    third = ids(answer(client, 7, T0 + 120))
    assert set(shown(client, 7)) == (set(first) | set(second) | set(third)) - {clicked, played}


def test_the_switch_off_restores_the_old_order(make_client: MakeClient, prefix: str) -> None:
    off = make_client(redis_url=REDIS, redis_prefix=prefix, discount={"enabled": False})
    a, b = answer(off, 42, T0), answer(off, 42, T0 + 60)
    assert ids(a) == ids(b) and [it["score"] for it in a["items"]] == [it["score"] for it in b["items"]]
    assert off.app.state.service.shown is None  # type: ignore[attr-defined]
    assert redis.Redis.from_url(REDIS).keys(f"{prefix}sh:*") == []  # nothing kept either
    on = make_client(redis_url=REDIS, redis_prefix=prefix, discount=STRONG)
    c, d = answer(on, 42, T0), answer(on, 42, T0 + 60)
    assert ids(c) == ids(a)  # the first answer, nothing shown yet: the old order exactly
    assert [it["score"] for it in c["items"]] == [it["score"] for it in a["items"]]
    assert set(ids(d)).isdisjoint(ids(a))


class Blocked:
    """A store whose writes wait until released (a stalled backend), or fail."""

    def __init__(self, fail: bool = False) -> None:
        self.release, self.fail = threading.Event(), fail
        self.written: list[ShownEntry] = []

    def record_shown(self, entries: Sequence[ShownEntry]) -> None:
        self.release.wait(10)
        if self.fail:
            raise StoreUnavailable("down")
        self.written.extend(entries)


def test_a_user_is_queued_until_their_answer_is_written_or_lost() -> None:
    failures: list[tuple[str, int]] = []
    store = Blocked()
    rec = ShownRecorder(lambda: store, lambda op, n: failures.append((op, n)), queue_size=2)  # type: ignore[arg-type,return-value]
    rec.submit(1, (10, 11), 5.0)
    rec.submit(2, (), 5.0)  # nothing shown: nothing queued
    assert rec.queued(1) and not rec.queued(2)
    assert not rec.flush(0.05)  # bounded: a stalled store never holds a request for long
    rec.submit(3, (12,), 6.0)
    rec.submit(4, (13,), 6.0)
    rec.submit(5, (14,), 6.0)  # beyond the queue bound: dropped, reported, not waited for
    assert ("dropped", 1) in failures and not rec.queued(5)
    store.release.set()
    assert rec.flush(5.0)
    assert not any(rec.queued(u) for u in (1, 3, 4))
    assert [e.user_id for e in store.written] == [1, 3, 4] and store.written[0] == ShownEntry(
        1, (10, 11), 5.0
    )
    failing = Blocked(fail=True)
    failing.release.set()
    bad = ShownRecorder(lambda: failing, lambda op, n: failures.append((op, n)))  # type: ignore[arg-type,return-value]
    bad.submit(7, (1,), 1.0)
    assert bad.flush(5.0) and not bad.queued(7) and ("write", 1) in failures
    rec.close()
    bad.close()
