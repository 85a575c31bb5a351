"""The service's handlers: built once in the lifespan, kept on app.state, called by the routers."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from cascade.arms import Arm, ArmResolver, ArmSet, Assignment, ExperimentsError, watched_files
from cascade.features.online import OnlineStore, StoreUnavailable, create_store
from cascade.features.online.base import CatalogEntry, NotReplicated
from cascade.features.online.breaker import BreakerStore, request_budget
from cascade.features.online.item_cache import ItemCache, cached
from cascade.features.session import Event
from cascade.features.store import UnknownItemError
from cascade.pipeline import Pipeline, Recommendation
from cascade.types import Context
from service.admission import Admission
from service.loaded import Loaded, build
from service.metrics import Metrics
from service.protocol import (
    EventIn,
    EventsAccepted,
    Health,
    Item,
    NewItem,
    RecommendRequest,
)
from service.responses import ItemExists, NotReady, StoreDown, UnknownArm, UnknownItem, response_body
from service.rollout import Rollout
from service.settings import Settings
from service.shown import ShownRecorder
from service.tracking import EventRef, Tracker, open_log

log = logging.getLogger("care.service")
T = TypeVar("T")


_thread_loops = threading.local()


def _versions(ld: Loaded) -> tuple[str, str]:
    return ld.model_version, ld.ranker_version


def _run_in_thread_loop(coro_fn: Callable[[], Any]) -> Any:
    """Runs a coroutine on this worker thread's own event loop (kept across calls)."""
    loop = getattr(_thread_loops, "loop", None)
    if loop is None:
        loop = asyncio.new_event_loop()
        _thread_loops.loop = loop
    return loop.run_until_complete(coro_fn())


