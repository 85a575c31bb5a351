"""`care serve --workers N`: a pre-forking supervisor that keeps N workers alive on one listening socket.

The parent imports everything and loads the title encoder (MiniLM) once, then forks the workers, so
a worker that dies is replaced in well under a second instead of the ~8 s a fresh interpreter takes
to import torch and friends and load the encoder. Each worker loads its artifacts (0.2-1 s) and only
then starts accepting connections, so no request ever reaches a worker that is still loading; the
listening socket stays open in the parent and the other workers, so no connection is refused while a
worker is down. Only the requests the dead worker had accepted fail. Workers accept under the
least-connections rule of service.balance, so keep-alive connections spread evenly; or, with
accept "queue", HAProxy takes the socket and hands each request to a worker with a free slot
(service.front), each worker serving a Unix socket of its own.

When a worker exits (killed or not), the parent retires its Prometheus files (service.metrics), so
/metrics keeps the dead worker's counts and drops its live gauges.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Literal

import uvicorn

from service.balance import NOT_SERVING, BalancedServer, Slots
from service.front import BINARY as FRONT_BINARY
from service.front import Front, worker_socket

log = logging.getLogger("care.supervisor")
TICK_S = 0.05
STOP_TIMEOUT_S = 20.0
CRASH_WINDOW_S = 30.0
CRASH_LIMIT = 5  # this many deaths within the window: the parent gives up (a worker that cannot live)
_FORWARDED = (signal.SIGHUP,)  # to every worker: reload experiments and prompts in place
Accept = Literal["balanced", "shared", "queue"]


@dataclass
class Supervisor:
    """Forks `workers` children, each running `make_config()`'s uvicorn server on `sock`."""

    sock: socket.socket
    workers: int
    make_config: Callable[[], uvicorn.Config]  # called in the child, after the fork
    on_exit: Callable[[int], object] = lambda pid: None  # called in the parent for every child that ended
    on_tick: Callable[[], object] = lambda: None  # called in the parent about once a second
    # balanced: least-connections accept (service.balance); shared: the kernel's wake-up order;
    # queue: HAProxy in front queues requests for the workers (service.front)
    accept: Accept = "balanced"
    slots_per_worker: int = 1  # queue: requests a worker holds at once
    front_binary: str = FRONT_BINARY
    children: dict[int, float] = field(default_factory=dict)  # pid -> started (monotonic)
    slot_of: dict[int, int] = field(default_factory=dict)  # pid -> its slot in `slots`
    slots: Slots = field(init=False)
    _deaths: deque[float] = field(default_factory=deque)
    _signals: list[int] = field(default_factory=list)
    front: Front | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.slots = Slots(self.workers)  # before any fork: every worker shares it

    def run(self) -> int:
        """Supervise until SIGINT or SIGTERM; returns the exit status."""
        previous = {s: signal.signal(s, self._queue) for s in (signal.SIGINT, signal.SIGTERM, *_FORWARDED)}
        gc.collect()
        gc.freeze()  # what the parent loaded stays shared with the workers (the GC never touches it)
        if self.accept == "queue":  # the workers' sockets and HAProxy's configuration live in its folder
            folder = Path(tempfile.mkdtemp(prefix="care-front-"))
            fd = self.sock.fileno()
            self.front = Front(fd, folder, self.workers, self.slots_per_worker, self.front_binary)
        try:
            for slot in range(self.workers):
                self._fork(slot)
            if self.front is not None:
                self.front.start()
            status = self._loop()
        finally:
            if self.front is not None:
                self.front.stop()  # first: no request is handed to a worker that is stopping
            self._stop_all()
            for s, h in previous.items():
                signal.signal(s, h)
            if self.front is not None:
                shutil.rmtree(self.front.folder, ignore_errors=True)
        return status

    def _queue(self, signum: int, frame: FrameType | None) -> None:
        self._signals.append(signum)

    def _loop(self) -> int:
        next_tick = time.monotonic() + 1.0
        while True:
            if time.monotonic() >= next_tick:
                next_tick = time.monotonic() + 1.0
                try:
                    self.on_tick()
                except Exception:  # as for on_exit: never the supervisor's end
                    log.exception("supervisor: periodic task failed")
            if self.front is not None:
                self.front.keep_alive()
            while self._signals:
                sig = self._signals.pop(0)
                if sig in (signal.SIGINT, signal.SIGTERM):
                    name = signal.Signals(sig).name
                    log.info("supervisor: %s, stopping %d worker(s)", name, len(self.children))
                    return 0
                for pid in self.children:
                    _signal(pid, sig)
            for pid, status in self._reap():
                slot = self._died(pid, status)
                if self._crash_looping():
                    log.error("supervisor: %d deaths in %.0f s: giving up", CRASH_LIMIT, CRASH_WINDOW_S)
                    return 1
                self._fork(slot)
            time.sleep(TICK_S)

    def _reap(self) -> list[tuple[int, int]]:
        out = []
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            if pid in self.children:
                out.append((pid, status))
        return out

    def _died(self, pid: int, status: int) -> int:
        """Logs and counts a death; returns the dead worker's slot (no longer serving)."""
        started = self.children.pop(pid)
        slot = self.slot_of.pop(pid)
        self.slots.set(slot, NOT_SERVING)
        how = (
            f"signal {signal.Signals(os.WTERMSIG(status)).name}"
            if os.WIFSIGNALED(status)
            else f"exit {os.WEXITSTATUS(status)}"
        )
        alive = time.monotonic() - started
        log.warning("supervisor: worker %d ended (%s) after %.1f s; starting another", pid, how, alive)
        self._on_exit(pid)
        now = time.monotonic()
        self._deaths.append(now)
        while self._deaths and now - self._deaths[0] > CRASH_WINDOW_S:
            self._deaths.popleft()
        return slot

    def _crash_looping(self) -> bool:
        return len(self._deaths) >= CRASH_LIMIT

    def _fork(self, slot: int) -> None:
        pid = os.fork()
        if pid == 0:  # the worker: never returns into the supervisor's code
            code = 1
            try:
                for s in (signal.SIGINT, signal.SIGTERM, *_FORWARDED):
                    signal.signal(s, signal.SIG_DFL)
                config = self.make_config()  # the frozen, shared objects stay frozen: no copy-on-write
                if self.front is not None:
                    own = _unix_socket(worker_socket(self.front.folder, slot))
                    self.sock.close()  # the front's: this worker serves its own socket only
                    uvicorn.Server(config).run(sockets=[own])  # listens once the artifacts are loaded
                elif self.accept == "balanced":
                    BalancedServer(config, self.sock, self.slots, slot).serve_balanced()
                else:
                    uvicorn.Server(config).run(sockets=[self.sock])
                code = 0
            except KeyboardInterrupt:
                code = 0
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        self.children[pid] = time.monotonic()
        self.slot_of[pid] = slot

    def _stop_all(self) -> None:
        for pid in self.children:
            _signal(pid, signal.SIGTERM)
        end = time.monotonic() + STOP_TIMEOUT_S
        while self.children and time.monotonic() < end:
            for pid, _ in self._reap():
                self.children.pop(pid, None)
                self.slot_of.pop(pid, None)
                self._on_exit(pid)
            time.sleep(TICK_S)
        for pid in list(self.children):
            _signal(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            self.children.pop(pid)
            self.slot_of.pop(pid, None)
            self._on_exit(pid)

    def _on_exit(self, pid: int) -> None:
        try:
            self.on_exit(pid)
        except Exception:  # bookkeeping must never take the supervisor (and every worker) down
            log.exception("supervisor: cleaning up after worker %d failed", pid)


def _unix_socket(path: Path) -> socket.socket:
    """A bound, not yet listening Unix socket at `path` (a dead worker's left-over file replaced)."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    return sock


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
