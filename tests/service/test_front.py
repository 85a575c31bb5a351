"""Request-level balancing (service.front): HAProxy's configuration, and a real HAProxy queueing requests
for two real workers over Redis: one client connection's requests reach both workers, a killed worker
or a killed HAProxy is replaced and requests go on."""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cascade.llm import PROMPTS_DIR
from service.bench.runs import redis_prefix
from service.bench.service import _wait_workers, child_pids
from service.front import config, find_binary
from service.process import ServerProcess
from tests.service.conftest import EXPERIMENTS, server_env

REDIS = "redis://127.0.0.1:6379/13"
BODY = b'{"user_id": 7, "k": 5, "arm": "rules"}'


def test_config_puts_every_worker_behind_the_inherited_socket_with_its_slots() -> None:
    text = config(9, [Path("/run/w0.sock"), Path("/run/w1.sock")], slots=2)
    assert "bind fd@9" in text and "balance leastconn" in text
    # a request to a worker that just died is retried on the other: only a request HAProxy holds whole
    # can be retried, and the dead worker is marked down by that first failure
    assert "retry-on conn-failure empty-response" in text and "option http-buffer-request" in text
    assert "observe layer4 error-limit 1 on-error mark-down" in text
    assert (
        "maxconn 2" in text
        and "server w0 unix@/run/w0.sock" in text
        and "server w1 unix@/run/w1.sock" in text
    )
    with pytest.raises(ValueError, match="at least 1"):
        config(9, [Path("/run/w0.sock")], slots=0)


def _workers_seen(port: int, n: int) -> list[str]:
    """X-Care-Worker of n /recommend requests sent one after another on one kept-alive connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    seen = []
    try:
        for _ in range(n):
            conn.request("POST", "/recommend", BODY, {"content-type": "application/json"})
            r = conn.getresponse()
            assert r.status == 200, r.read()
            r.read()
            seen.append(r.headers["x-care-worker"])
    finally:
        conn.close()
    return seen


@pytest.fixture(scope="module")
def prompts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("front") / "prompts"
    shutil.copytree(PROMPTS_DIR, d)
    (d / "experiments.yaml").write_text(EXPERIMENTS)
    return d


def _serve(artifacts: Path, prompts: Path, prefix: str, accept: str) -> ServerProcess:
    env = server_env(
        artifacts, prompts, CARE_REDIS_URL=REDIS, CARE_REDIS_PREFIX=prefix, CARE_IMPRESSIONS="off"
    )
    return ServerProcess(env, args=["--workers", "2", "--accept", accept])


@pytest.fixture(scope="module")
def queued(artifacts: Path, prompts: Path) -> Iterator[ServerProcess]:
    assert find_binary() is not None, "HAProxy is not installed: make front installs it"
    with redis_prefix(REDIS, "test-front") as prefix, _serve(artifacts, prompts, prefix, "queue") as server:
        _wait_workers(server, 2)
        yield server


def _port(server: ServerProcess) -> int:
    return int(server.url.rsplit(":", 1)[1])


def test_one_connections_requests_reach_both_workers(
    queued: ServerProcess, artifacts: Path, prompts: Path
) -> None:
    seen = _workers_seen(_port(queued), 20)
    assert len(set(seen)) == 2, seen  # with keep-alive pinned to a worker (balanced accept): one
    with (
        redis_prefix(REDIS, "test-front-pinned") as prefix,
        _serve(artifacts, prompts, prefix, "balanced") as pinned,
    ):
        _wait_workers(pinned, 2)
        assert len(set(_workers_seen(_port(pinned), 20))) == 1


def _pids(server: ServerProcess) -> tuple[list[int], int]:
    """The workers' pids and HAProxy's, children of the supervisor."""
    assert server.proc is not None
    workers, front = [], 0
    for pid in child_pids(server.proc.pid):
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        if b"haproxy" in cmd:
            front = pid
        else:
            workers.append(pid)
    return workers, front


def _wait_for(predicate: object, timeout_s: float = 30.0) -> None:
    assert callable(predicate)
    end = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.1)


def test_a_killed_worker_is_taken_out_of_the_queue_and_replaced(queued: ServerProcess) -> None:
    workers, _ = _pids(queued)
    assert len(workers) == 2
    assert len(set(_workers_seen(_port(queued), 20))) == 2  # HAProxy holds a kept-alive connection to each
    os.kill(workers[0], signal.SIGKILL)
    # every request right after the death is answered, by the live worker
    assert set(_workers_seen(_port(queued), 10)) == {str(workers[1])}
    _wait_for(lambda: len(set(_pids(queued)[0]) - set(workers)) == 1)  # the supervisor forked another
    replaced = set(_pids(queued)[0]) - set(workers)
    _wait_for(lambda: replaced <= {int(w) for w in _workers_seen(_port(queued), 4)})  # once loaded


def test_a_killed_haproxy_is_restarted_on_the_same_socket(queued: ServerProcess) -> None:
    _, front = _pids(queued)
    assert front
    os.kill(front, signal.SIGKILL)
    _wait_for(lambda: _pids(queued)[1] not in (0, front))
    _wait_for(lambda: len(_workers_seen(_port(queued), 1)) == 1)
    assert len(set(_workers_seen(_port(queued), 20))) == 2
