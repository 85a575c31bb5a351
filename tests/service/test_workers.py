"""`care serve --workers`: several processes over one Redis, metrics summed, reloads reach each worker."""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path

import httpx
import redis

from cascade.cores import usable_cores
from service.main import workers_for
from service.process import ServerProcess
from service.settings import Settings
from tests.service.conftest import server_env
from tests.service.test_reload import NEW_ARMS

REDIS_DB = 13


def test_in_process_store_stays_one_process_and_says_why() -> None:
    n, why = workers_for(4, Settings(redis_url=None))
    assert n == 1 and "in-process store" in why
    assert workers_for(3, Settings(redis_url="redis://127.0.0.1:6379/13"))[0] == 3
    assert workers_for(None, Settings(redis_url="redis://127.0.0.1:6379/13"))[0] == usable_cores()


def _metric(text: str, name: str) -> float:
    return sum(float(v) for v in re.findall(rf"^{name}(?:{{[^}}]*}})? ([0-9.e+]+)$", text, re.M))


def test_two_workers_share_metrics_and_each_reloads(artifacts: Path, config_dir: Path) -> None:
    prefix = f"care-test-{uuid.uuid4().hex[:8]}:"
    env = server_env(
        artifacts,
        config_dir,
        CARE_REDIS_URL=f"redis://127.0.0.1:6379/{REDIS_DB}",
        CARE_REDIS_PREFIX=prefix,
        CARE_RELOAD_INTERVAL_S="0.2",
    )
    try:
        with ServerProcess(env, args=["--workers", "2"]) as server, httpx.Client(base_url=server.url) as c:
            end = time.monotonic() + 300
            while server.output().count("care ready on") < 2 and time.monotonic() < end:
                time.sleep(0.2)
            pids = set(re.findall(r"care ready on \S+ worker=(\d+)", server.output()))
            assert len(pids) == 2
            for u in range(1, 41):
                assert c.post("/recommend", json={"user_id": u, "k": 5, "arm": "rules"}).status_code == 200
            text = c.get("/metrics").text
            assert _metric(text, "care_arm_assignments_total") == 40  # both workers' counts, summed
            assert _metric(text, "care_config_reloads_total") == 2  # one initial load per worker

            (config_dir / "experiments.yaml").write_text(NEW_ARMS)
            while _metric(c.get("/metrics").text, "care_config_reloads_total") < 4:
                assert time.monotonic() < end, "the workers never both reloaded"
                time.sleep(0.2)
            statuses = {
                c.post("/recommend", json={"user_id": 1, "arm": "rules-v2"}).status_code for _ in range(20)
            }
            assert statuses == {200}
    finally:
        r = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
        keys = list(r.scan_iter(match=f"{prefix}*", count=1000))
        for i in range(0, len(keys), 500):
            r.delete(*keys[i : i + 500])
