"""Least-connections accept for the pre-forked workers: a worker takes a new connection only while no
other serving worker holds fewer.

Why: the workers share one listening socket, and the event loop accepts every pending connection each
time it wakes. The worker that happens to be idle when a client opens its pool takes most of it (measured:
2 against 14 of 16, and 21 against 43 of 64 keep-alive connections), then saturates while the other idles,
so a closed loop reaches about two thirds of the compute limit and paced load loses a third of its rate.
Each connection is kept alive for many requests, so balancing connections balances requests.

Each worker publishes its open connections in a slot of an array shared across the fork (-1: not
serving: loading, or dead). On a readable listening socket a worker accepts while it holds less than its
fair share of the open and pending connections (the accept queue's length, from TCP_INFO), or no more
than the least loaded other worker; then it stops watching the socket for a moment and leaves the rest
to the others. The fair share lets a burst be taken at once, without waiting for a worker that is busy.
A busy worker does not accept at all while it computes, so the idle one does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import socket
import struct
from collections.abc import Callable
from multiprocessing.sharedctypes import RawArray
from typing import Any

import uvicorn

log = logging.getLogger("care.balance")
NOT_SERVING = -1
RETRY_S = 0.002  # how long a worker with more connections leaves a pending one to the others


class Slots:
    """Open connections per worker slot, shared by the supervisor and its forked workers."""

    def __init__(self, n: int) -> None:
        self.counts: Any = RawArray("q", [NOT_SERVING] * n)  # created before the fork: shared memory
        self.n = n

    def set(self, slot: int, value: int) -> None:
        self.counts[slot] = value

    def get(self, slot: int) -> int:
        return int(self.counts[slot])

    def least_other(self, slot: int) -> int | None:
        """The fewest connections a serving worker other than `slot` holds; None when none serves."""
        others = [int(self.counts[i]) for i in range(self.n) if i != slot and self.counts[i] >= 0]
        return min(others) if others else None

    def may_accept(self, slot: int, pending: int) -> bool:
        """True while `slot` holds fewer than its fair share of the open and `pending` connections, or
        no more than the least loaded other worker."""
        least = self.least_other(slot)
        if least is None:
            return True
        others = [int(self.counts[i]) for i in range(self.n) if i != slot and self.counts[i] >= 0]
        mine = max(self.get(slot), 0)
        fair = math.ceil((mine + sum(others) + pending) / (len(others) + 1))
        return mine < fair or mine <= least


def pending_connections(sock: socket.socket) -> int:
    """Connections in a listening socket's accept queue (Linux: tcp_info.tcpi_unacked); 0 if unknown."""
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
        return int(struct.unpack_from("I", info, 24)[0])
    except (OSError, AttributeError, struct.error):
        return 0


class BalancedServer(uvicorn.Server):
    """uvicorn's server, accepting from the shared socket itself under the least-connections rule."""

    def __init__(self, config: uvicorn.Config, sock: socket.socket, slots: Slots, slot: int) -> None:
        super().__init__(config)
        self.sock, self.slots, self.slot = sock, slots, slot
        self._loop: asyncio.AbstractEventLoop | None = None
        self._watching = False
        self._open = 0

    def serve_balanced(self) -> None:
        self.run(sockets=[])  # uvicorn opens no listener of its own: _accept below feeds it

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=[])
        if not self.started:
            return
        self._loop = asyncio.get_running_loop()
        self._factory = self._protocol()  # once: every accepted connection gets its protocol from it
        self.sock.listen(self.config.backlog)  # bound, not yet listening: create_server would have done it
        self.sock.setblocking(False)
        self._publish()  # 0: serving from now on
        self._watch()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._unwatch()
        self.slots.set(self.slot, NOT_SERVING)
        await super().shutdown(sockets=[])

    def _publish(self) -> None:
        self.slots.set(self.slot, self._open)

    def _watch(self) -> None:
        if not self._watching and self._loop is not None and not self.should_exit:
            self._loop.add_reader(self.sock.fileno(), self._accept)
            self._watching = True

    def _unwatch(self) -> None:
        if self._watching and self._loop is not None:
            self._loop.remove_reader(self.sock.fileno())
            self._watching = False

    def _accept(self) -> None:
        """Accept while this worker holds no more connections than the least loaded other one."""
        assert self._loop is not None
        while True:
            if not self.slots.may_accept(self.slot, pending_connections(self.sock)):
                self._unwatch()  # level-triggered: watching on would spin while the other takes it
                self._loop.call_later(RETRY_S, self._watch)
                return
            try:
                conn, _ = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return  # none pending (or another worker took it)
            except OSError as exc:  # EMFILE and the like: keep serving what is open, try again later
                log.warning("accept failed: %s", exc)
                self._unwatch()
                self._loop.call_later(0.1, self._watch)
                return
            conn.setblocking(False)
            with contextlib.suppress(OSError):
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._open += 1
            self._publish()
            self._loop.create_task(self._serve_connection(conn))

    async def _serve_connection(self, conn: socket.socket) -> None:
        assert self._loop is not None
        try:
            await self._loop.connect_accepted_socket(self._factory, conn)
        except Exception:
            conn.close()
            self._closed()

    def _closed(self) -> None:
        self._open -= 1
        self._publish()

    def _protocol(self) -> Callable[[], asyncio.Protocol]:
        """uvicorn's HTTP protocol per connection (as its startup builds it), reporting each close."""
        config, state, app_state, on_close = self.config, self.server_state, self.lifespan.state, self._closed
        cls: Any = config.http_protocol_class

        def make() -> asyncio.Protocol:
            proto: asyncio.Protocol = cls(config=config, server_state=state, app_state=app_state)
            lost = proto.connection_lost

            def connection_lost(exc: Exception | None) -> None:
                try:
                    lost(exc)
                finally:
                    on_close()

            proto.connection_lost = connection_lost  # type: ignore[method-assign]
            return proto

        return make
