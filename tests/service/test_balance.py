"""Least-connections accept (service.balance): the rule, the accept queue's length, and two real workers."""

from __future__ import annotations

import socket
import time

from service.balance import NOT_SERVING, Slots, pending_connections
from service.bench.tail import worker_connections
from tests.service.conftest import TwoWorkers


def test_a_worker_takes_its_fair_share_then_leaves_the_rest() -> None:
    slots = Slots(2)
    slots.set(0, 0)
    slots.set(1, 0)
    assert slots.may_accept(0, pending=4)  # 0 of a fair 2
    slots.set(0, 2)
    assert not slots.may_accept(0, pending=2)  # holds its 2 of (2 + 0 + 2) / 2: the rest is the other's
    assert slots.may_accept(1, pending=2)
    slots.set(1, 2)
    assert slots.may_accept(0, pending=0)  # a tie: either may take the next one
    slots.set(0, 3)
    assert not slots.may_accept(0, pending=1)


def test_workers_not_serving_are_not_waited_for() -> None:
    slots = Slots(3)
    slots.set(0, 5)
    assert slots.get(1) == NOT_SERVING and slots.get(2) == NOT_SERVING  # loading, or dead
    assert slots.may_accept(0, pending=0)  # the only serving worker takes everything
    slots.set(1, 0)
    assert not slots.may_accept(0, pending=0) and slots.may_accept(1, pending=0)


def test_pending_connections_reads_the_accept_queue() -> None:
    with socket.create_server(("127.0.0.1", 0), backlog=16) as server:
        port = server.getsockname()[1]
        assert pending_connections(server) == 0
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
        try:
            deadline = time.monotonic() + 5.0
            while pending_connections(server) < 3 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert pending_connections(server) == 3
            conn, _ = server.accept()
            conn.close()
            assert pending_connections(server) == 2
        finally:
            for c in clients:
                c.close()


def _open_kept_alive(port: int, n: int) -> list[socket.socket]:
    """n connections opened at once (a client pool), then one request on each, answered and kept open."""
    socks = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(n)]
    for s in socks:
        s.sendall(b"GET /livez HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
    for s in socks:
        assert b" 200 " in s.recv(65536).split(b"\r\n", 1)[0]
    return socks


def test_two_workers_split_a_pool_of_connections_evenly(two_workers: TwoWorkers) -> None:
    server = two_workers.server
    assert server.proc is not None
    port = int(server.url.rsplit(":", 1)[1])
    socks = _open_kept_alive(port, 16)
    try:
        split = worker_connections(server.proc.pid, port)
        assert sum(split) == 16 and len(split) == 2, split
        assert max(split) - min(split) <= 2, split  # the kernel's wake-up order alone gave 2 against 14
    finally:
        for s in socks:
            s.close()