@dataclass
class CareService:
    """Loads the runtime, owns the online store and the arms, and answers every route."""

    settings: Settings
    metrics: Metrics = field(default_factory=Metrics)
    loaded: Loaded | None = None
    load_error: str | None = None
    arms: ArmSet | None = None
    admission: Admission = field(init=False)
    _resolver: ArmResolver | None = None
    tracker: Tracker | None = None  # the A/B impression log (None when off or unavailable)
    shown: ShownRecorder | None = None  # what answers showed, for impression discounting (None when off)
    _mtimes: dict[Path, tuple[int, int]] = field(default_factory=dict)
    _reload_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _ready_event: asyncio.Event = field(default_factory=asyncio.Event)
    _catalog_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        self.admission = Admission(self.settings.max_inflight, self.settings.llm_inflight)
        self.rollout = Rollout(self)

    # ---- lifecycle -------------------------------------------------------------------------
    async def load(self) -> None:
        """Load artifacts, connect the online store, build the arms (in a worker thread)."""
        t0, cpu0 = time.monotonic(), time.process_time()
        try:
            loaded = await asyncio.to_thread(self._load_sync)
            self._resolver = loaded.resolver
            await self.reload(force=True)
            self.loaded = loaded  # requests see a runtime only once its arms exist
            self.metrics.observe_model(None, loaded.model_version, loaded.ranker_version)
            gc.collect()
            gc.freeze()  # the loaded runtime is permanent: later collections need not walk it
        except Exception as exc:  # any failure to load leaves the service alive and not ready
            self.load_error = f"{type(exc).__name__}: {exc}"
            log.exception("loading the runtime failed")
            return
        wall, cpu = time.monotonic() - t0, time.process_time() - cpu0
        log.info("loaded %s in %.2f s (%.2f s of CPU)", loaded.model_version, wall, cpu)
        self._ready_event.set()

    def _load_sync(self) -> Loaded:
        loaded = build(self.settings, self._online_store(), self.settings.artifacts)
        self._open_tracker()
        if self.settings.discount.enabled:
            self.shown = ShownRecorder(
                lambda: None if self.loaded is None else self.loaded.online,
                lambda op, n: self.metrics.shown_failures.labels(op).inc(n),
                self.settings.impressions_queue,
            )
        return loaded

    async def swap(self, new: Loaded) -> None:
        """Serve `new` from the next request on: its arms are built first, then both change in one step.

        A request reads the version once, at its start, so it is answered by one version end to end.
        """
        assert new.resolver is not None
        s = self.settings
        async with self._reload_lock:  # an experiments reload never builds arms over the old catalog
            self._mtimes = watched_files(s.experiments_file, s.prompts_dir)
            arms = await asyncio.to_thread(new.resolver.resolve_file, s.experiments_file, s.prompts_dir)
            old = self.loaded
            self.loaded, self._resolver, self.arms = new, new.resolver, arms  # no await in between
        self.metrics.observe_model(None if old is None else _versions(old), *_versions(new))
        gc.freeze()  # the new version joins the permanent objects; the old one goes by refcount (no cycles
        # worth a full collection: measured, 40 objects a switch), so no pause and no copy-on-write

    def _online_store(self) -> OnlineStore:
        """The configured store; a remote one sits behind a breaker (the in-process one cannot be slow),
        with its item features cached in process."""
        store = create_store(self.settings.store_config())
        if self.settings.redis_url is None:
            return store
        guarded = BreakerStore(
            store,
            failures=self.settings.store_breaker_failures,
            probe_interval_s=self.settings.store_breaker_probe_s,
            on_change=self.metrics.observe_breaker,
        )
        return cached(guarded, self.settings.item_cache_ttl_s)

    def _open_tracker(self) -> None:
        s = self.settings
        try:
            sink = open_log(s)
        except Exception as exc:  # no impression log is no reason to refuse recommendations
            self.metrics.ab_log_failures.labels("open").inc()
            log.error("impression log unavailable, A/B logging off: %s", exc)
            return
        if sink is not None:
            self.tracker = Tracker(sink, self.metrics, s.attribution_window_s, s.impressions_queue)

    async def close(self) -> None:
        if self.shown is not None:
            await asyncio.to_thread(self.shown.close)
        if self.tracker is not None:
            await asyncio.to_thread(self.tracker.close)
        if self._resolver is not None:
            await self._resolver.aclose()
        if self.loaded is not None:
            await asyncio.to_thread(self.loaded.online.close)

    async def reload(self, *, force: bool = False) -> bool:
        """Rebuild the arms if the watched files changed (or `force`); swap atomically; True if swapped."""
        if self._resolver is None:
            return False
        s = self.settings
        async with self._reload_lock:
            mtimes = watched_files(s.experiments_file, s.prompts_dir)
            if not force and mtimes == self._mtimes:
                return False
            self._mtimes = mtimes
            try:
                arms = await asyncio.to_thread(self._resolver.resolve_file, s.experiments_file, s.prompts_dir)
            except ExperimentsError as exc:
                self.metrics.reloads.labels("error").inc()
                log.error("reload failed, keeping arms %s: %s", self.arms.version if self.arms else None, exc)
                if self.arms is None:
                    raise
                return False
            self.arms = arms  # one reference swap: running requests keep the ArmSet they read
            self.metrics.reloads.labels("ok").inc()
            log.info("arms %s from %s: %s", arms.version, arms.source, ", ".join(arms.names()))
            return True

    async def watch(self) -> None:
        """Background task: follow the artifacts pointer, poll the watched files, retry materializing the
        store while it was down."""
        await self._ready_event.wait()
        while True:
            await asyncio.sleep(self.settings.reload_interval_s)
            try:
                await self.rollout.check()
                await self.reload()
                await self._materialize_if_needed()
                await self.sync_items()  # the bound on seeing another worker's new items
            except Exception:  # the watcher must outlive any one failure
                log.exception("watcher iteration failed")

    async def _materialize_if_needed(self) -> None:
        ld = self.loaded
        if ld is None or ld.materialized:
            return
        try:
            await asyncio.to_thread(self._materialize, ld)
        except StoreUnavailable:
            return
        ld.materialized = True
        log.info("online store reachable: batch features materialized")

    def _materialize(self, ld: Loaded) -> None:
        ld.online.ping()
        ld.runtime.feature_store(ld.online, True, self.settings.users_as_of)

    # ---- health ----------------------------------------------------------------------------
    async def readiness(self) -> Health:
        checks: dict[str, Any] = {"artifacts": self.loaded is not None}
        if self.load_error:
            checks["error"] = self.load_error
        ld = self.loaded
        if ld is None:
            self.metrics.ready.set(0)
            return Health(status="unavailable", checks=checks)
        breaker = ld.online.inner if isinstance(ld.online, ItemCache) else ld.online
        if isinstance(breaker, BreakerStore):
            checks["store_breaker"] = breaker.snapshot()
        try:
            await asyncio.to_thread(ld.online.ping)  # fails at once while the breaker is open
            checks["online_store"] = ld.online.name
        except StoreUnavailable as exc:
            checks["online_store"] = f"unavailable: {exc}"
        if checks.get("online_store") == ld.online.name and not ld.materialized:
            await self._materialize_if_needed()
        checks["materialized"] = ld.materialized
        catalog = ld.pipeline.catalog
        checks["catalog"] = {"items": len(catalog), "added_at_run_time": catalog.version}
        checks["worker"] = os.getpid()  # which process answered (several share one port)
        checks["arms"] = self.arms.version if self.arms else None
        ok = checks.get("online_store") == ld.online.name and ld.materialized
        self.metrics.ready.set(1 if ok else 0)
        return Health(status="ok" if ok else "unavailable", checks=checks)

    def _require(self) -> tuple[Loaded, ArmSet]:
        if self.loaded is None or self.arms is None:
            raise NotReady(self.load_error or "artifacts are loading")
        return self.loaded, self.arms

    # ---- /recommend ------------------------------------------------------------------------
    def choose(self, req: RecommendRequest, arms: ArmSet) -> Assignment:
        if req.arm is not None:
            choice = arms.forced(req.arm)
            if choice is None:
                raise UnknownArm(f"unknown arm {req.arm!r}; known arms: {arms.names()}")
            return choice
        return arms.assign(req.user_id)

    async def recommend(self, req: RecommendRequest, request_id: str) -> dict[str, Any]:
        """The response body: a plain dict of RecommendResponse's shape (the route encodes it once)."""
        ld, arms = self._require()
        choice = self.choose(req, arms)
        arm = choice.arm
        if arm.uses_llm and self.admission.llm_saturated and self._resolver is not None:
            arm = self._resolver.shed(arm)  # the rules answer, with fallback_reason "overloaded"
        c = req.context
        if any(i not in ld.pipeline.catalog for i in c.session_items):
            await self.sync_items()  # an item another worker added just now
        ctx = Context(c.playlist_title, c.device, c.timestamp, tuple(c.session_items))
        if self.shown is not None and self.shown.queued(req.user_id):  # the user's previous answer
            await asyncio.to_thread(self.shown.flush)
        rec = await self._run(ld.pipeline, req.user_id, req.k, ctx, arm)
        if self.shown is not None and not rec.degraded:
            when = c.timestamp if c.timestamp is not None else time.time()
            self.shown.submit(req.user_id, tuple(it.item_id for it, _ in rec.items), when)
        self.metrics.observe_recommendation(
            experiment=choice.experiment,
            arm=rec.arm,
            forced=choice.forced,
            reranker=rec.reranker_used,
            fallback_reason=rec.fallback_reason,
            degraded=rec.degraded,
            timings_ms=rec.timings_ms,
            stats=rec.stats,
        )
        if self.tracker is not None:
            self.tracker.record(request_id, req.user_id, choice.experiment, choice.forced, rec)
        return response_body(rec, choice.experiment, request_id, ld.model_version, ld.ranker_version)

    async def _run(self, pipeline: Pipeline, user_id: int, k: int, ctx: Context, arm: Arm) -> Recommendation:
        with request_budget(self.settings.store_budget_ms / 1000.0):  # the request's store calls share it
            return await self._run_budgeted(pipeline, user_id, k, ctx, arm)

    async def _run_budgeted(
        self, pipeline: Pipeline, user_id: int, k: int, ctx: Context, arm: Arm
    ) -> Recommendation:
        if self.settings.cascade_execution == "thread" and not arm.uses_llm:
            # CPU-bound cascade and a loop-free re-ranker: a worker thread with its own loop.
            result: Recommendation = await asyncio.to_thread(
                _run_in_thread_loop, lambda: pipeline.recommend(user_id, k, ctx, arm)
            )
            return result
        return await pipeline.recommend(user_id, k, ctx, arm)

    # ---- /events ---------------------------------------------------------------------------
    async def ingest(self, events: Sequence[EventIn]) -> EventsAccepted:
        ld, _ = self._require()
        if any(e.item_id not in ld.pipeline.catalog for e in events):
            await self.sync_items()
        for i, e in enumerate(events):
            if e.item_id not in ld.pipeline.catalog:
                raise UnknownItem(e.item_id, i)
        now = time.time()
        evs = [
            Event(e.user_id, e.item_id, e.type, e.timestamp if e.timestamp is not None else now)
            for e in events
        ]
        if self.shown is not None and any(self.shown.queued(e.user_id) for e in evs):
            await asyncio.to_thread(self.shown.flush)  # a play clears what the answer showed: after it
        try:
            await asyncio.to_thread(ld.store.ingest, evs)
        except (StoreUnavailable, NotReplicated) as exc:  # not acknowledged: the client retries
            raise StoreDown(str(exc) or "online store unavailable") from exc
        except UnknownItemError as exc:  # an item removed between the check and the write
            raise UnknownItem(-1) from exc
        for ev in evs:
            self.metrics.events.labels(ev.type).inc()
        users = list(dict.fromkeys(e.user_id for e in evs))
        await asyncio.to_thread(self._refresh_sources, ld, users, now)
        if self.tracker is not None:
            await self.tracker.attribute(
                [EventRef(e.user_id, e.item_id, e.type, e.request_id, e.position) for e in events]
            )
        return EventsAccepted(stored=len(evs))

    @staticmethod
    def _refresh_sources(ld: Loaded, users: Sequence[int], now: float) -> None:
        """Recompute the item-item source the events changed, kept with each user for their next request."""
        for u in users:
            try:
                ld.pipeline.refresh_source(u, now)
            except Exception:  # the events are stored; the next request computes the source itself
                log.exception("keeping user %d's item-item source failed", u)

    # ---- /items ----------------------------------------------------------------------------
    async def item(self, item_id: int) -> Item:
        ld, _ = self._require()
        if item_id not in ld.pipeline.catalog:
            await self.sync_items()  # another worker may have added it since this one last looked
        if item_id not in ld.pipeline.catalog:
            raise UnknownItem(item_id)
        it = ld.pipeline.item_text(item_id)
        return Item(item_id=it.item_id, title=it.title, year=it.year, genres=list(it.genres))

    async def add_item(self, new: NewItem) -> Item:
        ld, _ = self._require()
        await self.sync_items()
        if new.item_id in ld.pipeline.catalog:
            raise ItemExists(f"item {new.item_id} already exists")
        entry = CatalogEntry(new.item_id, new.title, new.year, tuple(new.genres))
        try:
            claimed = await asyncio.to_thread(ld.runtime.publish_item, ld.store, entry)
        except StoreUnavailable as exc:
            raise StoreDown(str(exc) or "online store unavailable") from exc
        if not claimed:  # another worker claimed the id between the sync and the claim
            await self.sync_items()
            raise ItemExists(f"item {new.item_id} already exists")
        # In the loop thread on purpose: the catalog and index change between requests, never during one.
        ld.runtime.learn_item(entry)
        return await self.item(new.item_id)

    async def sync_items(self) -> int:
        """Learn the items other workers added (the shared catalog log); 0 while the store is down."""
        ld = self.loaded
        if ld is None:
            return 0
        async with self._catalog_lock:
            try:
                start, entries = await asyncio.to_thread(ld.runtime.pending_items, ld.online)
            except StoreUnavailable:
                return 0
            n = ld.runtime.learn_items(start, entries)  # on the loop thread, like add_item
        if n:
            log.info("learned %d item(s) added by other workers", n)
        return n
