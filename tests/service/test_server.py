"""The real server (`care serve` in a subprocess): Redis-backed, Redis down, bounded load, SIGHUP reload."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import httpx
import pytest
import redis

from cascade.ports import free_port
from service.process import ServerProcess
from tests.service.conftest import API_KEY, EXPERIMENTS, server_env

REDIS_DB = 13


def _redis() -> redis.Redis[bytes]:
    client = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB, socket_timeout=1)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.fail("these tests need Redis at 127.0.0.1:6379 (make redis)")
    return client


def test_ready_line_and_curl_example(shared_server: ServerProcess) -> None:
    out = shared_server.output()
    assert f"care ready on http://127.0.0.1:{shared_server.port}" in out
    assert f"curl -s localhost:{shared_server.port}/recommend" in out


def test_redis_backed_server(artifacts: Path, config_dir: Path) -> None:
    r = _redis()
    prefix = f"care-test-{uuid.uuid4().hex[:8]}:"
    env = server_env(
        artifacts, config_dir, CARE_REDIS_URL=f"redis://127.0.0.1:6379/{REDIS_DB}", CARE_REDIS_PREFIX=prefix
    )
    try:
        with ServerProcess(env) as server, httpx.Client(base_url=server.url, timeout=10) as c:
            ready = c.get("/readyz").json()
            assert ready["checks"]["online_store"] == "redis" and ready["checks"]["materialized"] is True
            assert any(True for _ in r.scan_iter(match=f"{prefix}*", count=1000))
            first = c.post("/recommend", json={"user_id": 11, "k": 10, "arm": "none"}).json()
            top = first["items"][0]["item_id"]
            assert c.post("/events", json={"user_id": 11, "item_id": top, "type": "play"}).status_code == 200
            after = c.post("/recommend", json={"user_id": 11, "k": 10, "arm": "none"}).json()
            assert top not in [it["item_id"] for it in after["items"]] and after["degraded"] is False
    finally:
        keys = list(r.scan_iter(match=f"{prefix}*", count=1000))
        for i in range(0, len(keys), 500):
            r.delete(*keys[i : i + 500])


def test_redis_down_degrades(artifacts: Path, config_dir: Path) -> None:
    closed = free_port()  # nothing listens there
    env = server_env(artifacts, config_dir, CARE_REDIS_URL=f"redis://127.0.0.1:{closed}/0")
    with ServerProcess(env, wait_ready=False) as server, httpx.Client(base_url=server.url, timeout=10) as c:
        rec = None
        for _ in range(600):  # wait for the artifacts: recommend stops answering 503 "loading"
            rec = c.post("/recommend", json={"user_id": 1, "k": 5})
            if rec.status_code != 503:
                break
            time.sleep(0.1)
        assert rec is not None and rec.status_code == 200, rec.text if rec else None
        assert rec.json()["degraded"] is True and len(rec.json()["items"]) == 5
        ev = c.post("/events", json={"user_id": 1, "item_id": 1, "type": "play"})
        assert ev.status_code == 503 and ev.json()["detail"]
        assert (
            c.post("/items", json={"item_id": 30_000, "title": "X", "genres": ["Drama"]}).status_code == 503
        )
        ready = c.get("/readyz")
        assert ready.status_code == 503 and "unavailable" in ready.json()["checks"]["online_store"]
        assert c.get("/livez").status_code == 200


LOAD_CLIENT = textwrap.dedent(
    """
    import asyncio, json, sys, httpx
    url, n, conc = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    async def main():
        stats = {"ok": 0, "bad": {}}
        it = iter(range(n))
        async with httpx.AsyncClient(base_url=url, timeout=30) as c:
            async def worker():
                for i in it:
                    if i % 10 == 0:
                        body = {"user_id": i % 900 + 1, "item_id": i % 1600 + 1, "type": "view"}
                        r = await c.post("/events", json=body, headers={"X-API-Key": sys.argv[4]})
                    else:
                        ctx = {"playlist_title": "x" * (i % 50)}
                        body = {"user_id": i % 1200 + 1, "k": 1 + i % 20, "context": ctx}
                        r = await c.post("/recommend", json=body)
                    if r.status_code == 200:
                        stats["ok"] += 1
                    else:
                        stats["bad"][str(r.status_code)] = stats["bad"].get(str(r.status_code), 0) + 1
            await asyncio.gather(*(worker() for _ in range(conc)))
        print(json.dumps(stats))
    asyncio.run(main())
    """
)


def _load(url: str, n: int, conc: int = 8) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", LOAD_CLIENT, url, str(n), str(conc), API_KEY],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, object] = json.loads(out.stdout)
    return result


def test_bounded_load_no_errors_no_memory_growth(shared_server: ServerProcess) -> None:
    _load(shared_server.url, 100)  # warm up caches and allocator
    rss0 = shared_server.rss_kib()
    result = _load(shared_server.url, 300)
    rss1 = shared_server.rss_kib()
    assert result == {"ok": 300, "bad": {}}
    assert rss1 - rss0 < 40 * 1024, f"RSS grew {rss1 - rss0} KiB over 300 requests"


def test_sighup_reloads_experiments(artifacts: Path, config_dir: Path) -> None:
    env = server_env(artifacts, config_dir, CARE_RELOAD_INTERVAL_S="3600")  # only SIGHUP can reload
    with ServerProcess(env) as server, httpx.Client(base_url=server.url, timeout=10) as c:
        assert c.post("/recommend", json={"user_id": 1, "arm": "rules-v2"}).status_code == 422
        (config_dir / "experiments.yaml").write_text(
            EXPERIMENTS + "      - {name: rules-v2, weight: 0, reranker: rules}\n"
        )
        server.signal(signal.SIGHUP)
        status = 0
        for _ in range(300):
            status = c.post("/recommend", json={"user_id": 1, "arm": "rules-v2"}).status_code
            if status == 200:
                break
            time.sleep(0.05)
        assert status == 200
        assert c.get("/livez").status_code == 200  # SIGHUP did not stop the server
