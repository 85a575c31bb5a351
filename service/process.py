"""Run `care serve` in a subprocess on a free loopback port (tests and `care bench service`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

import httpx

from cascade.ports import free_port


class ServerProcess:
    """`python -m service serve` on 127.0.0.1:<free port>, with CARE_* settings from `env`."""

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        start_timeout_s: float = 180.0,
        wait_ready: bool = True,
        args: Sequence[str] = (),
    ) -> None:
        self.wait_ready, self.args = wait_ready, list(args)
        self.port = free_port()
        self.env = {**os.environ, **(env or {})}
        self.start_timeout_s = start_timeout_s
        self.proc: subprocess.Popen[bytes] | None = None
        self._log = tempfile.NamedTemporaryFile(prefix="care-serve-", suffix=".log", delete=False)  # noqa: SIM115

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return Path(self._log.name)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def start(self) -> ServerProcess:
        """Start, then wait until /livez answers (and /readyz says 200 when `wait_ready`)."""
        cmd = [
            sys.executable,
            "-m",
            "service.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            *self.args,
        ]
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=self.env)
        path = "/readyz" if self.wait_ready else "/livez"
        end = time.monotonic() + self.start_timeout_s
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"care serve exited with {self.proc.returncode}:\n{self.output()[-3000:]}")
            try:
                if httpx.get(self.url + path, timeout=2.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(
            f"care serve did not answer {path} in {self.start_timeout_s}s:\n{self.output()[-3000:]}"
        )

    def rss_kib(self) -> int:
        """Resident memory of the server process (Linux /proc)."""
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
