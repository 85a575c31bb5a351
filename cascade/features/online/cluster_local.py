"""A throwaway 3-master Redis Cluster on loopback ports (tests and benchmarks), no persistence."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from types import TracebackType

from cascade.ports import free_port


class LocalCluster:
    """`redis-server --cluster-enabled yes` x `masters`, joined by `redis-cli --cluster create`."""

    def __init__(self, masters: int = 3) -> None:
        self.ports = [free_port() for _ in range(masters)]
        self.bus_ports = [free_port() for _ in range(masters)]  # explicit: port + 10000 may not exist
        self._dir = Path(tempfile.mkdtemp(prefix="care-cluster-"))
        self._procs: list[subprocess.Popen[bytes]] = []

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.ports[0]}"

    def start(self) -> LocalCluster:
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> LocalCluster:
        for port, bus in zip(self.ports, self.bus_ports, strict=True):
            d = self._dir / str(port)
            d.mkdir()
            cmd = [
                "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
                "--cluster-port", str(bus), "--cluster-config-file", "nodes.conf", "--dir", str(d),
                "--save", "", "--appendonly", "no",
            ]  # fmt: skip
            self._procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for port, proc in zip(self.ports, self._procs, strict=True):
            self._wait(partial(self._answers, port, "PONG", "ping"), f"redis on {port}", proc)
        nodes = [f"127.0.0.1:{p}" for p in self.ports]
        subprocess.run(
            ["redis-cli", "--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        for port in self.ports:
            self._wait(
                partial(self._answers, port, "cluster_state:ok", "cluster", "info"), "cluster_state:ok"
            )
        return self

    @classmethod
    def _answers(cls, port: int, expected: str, *args: str) -> bool:
        return expected in cls._cli(port, *args)

    @staticmethod
    def _cli(port: int, *args: str) -> str:
        r = subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True, text=True, timeout=10)
        return r.stdout.strip()

    @staticmethod
    def _wait(
        cond: Callable[[], bool],
        what: str,
        proc: subprocess.Popen[bytes] | None = None,
        limit_s: float = 60.0,
    ) -> None:
        end = time.monotonic() + limit_s
        while not cond():
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"local cluster: redis-server exited with {proc.returncode} ({what})")
            if time.monotonic() > end:
                raise RuntimeError(f"local cluster: no {what} after {limit_s}s")
            time.sleep(0.05)

    def stop(self) -> None:
        for p in self._procs:
            if p.poll() is None:
                p.terminate()
        for p in self._procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
