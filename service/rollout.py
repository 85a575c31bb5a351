"""Model rollout inside a worker: when the artifacts pointer names another version, load it beside the one
serving, then swap both in one step between requests. No restart, no connection dropped.

The workers of one `care serve` take turns through a file lock, so one worker at a time spends CPU and
memory on loading while the others serve at full speed. A version that fails to load is logged, counted, and
not retried until the pointer moves again (an unreachable store only postpones the switch); the worker
keeps serving the version it has.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import time
from collections.abc import AsyncIterator
from typing import Protocol

from cascade.features.online import StoreUnavailable
from service.loaded import ArtifactsKey, Loaded, build
from service.metrics import Metrics, multiprocess_dir
from service.settings import Settings

log = logging.getLogger("care.service.rollout")
LOCK_POLL_S = 0.1
LOCK_FILE = ".care-rollout.lock"  # beside the workers' metrics files (the collector reads *.db only)


@contextlib.asynccontextmanager
async def host_turn() -> AsyncIterator[None]:
    """Hold the lock the workers of one `care serve` share (a file in their metrics folder), polled
    without blocking the event loop; a single worker has no one to take turns with."""
    folder = multiprocess_dir()
    if folder is None:
        yield
        return
    fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                await asyncio.sleep(LOCK_POLL_S)
        yield
    finally:
        os.close(fd)  # closing releases the lock


class Swappable(Protocol):
    """What a rollout needs of the service it follows (service.serving.CareService)."""

    settings: Settings
    metrics: Metrics
    loaded: Loaded | None

    async def swap(self, new: Loaded) -> None: ...


class Rollout:
    """Follows `settings.artifacts` for one CareService (called by its watcher every reload interval)."""

    def __init__(self, svc: Swappable) -> None:
        self.svc = svc
        self.failed: ArtifactsKey | None = None

    def pending(self) -> ArtifactsKey | None:
        """The pointer's version when it differs from the one serving (and did not fail to load)."""
        ld = self.svc.loaded
        if ld is None or not self.svc.settings.model_watch:
            return None
        key = ArtifactsKey.of(self.svc.settings.artifacts)
        return None if key is None or key in (ld.key, self.failed) else key

    async def check(self) -> bool:
        """Switch to the pointer's version if it changed; True if this worker switched."""
        if self.pending() is None:
            return False
        pointer = self.svc.settings.artifacts
        async with host_turn():
            key = self.pending()  # it may have moved on (or back) while this worker waited its turn
            old = self.svc.loaded
            if key is None or old is None:
                return False
            t0 = time.monotonic()
            try:
                new = await asyncio.to_thread(build, self.svc.settings, old.online, pointer, previous=old)
                await self.svc.swap(new)
            except StoreUnavailable as exc:  # transient: the next check tries again
                log.warning("switching to %s postponed: %s", key.folder, exc)
                return False
            except Exception:  # a bad version must not take the worker down: keep serving the old one
                self.failed = key
                self.svc.metrics.model_switches.labels("error").inc()
                log.exception("loading %s failed; still serving %s", key.folder, old.model_version)
                return False
            self.svc.metrics.model_switches.labels("ok").inc()
            log.info(
                "worker %d: model %s/%s -> %s/%s (%s) in %.3f s",
                os.getpid(),
                old.model_version,
                old.ranker_version,
                new.model_version,
                new.ranker_version,
                key.folder,
                time.monotonic() - t0,
            )
            return True
