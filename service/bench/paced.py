"""Paced (open-loop) HTTP load for the reliability benches and tests: Poisson arrivals, keep-alive.

Each of `connections` connections draws exponential gaps with mean connections / rate (wrk2's
per-connection pacing), so the offered rate does not drop when the server slows down. Latency counts
from the scheduled start: a request that waits behind its connection's previous one is charged for
the wait (no coordinated omission). Nothing is retried: a failed request is recorded as failed, and
the connection is reopened for the next one. Like urllib3, it never sends on a kept-alive connection
the server has closed (a worker that died) but opens a new one. A minimal HTTP/1.1 client on asyncio
streams keeps the driver's own CPU small on cores it shares with the server.
"""

from __future__ import annotations

import asyncio
import random
import select
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import orjson

N_USERS = 943
Request = tuple[str, bytes]  # (path, JSON body): every request is a POST
MakeRequest = Callable[[int], Request]


@dataclass
class Sample:
    """One request: when it was due and sent, how it ended, on which connection."""

    i: int  # the request's sequence number (what `make` was called with)
    due: float  # scheduled start, seconds since the run began
    sent: float  # when it was written
    done: float  # when it ended (answered or failed)
    path: str
    status: int  # 0: no HTTP answer (connection refused, reset, closed, timed out)
    conn: int  # connection slot
    port: int  # the client's local port (which server process holds the connection)
    body: dict[str, Any] | None = None
    error: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def latency_ms(self) -> float:
        return (self.done - self.due) * 1000.0


def recommend(i: int, arm: str | None = "rules") -> Request:
    """/recommend for user 1 + i mod 943, k 10, a playlist title."""
    body: dict[str, Any] = {
        "user_id": 1 + i % N_USERS,
        "k": 10,
        "context": {"playlist_title": "90s thrillers"},
    }
    if arm is not None:
        body["arm"] = arm
    return "/recommend", orjson.dumps(body)


def event(i: int) -> Request:
    """/events: a play of item 1 + i mod 1682 by user 1 + i mod 943."""
    return "/events", orjson.dumps({"user_id": 1 + i % N_USERS, "item_id": 1 + i % 1682, "type": "play"})


def mixed(events_every: int) -> MakeRequest:
    """Recommendations with one event in every `events_every` requests."""
    return lambda i: event(i) if i % events_every == events_every - 1 else recommend(i)


class _Conn:
    def __init__(self, host: str, port: int, timeout_s: float) -> None:
        self.host, self.port, self.timeout_s = host, port, timeout_s
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.local_port = 0

    async def _open(self) -> None:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), self.timeout_s)
        self.reader, self.writer = reader, writer
        self.local_port = int(writer.get_extra_info("sockname")[1])

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    def _dropped(self) -> bool:
        """An idle connection the kernel says is readable was closed by the server (urllib3's check): the
        event loop may not have seen the FIN yet, so `at_eof` alone would reuse a dead connection."""
        assert self.writer is not None
        sock = self.writer.get_extra_info("socket")
        return bool(select.select([sock.fileno()], [], [], 0)[0])

    async def post(self, path: str, body: bytes, keep_body: bool) -> tuple[int, dict[str, Any] | None]:
        if self.reader is None or self.reader.at_eof() or self._dropped():
            self.close()
            await self._open()
        assert self.reader is not None and self.writer is not None
        head = f"POST {path} HTTP/1.1\r\nhost: {self.host}\r\ncontent-type: application/json\r\n"
        self.writer.write(f"{head}content-length: {len(body)}\r\n\r\n".encode() + body)
        raw = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), self.timeout_s)
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        data = await asyncio.wait_for(self.reader.readexactly(length), self.timeout_s)
        return status, orjson.loads(data) if keep_body and data else None


@dataclass
class PacedLoad:
    """Paced load on `url` in a thread of its own, from `start` until `stop`; samples accumulate."""

    url: str
    rate: float  # requests per second, all connections together
    make: MakeRequest = recommend
    connections: int = 4
    keep_body: bool = True
    timeout_s: float = 10.0
    seed: int = 0
    samples: list[Sample] = field(default_factory=list)
    t0: float = 0.0  # time.monotonic() at the start; Sample times are relative to it

    def __post_init__(self) -> None:
        hostport = self.url.removeprefix("http://").rstrip("/")
        self._host, _, port = hostport.rpartition(":")
        self._port = int(port)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, name="paced-load", daemon=True)
        self._counter = 0

    def now(self) -> float:
        """Seconds since the load started (the clock of every Sample)."""
        return time.monotonic() - self.t0

    def start(self) -> Self:
        self.t0 = time.monotonic()
        self._thread.start()
        return self

    def stop(self) -> list[Sample]:
        self._stop.set()
        self._thread.join(timeout=self.timeout_s + 5)
        return self.samples

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _main(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        await asyncio.gather(*(self._connection(c) for c in range(self.connections)))

    async def _connection(self, slot: int) -> None:
        rng = random.Random(self.seed * 1000 + slot)
        conn = _Conn(self._host, self._port, self.timeout_s)
        mean_gap = self.connections / self.rate
        due = rng.expovariate(1.0 / mean_gap)
        try:
            while not self._stop.is_set():
                wait = due - self.now()
                if wait > 0:
                    await asyncio.sleep(min(wait, 0.2))
                    continue
                i = self._counter
                self._counter += 1
                path, body = self.make(i)
                sent = self.now()
                try:
                    status, data = await conn.post(path, body, self.keep_body)
                    sample = Sample(i, due, sent, self.now(), path, status, slot, conn.local_port, data)
                except (OSError, EOFError, TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
                    port = conn.local_port
                    conn.close()
                    sample = Sample(i, due, sent, self.now(), path, 0, slot, port, None, repr(exc))
                self.samples.append(sample)
                due += rng.expovariate(1.0 / mean_gap)
        finally:
            conn.close()


async def closed_loop(url: str, seconds: float, connections: int, make: MakeRequest = recommend) -> float:
    """Requests/s the server completes with `connections` back-to-back clients (its capacity)."""
    hostport = url.removeprefix("http://").rstrip("/")
    host, _, port = hostport.rpartition(":")
    done = 0
    end = time.monotonic() + seconds

    async def client(slot: int) -> None:
        nonlocal done
        conn = _Conn(host, int(port), 10.0)
        i = slot
        try:
            while time.monotonic() < end:
                status, _ = await conn.post(*make(i), keep_body=False)
                done += 200 <= status < 300
                i += connections
        finally:
            conn.close()

    t0 = time.monotonic()
    await asyncio.gather(*(client(c) for c in range(connections)))
    return done / (time.monotonic() - t0)


def capacity(url: str, seconds: float = 5.0, connections: int = 8, make: MakeRequest = recommend) -> float:
    """`closed_loop` from synchronous code."""
    return asyncio.run(closed_loop(url, seconds, connections, make))
