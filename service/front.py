"""Request-level balancing for the pre-forked workers: HAProxy holds the clients' connections on the
public socket and hands each request to a worker with a free slot, queueing it until one frees.

Why: with keep-alive, a connection's requests all go to the worker that accepted it, so even a perfect
split of connections (service.balance) leaves one queue per worker, and a request waits behind its own
worker's while the other idles. Queueing theory puts the p99 of Poisson arrivals at half load at about
4.7 service times with a queue per worker and 2.8 with one shared queue (service.bench.tail.queue_p99).
HAProxy's `leastconn` with `maxconn` per server is that shared queue, in C, at a few tens of microseconds
a request; it is what a load balancer in front of the pod would do, moved next to the workers.

Each worker serves a Unix socket of its own and listens on it only once its artifacts are loaded, so
HAProxy's connect check marks a loading or dead worker down and never sends it a request. HAProxy takes
the public socket from the supervisor by file descriptor: the socket stays open in the supervisor while
HAProxy restarts, so no connection is refused.

`slots` is how many requests a worker holds at once. One suits the CPU-bound cascade and rules arms;
arms that wait on a remote LLM leave the worker idle for the wait, so raise it there.
"""

from __future__ import annotations

import logging
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("care.front")
BINARY = "haproxy"
SOCKET = "worker-{slot}.sock"
QUEUE_TIMEOUT_S = 30  # a request still queued after this gets a 503 from HAProxy
SERVER_TIMEOUT_S = 120  # well past any arm's deadline: the service answers within its own budget
RESTART_AFTER_S = 1.0  # a HAProxy that exits is restarted at most this often
# each worker's connect check, and passive observation of the requests sent to it (see config)
CHECKS = (
    "check inter 1s fastinter 100ms downinter 100ms rise 1 fall 1 "
    "observe layer4 error-limit 1 on-error mark-down"
)


def find_binary() -> str | None:
    """HAProxy's path, or None when it is not installed (`make front` installs it)."""
    return shutil.which(BINARY)


def worker_socket(folder: Path, slot: int) -> Path:
    return folder / SOCKET.format(slot=slot)


def config(listen_fd: int, sockets: Sequence[Path], slots: int) -> str:
    """HAProxy's configuration: the inherited public socket in front, one server per worker socket."""
    if slots < 1:
        raise ValueError(f"slots must be at least 1, not {slots}")
    servers = "\n".join(f"  server w{i} unix@{path}" for i, path in enumerate(sockets))
    return f"""global
  nbthread 1

defaults
  mode http
  option http-keep-alive
  # forward each message at once: without it one request at a time cost about 1 ms more end to end
  option http-no-delay
  timeout connect 1s
  timeout client {SERVER_TIMEOUT_S}s
  timeout server {SERVER_TIMEOUT_S}s
  timeout http-keep-alive {SERVER_TIMEOUT_S}s
  timeout queue {QUEUE_TIMEOUT_S}s
  retries 3
  option redispatch 1
  # a worker that died leaves HAProxy a kept-alive connection to it that answers nothing: a request
  # sent there is retried on another worker. Only /recommend (a read) is retried so; writes are not,
  # as the dead worker may have applied them before it died
  retry-on conn-failure empty-response
  # a request is retried only if HAProxy held all of it before sending it: without this, a POST whose
  # body it had not parsed yet went out unretryable (a 502, or the client's connection closed)
  option http-buffer-request

frontend care
  bind fd@{listen_fd}
  http-request disable-l7-retry unless {{ path_beg /recommend }}
  default_backend workers

backend workers
  balance leastconn
  http-reuse always
  # a dead worker is marked down by the first request that fails to reach it, not by the next check
  # only, so that the retry goes to another worker
  default-server maxconn {slots} {CHECKS}
{servers}
"""


@dataclass
class Front:
    """One HAProxy process over `listen_fd` and the workers' sockets in `folder`; restarted if it dies."""

    listen_fd: int
    folder: Path
    workers: int
    slots: int = 1
    binary: str = BINARY
    proc: subprocess.Popen[bytes] | None = field(default=None, init=False)
    started: float = field(default=0.0, init=False)

    def start(self) -> None:
        path = self.folder / "haproxy.cfg"
        sockets = [worker_socket(self.folder, s) for s in range(self.workers)]
        path.write_text(config(self.listen_fd, sockets, self.slots))
        # -db: stay in the foreground, a child the supervisor watches
        self.proc = subprocess.Popen([self.binary, "-db", "-f", str(path)], pass_fds=(self.listen_fd,))
        self.started = time.monotonic()
        log.info("front: haproxy %d queues requests for %d worker(s), %d slot(s) each",
                 self.proc.pid, self.workers, self.slots)  # fmt: skip

    def keep_alive(self) -> bool:
        """Restart HAProxy if it has exited; True if it had to be restarted."""
        if self.proc is None or self.proc.poll() is None:
            return False
        if time.monotonic() - self.started < RESTART_AFTER_S:
            return False
        log.warning("front: haproxy ended (exit %s); starting another", self.proc.returncode)
        self.start()
        return True

    def stop(self, timeout_s: float = 5.0) -> None:
        """Soft stop (SIGUSR1: requests in flight finish, idle connections close), then a hard one."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGUSR1)
        end = time.monotonic() + timeout_s
        while self.proc.poll() is None and time.monotonic() < end:
            time.sleep(0.02)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
