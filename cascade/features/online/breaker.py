"""A circuit breaker around any online store: one time budget per request, fail fast while the store is sick.

Closed: calls go through; `failures` consecutive failures (timeouts, refused connections) open it.
Open: calls raise `BreakerOpen` at once (the pipeline answers from defaults, writes answer 503); every
`probe_interval_s` a background thread pings the store (half-open), and the first answer closes it.
Requests never wait on a probe, and no request is needed for one. Within one request
(`request_budget`), store calls share one budget: once a call failed or the budget is spent, the
request's later calls are not made.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import numpy as np
import numpy.typing as npt

from cascade.features.online.base import (
    F32,
    I64,
    CatalogEntry,
    Fetched,
    OnlineStore,
    ShownEntry,
    StoreUnavailable,
)
from cascade.features.session import Event

log = logging.getLogger("care.store")
T = TypeVar("T")
State = Literal["closed", "open", "half_open"]


class BreakerOpen(StoreUnavailable):
    """The breaker is open: the store was not called."""


class BudgetSpent(StoreUnavailable):
    """This request's store budget is spent (an earlier call failed or was slow): not called."""


@dataclass
class Budget:
    """One request's store time: a deadline, and whether a call already failed."""

    deadline: float
    failed: bool = False

    def check(self) -> None:
        if self.failed or time.monotonic() >= self.deadline:
            raise BudgetSpent("online store budget of this request is spent")


_budget: ContextVar[Budget | None] = ContextVar("care_store_budget", default=None)


@contextlib.contextmanager
def request_budget(seconds: float) -> Iterator[Budget]:
    """Store calls made inside (this task or thread, and threads it starts with a copied context) share it."""
    b = Budget(time.monotonic() + seconds)
    token = _budget.set(b)
    try:
        yield b
    finally:
        _budget.reset(token)


class BreakerStore:
    """Wraps an OnlineStore; the same interface, so the feature store and the service do not change."""

    def __init__(
        self,
        inner: OnlineStore,
        *,
        failures: int = 3,
        probe_interval_s: float = 0.25,
        on_change: Callable[[State], None] | None = None,
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self.failures = failures
        self.probe_interval_s = probe_interval_s
        self.on_change = on_change
        self.trips = 0  # closed -> open transitions
        self.probes = 0  # half-open probes finished
        self._state: State = "closed"
        self._consecutive = 0
        self._opened_at = 0.0
        self._lock = threading.Lock()
        self._stopped = threading.Event()

    # ---- state ------------------------------------------------------------------------------
    @property
    def state(self) -> State:
        return self._state

    def snapshot(self) -> dict[str, Any]:
        """For /readyz: state, consecutive failures, trips so far, seconds open."""
        with self._lock:
            s: dict[str, Any] = {"state": self._state, "failures": self._consecutive, "trips": self.trips}
            if self._state != "closed":
                s["open_for_s"] = round(time.monotonic() - self._opened_at, 3)
        return s

    def _set(self, state: State) -> None:
        """Under the lock."""
        if state == self._state:
            return
        before, self._state = self._state, state
        if state == "open" and before == "closed":
            self.trips += 1
            self._opened_at = time.monotonic()
            threading.Thread(target=self._probe_until_closed, name="store-breaker-probe", daemon=True).start()
        if state == "open" and before == "closed":
            log.warning("online store breaker opened after %d consecutive failures", self._consecutive)
        elif state == "closed":
            log.warning("online store breaker closed: the store answered a probe")
        if self.on_change is not None:
            self.on_change(state)

    def _admit(self) -> None:
        budget = _budget.get()
        if budget is not None:
            budget.check()
        if self._state != "closed":
            raise BreakerOpen(f"online store breaker open after {self.failures} consecutive failures")

    def _probe_until_closed(self) -> None:
        """The half-open prober: one ping every `probe_interval_s`; the first answer closes the breaker."""
        while not self._stopped.wait(self.probe_interval_s):
            with self._lock:
                self._set("half_open")
            try:
                self.inner.ping()
            except StoreUnavailable:
                ok = False
            else:
                ok = True
            with self._lock:
                self.probes += 1
                self._consecutive = 0
                self._set("closed" if ok else "open")
            if ok:
                return

    def _failed(self) -> None:
        with self._lock:
            self._consecutive += 1
            if self._state == "closed" and self._consecutive >= self.failures:
                self._set("open")

    def _call(self, fn: Callable[[], T]) -> T:
        self._admit()
        budget = _budget.get()
        try:
            out = fn()
        except StoreUnavailable:
            if budget is not None:
                budget.failed = True
            self._failed()
            raise
        if self._consecutive:
            with self._lock:
                self._consecutive = 0
        return out

    # ---- OnlineStore ------------------------------------------------------------------------
    def write_users(self, user_ids: Sequence[int], features: F32, histories: Sequence[I64]) -> None:
        self._call(lambda: self.inner.write_users(user_ids, features, histories))

    def write_items(self, item_ids: Sequence[int], features: F32) -> None:
        self._call(lambda: self.inner.write_items(item_ids, features))

    def fetch(self, user_id: int, item_ids: I64) -> Fetched:
        return self._call(lambda: self.inner.fetch(user_id, item_ids))

    def fetch_items(self, item_ids: I64) -> tuple[F32, npt.NDArray[np.bool_]]:
        return self._call(lambda: self.inner.fetch_items(item_ids))

    def record_event(self, event: Event, genre_code: int, consuming: bool) -> None:
        self._call(lambda: self.inner.record_event(event, genre_code, consuming))

    def write_source(self, user_id: int, blob: bytes) -> None:
        self._call(lambda: self.inner.write_source(user_id, blob))

    def record_shown(self, entries: Sequence[ShownEntry]) -> None:
        self._call(lambda: self.inner.record_shown(entries))

    def claim_item(self, entry: CatalogEntry) -> bool:
        return self._call(lambda: self.inner.claim_item(entry))

    def catalog_since(self, cursor: int) -> list[CatalogEntry]:
        return self._call(lambda: self.inner.catalog_since(cursor))

    def ping(self) -> None:
        self._call(self.inner.ping)

    def close(self) -> None:
        self._stopped.set()
        self.inner.close()
