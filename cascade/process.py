"""A server subprocess on a free loopback port: started, awaited until it answers, stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx

from cascade.ports import free_port


class ManagedServer:
    """`argv(port)` in a subprocess on 127.0.0.1:<free port>, ready once GET `ready_path` answers 200.

    Output goes to a log file (kept after stop, for failure messages). `stop` sends `stop_signal`
    and kills the process if it has not exited after `stop_timeout_s`.
    """

    def __init__(
        self,
        argv: Callable[[int], list[str]],
        ready_path: str,
        *,
        env: Mapping[str, str] | None = None,
        start_timeout_s: float = 60.0,
        stop_signal: signal.Signals = signal.SIGTERM,
        stop_timeout_s: float = 10.0,
        name: str = "server",
    ) -> None:
        self.port = free_port()
        self.argv = argv(self.port)
        self.ready_path = ready_path
        self.env = {**os.environ, **(env or {})}
        self.start_timeout_s = start_timeout_s
        self.stop_signal, self.stop_timeout_s, self.name = stop_signal, stop_timeout_s, name
        self.proc: subprocess.Popen[bytes] | None = None
        self._log = tempfile.NamedTemporaryFile(prefix=f"care-{name}-", suffix=".log", delete=False)  # noqa: SIM115

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return Path(self._log.name)

    def output(self) -> str:
        """What the process wrote so far (stdout and stderr)."""
        return self.log_path.read_text(errors="replace")

    def start(self) -> Self:
        """Start, then block until `ready_path` answers 200; RuntimeError with the log tail otherwise."""
        self.proc = subprocess.Popen(self.argv, stdout=self._log, stderr=subprocess.STDOUT, env=self.env)
        end = time.monotonic() + self.start_timeout_s
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.proc.returncode}:\n{self.output()[-3000:]}"
                )
            try:
                if httpx.get(self.url + self.ready_path, timeout=2.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(
            f"{self.name} did not answer {self.ready_path} in {self.start_timeout_s}s:\n"
            + self.output()[-3000:]
        )

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def rss_kib(self) -> int:
        """Resident memory of the process (Linux /proc)."""
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def stop(self) -> None:
        """Stop the process (kill it if it does not exit in time) and close the log."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(self.stop_signal)
            try:
                self.proc.wait(timeout=self.stop_timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
