"""The store breaker against a real Redis behind a real delaying TCP proxy (a slow, not dead, store)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator

import numpy as np
import pytest

from cascade.features.online import RedisStoreConfig, StoreUnavailable, create_store
from cascade.features.online.base import ITEM_DEFAULTS
from cascade.features.online.breaker import BreakerOpen, BreakerStore, BudgetSpent, request_budget
from cascade.features.online.redis_store import RedisStore
from cascade.features.session import Event
from cascade.proxy import DelayProxy

SLOW_S = 1.0  # every reply held this long; the socket timeout below is far shorter
ITEMS = np.asarray([10, 11], dtype=np.int64)
Make = Callable[[int], BreakerStore]


def wait_for(cond: Callable[[], bool], what: str, limit_s: float = 30.0) -> None:
    """Poll until `cond` holds; the limit only stops a broken build from hanging (not a speed check)."""
    end = time.monotonic() + limit_s
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.01)


@pytest.fixture
def proxy() -> Iterator[DelayProxy]:
    with DelayProxy() as p:
        yield p


@pytest.fixture
def direct() -> Iterator[RedisStore]:
    s = RedisStore("redis://127.0.0.1:6379/15", prefix=f"care-brk-{uuid.uuid4().hex[:8]}:")
    try:
        yield s
    finally:
        s.delete_prefix()
        s.close()


@pytest.fixture
def make(proxy: DelayProxy, direct: RedisStore) -> Iterator[Callable[[int], BreakerStore]]:
    """Breaker stores over the proxy (socket timeout far below the delay); closed after the test."""
    made: list[BreakerStore] = []

    def build(failures: int = 2) -> BreakerStore:
        cfg = RedisStoreConfig(url=proxy.url + "/15", prefix=direct.prefix, socket_timeout_s=0.2)
        made.append(BreakerStore(create_store(cfg), failures=failures, probe_interval_s=0.02))
        return made[-1]

    yield build
    for s in made:
        s.close()


def trip(store: BreakerStore, proxy: DelayProxy) -> None:
    proxy.delay_s = SLOW_S
    for _ in range(store.failures):
        with pytest.raises(StoreUnavailable) as err:
            store.fetch_items(ITEMS)
        assert not isinstance(err.value, BreakerOpen)  # these reached the store and timed out
    assert store.state != "closed" and store.trips == 1


def test_repeated_timeouts_open_it_and_calls_then_fail_without_the_store(
    make: Make, proxy: DelayProxy, direct: RedisStore
) -> None:
    store = make(2)
    direct.write_items([10, 11], np.ones((2, len(ITEM_DEFAULTS)), dtype=np.float32))
    assert not store.fetch_items(ITEMS)[1].any()
    trip(store, proxy)
    for call in (lambda: store.fetch(1, ITEMS), lambda: store.fetch_items(ITEMS), store.ping):
        with pytest.raises(BreakerOpen):
            call()
    assert store.snapshot()["state"] in ("open", "half_open")


def test_probes_keep_it_open_while_slow_and_close_it_once_the_store_answers(
    make: Make, proxy: DelayProxy, direct: RedisStore
) -> None:
    store = make(2)
    direct.write_items([10], np.full((1, len(ITEM_DEFAULTS)), 2.0, dtype=np.float32))
    trip(store, proxy)
    wait_for(lambda: store.probes >= 2 or store.state == "closed", "two probes")
    assert store.state != "closed" and store.trips == 1  # failed probes do not count as new trips
    proxy.delay_s = 0.0
    wait_for(lambda: store.state == "closed", "the breaker closing")
    items, missing = store.fetch_items(ITEMS)
    assert missing.tolist() == [False, True] and float(items[0, 0]) == 2.0


def test_one_request_shares_one_budget(make: Make, proxy: DelayProxy) -> None:
    store = make(100)  # the breaker stays closed: the budget alone decides
    proxy.delay_s = SLOW_S
    with request_budget(60.0):
        with pytest.raises(StoreUnavailable) as first:
            store.fetch(1, ITEMS)
        assert not isinstance(first.value, BudgetSpent)
        sent = proxy.requests_bytes
        with pytest.raises(BudgetSpent):
            store.fetch_items(ITEMS)
        assert proxy.requests_bytes == sent  # the second call never reached the store
    with request_budget(0.0), pytest.raises(BudgetSpent):
        store.fetch_items(ITEMS)
    assert store.state == "closed"


def test_events_are_refused_while_open_and_stored_once_closed(
    make: Make, proxy: DelayProxy, direct: RedisStore
) -> None:
    store = make(2)
    trip(store, proxy)
    with pytest.raises(BreakerOpen):
        store.record_event(Event(3, 100, "play", 1.0), genre_code=1, consuming=True)
    proxy.delay_s = 0.0
    wait_for(lambda: store.state == "closed", "the breaker closing")
    store.record_event(Event(3, 101, "play", 2.0), genre_code=1, consuming=True)
    assert direct.fetch(3, np.empty(0, dtype=np.int64)).session.recent[0] == 101
