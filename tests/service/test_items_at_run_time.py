"""An item added through POST /items is first-class: played, liked, named in a session and recommended
around on every arm of prompts/experiments.yaml, on every store, with one worker and with two.

The LLM arms talk HTTP to a closed loopback port (no GPU here), so they answer through their rules
fallback: the cascade, the re-rank input and the fallback all see the new item.
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest
import redis
import yaml

from cascade.features.online.cluster_local import LocalCluster
from cascade.llm import PROMPTS_DIR
from service.process import ServerProcess
from tests.service.conftest import API_KEY, MakeClient, server_env

REDIS_DB = 12
AUTH = {"X-API-Key": API_KEY}
USER = 5


class Client(Protocol):
    def get(self, url: str, **kw: Any) -> httpx.Response: ...

    def post(self, url: str, **kw: Any) -> httpx.Response: ...


def repo_arms() -> list[str]:
    """Every arm name in the repository's experiments file (each once)."""
    doc = yaml.safe_load((PROMPTS_DIR / "experiments.yaml").read_text())
    names = [a["name"] for exp in doc["experiments"].values() for a in exp["arms"]]
    return list(dict.fromkeys(names))


@pytest.fixture
def repo_config(tmp_path: Path) -> Path:
    """The repository's prompts and experiments, as shipped."""
    d = tmp_path / "repo-prompts"
    shutil.copytree(PROMPTS_DIR, d)
    return d


def new_item(item_id: int) -> dict[str, Any]:
    return {
        "item_id": item_id,
        "title": f"Orbit of Echoes {item_id}",
        "year": 1998,
        "genres": ["Sci-Fi", "Action"],
    }


def exercise(c: Client, item_id: int, arms: list[str]) -> list[str]:
    """Add the item, play it, then recommend on every arm with and without it in the session;
    returns what went wrong (empty: nothing)."""
    bad: list[str] = []

    def check(r: httpx.Response, what: str, ok: int = 200) -> None:
        if r.status_code != ok:
            bad.append(f"{what}: {r.status_code} {r.text[:200]}")

    check(c.post("/items", json=new_item(item_id), headers=AUTH), "POST /items", 201)
    for kind in ("view", "play", "like"):
        ev = {"user_id": USER, "item_id": item_id, "type": kind}
        check(c.post("/events", json=ev, headers=AUTH), f"event {kind}")
    for arm in arms:
        for ctx in ({}, {"session_items": [item_id], "playlist_title": "space adventures"}):
            for user in (USER, 77):  # the player, and a user who only names it in the session
                body = {"user_id": user, "k": 10, "arm": arm, "context": ctx}
                check(c.post("/recommend", json=body), f"arm {arm} user {user} context {ctx}")
    return bad


def test_in_process_store_every_arm(make_client: MakeClient, repo_config: Path) -> None:
    c = make_client(
        experiments_file=repo_config / "experiments.yaml", prompts_dir=repo_config, api_key=API_KEY
    )
    arms = repo_arms()
    assert len(arms) >= 10
    assert exercise(c, 1700, arms) == []
    item = c.get("/items/1700").json()
    assert item["title"] == "Orbit of Echoes 1700" and item["genres"] == ["Sci-Fi", "Action"]
    assert c.get("/readyz").json()["checks"]["catalog"]["added_at_run_time"] == 1
    # the played item is not recommended back to the user who played it
    got = c.post("/recommend", json={"user_id": USER, "k": 50, "arm": "none"}).json()
    assert 1700 not in [it["item_id"] for it in got["items"]]


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    prefix = f"care-test-{uuid.uuid4().hex[:8]}:"
    yield prefix
    r = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
    keys = list(r.scan_iter(match=f"{prefix}*", count=1000))
    for i in range(0, len(keys), 500):
        r.delete(*keys[i : i + 500])


def _serve(artifacts: Path, config: Path, workers: int, **env: str) -> ServerProcess:
    base = server_env(artifacts, config, CARE_API_KEY=API_KEY, CARE_RELOAD_INTERVAL_S="0.5", **env)
    return ServerProcess(base, args=["--workers", str(workers)])


def _all_ready(server: ServerProcess, workers: int) -> None:
    end = time.monotonic() + 300
    while server.output().count("care ready on") < workers:
        assert time.monotonic() < end, "the workers never all became ready"
        time.sleep(0.2)


def _every_worker_knows(c: httpx.Client, added: int, workers: int, within_s: float) -> float:
    """Seconds until 20 readiness answers in a row, from every worker, count `added` items."""
    start = time.monotonic()
    streak: set[int] = set()
    answers = 0
    while answers < 20 or len(streak) < workers:
        assert time.monotonic() - start < within_s, f"a worker still lacks the item after {within_s} s"
        checks = c.get("/readyz").json()["checks"]
        if checks["catalog"]["added_at_run_time"] == added:
            streak.add(checks["worker"])
            answers += 1
        else:
            streak, answers = set(), 0
    return time.monotonic() - start


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_redis_every_arm_and_every_worker(
    artifacts: Path, repo_config: Path, redis_prefix: str, workers: int
) -> None:
    url = f"redis://127.0.0.1:6379/{REDIS_DB}"
    with _serve(
        artifacts, repo_config, workers, CARE_REDIS_URL=url, CARE_REDIS_PREFIX=redis_prefix
    ) as server:
        _all_ready(server, workers)
        with _client(server) as c:
            _check_across_workers(c, workers)


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_redis_cluster_every_arm_and_every_worker(
    artifacts: Path, repo_config: Path, redis_cluster: LocalCluster, workers: int
) -> None:
    env = {
        "CARE_REDIS_URL": redis_cluster.url,
        "CARE_REDIS_CLUSTER": "true",
        "CARE_REDIS_PREFIX": f"care-test-{uuid.uuid4().hex[:8]}:",
    }
    with _serve(artifacts, repo_config, workers, **env) as server:
        _all_ready(server, workers)
        with _client(server) as c:
            _check_across_workers(c, workers)


def _client(server: ServerProcess) -> httpx.Client:
    """A new connection per request: each one may reach any worker (a kept-alive one stays on one)."""
    return httpx.Client(base_url=server.url, timeout=30, limits=httpx.Limits(max_keepalive_connections=0))


def _check_across_workers(c: httpx.Client, workers: int) -> None:
    arms = repo_arms()
    bad: list[str] = []
    for n, item_id in enumerate((1700, 1701), start=1):
        # each step's request may reach either worker: the adding one, or one that must learn the item
        bad += exercise(c, item_id, arms)
        for _ in range(10):  # readable from every worker at once (a miss reads the shared catalog log)
            r = c.get(f"/items/{item_id}")
            if r.status_code != 200:
                bad.append(f"GET /items/{item_id}: {r.status_code}")
        # retrievable by every worker within the stated bound: the watcher's interval (0.5 s here)
        assert _every_worker_knows(c, n, workers, within_s=5.0) < 5.0
        again = c.post("/items", json=new_item(item_id), headers=AUTH)
        if again.status_code != 409:
            bad.append(f"second POST /items {item_id}: {again.status_code}")
    assert bad == [], bad[:5]
