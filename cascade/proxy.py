"""A loopback TCP proxy that holds every server reply for a settable delay (a slow, not dead, store)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from types import TracebackType

from cascade.ports import free_port


class DelayProxy:
    """127.0.0.1:<port> -> upstream; replies wait `delay_s` (changeable while running); runs in a thread."""

    def __init__(
        self, upstream_host: str = "127.0.0.1", upstream_port: int = 6379, delay_s: float = 0.0
    ) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.delay_s = delay_s
        self.port = free_port()
        self.connections = 0  # client connections accepted
        self.requests_bytes = 0  # bytes forwarded from clients to the upstream
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name="delay-proxy", daemon=True)
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> DelayProxy:
        self._thread.start()
        fut = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._handle, "127.0.0.1", self.port), self._loop
        )
        self._server = fut.result(timeout=10)
        return self

    def stop(self) -> None:
        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            for w in list(self._writers):
                w.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(timeout=10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        self._loop.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        try:
            with contextlib.suppress(asyncio.CancelledError):  # stop() cancels open connections
                await asyncio.gather(
                    self._pipe(reader, up_writer, delay=False), self._pipe(up_reader, writer, delay=True)
                )
        finally:
            for w in (writer, up_writer):
                self._writers.discard(w)
                w.close()

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, *, delay: bool) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while data := await src.read(65536):
                if delay and self.delay_s > 0:
                    await asyncio.sleep(self.delay_s)
                elif not delay:
                    self.requests_bytes += len(data)
                dst.write(data)
                await dst.drain()
        dst.close()

    def __enter__(self) -> DelayProxy:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
