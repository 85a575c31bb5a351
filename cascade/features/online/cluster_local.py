"""A throwaway Redis Cluster on loopback ports (tests and benchmarks), no persistence; 3 masters by
default, optionally with replicas (failover tests: a node killed, then started again)."""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from types import TracebackType

from cascade.ports import free_port


class LocalCluster:
    """`redis-server --cluster-enabled yes` per node (masters x (1 + replicas)), joined by `redis-cli`."""

    def __init__(self, masters: int = 3, replicas: int = 0, node_timeout_ms: int = 15_000) -> None:
        nodes = masters * (1 + replicas)
        self.replicas, self.node_timeout_ms = replicas, node_timeout_ms
        self.ports = [free_port() for _ in range(nodes)]
        self.bus_ports = [free_port() for _ in range(nodes)]  # explicit: port + 10000 may not exist
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
        for port in self.ports:
            (self._dir / str(port)).mkdir()
            self._procs.append(self._spawn(port))
        for port, proc in zip(self.ports, self._procs, strict=True):
            self._wait(partial(self._answers, port, "PONG", "ping"), f"redis on {port}", proc)
        nodes = [f"127.0.0.1:{p}" for p in self.ports]
        subprocess.run(
            ["redis-cli", "--cluster", "create", *nodes, "--cluster-replicas", str(self.replicas),
             "--cluster-yes"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        for port in self.ports:
            self._wait(
                partial(self._answers, port, "cluster_state:ok", "cluster", "info"), "cluster_state:ok"
            )
            if "role:slave" in self._cli(port, "info", "replication"):  # a replica: in sync first
                self._wait(partial(self._answers, port, "master_link_status:up", "info"), "replica sync")
        return self

    def _spawn(self, port: int) -> subprocess.Popen[bytes]:
        bus = self.bus_ports[self.ports.index(port)]
        cmd = [
            "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
            "--cluster-port", str(bus), "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", str(self.node_timeout_ms), "--dir", str(self._dir / str(port)),
            "--save", "", "--appendonly", "no",
        ]  # fmt: skip
        return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def kill(self, port: int, sig: int = signal.SIGKILL) -> None:
        """Signal one node (SIGKILL: gone at once, as a crashed host; SIGSTOP/SIGCONT: frozen, resumed)."""
        self._procs[self.ports.index(port)].send_signal(sig)

    def restart(self, port: int) -> None:
        """Start a killed node again on its port and folder: it rejoins (a former master as a replica)."""
        i = self.ports.index(port)
        self._procs[i].wait(timeout=10)
        self._procs[i] = self._spawn(port)
        self._wait(partial(self._answers, port, "PONG", "ping"), f"redis on {port}", self._procs[i])

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
                p.send_signal(signal.SIGCONT)  # a node left frozen by a test must still hear SIGTERM
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
