"""Experiments reload while requests run: new requests see the new arms, none fails."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

from fastapi.testclient import TestClient

from tests.service.conftest import EXPERIMENTS, MakeClient

NEW_ARMS = EXPERIMENTS.replace(
    "      - {name: none, weight: 50, reranker: none}",
    "      - {name: none, weight: 50, reranker: none}\n      - {name: rules-v2, weight: 0, reranker: rules}",
)


def _poll_forced(client: TestClient, arm: str, want: int, tries: int = 300) -> int:
    status = 0
    for _ in range(tries):
        status = client.post("/recommend", json={"user_id": 1, "arm": arm}).status_code
        if status == want:
            return status
        time.sleep(0.05)
    return status


def test_file_change_swaps_arms_without_failing_requests(make_client: MakeClient, config_dir: Path) -> None:
    client = make_client(reload_interval_s=0.1)
    assert client.post("/recommend", json={"user_id": 1, "arm": "rules-v2"}).status_code == 422
    statuses: list[int] = []
    stop = threading.Event()

    def load() -> None:
        u = 0
        while not stop.is_set():
            u += 1
            statuses.append(client.post("/recommend", json={"user_id": u % 900 + 1, "k": 10}).status_code)

    workers = [threading.Thread(target=load) for _ in range(4)]
    for w in workers:
        w.start()
    try:
        (config_dir / "experiments.yaml").write_text(NEW_ARMS)
        assert _poll_forced(client, "rules-v2", 200) == 200
        # a broken file is refused: the arms in place keep serving
        (config_dir / "experiments.yaml").write_text("experiments: {main: {salt: s, arms: []}}\n")
        assert _poll_errors(client) >= 1
        assert client.post("/recommend", json={"user_id": 1, "arm": "rules-v2"}).status_code == 200
    finally:
        stop.set()
        for w in workers:
            w.join()
    assert statuses and set(statuses) == {200}


def _poll_errors(client: TestClient, tries: int = 300) -> float:
    for _ in range(tries):
        for line in client.get("/metrics").text.splitlines():
            if line.startswith('care_config_reloads_total{result="error"}'):
                return float(line.split()[-1])
        time.sleep(0.05)
    return 0.0


def test_prompt_change_is_picked_up(make_client: MakeClient, config_dir: Path) -> None:
    client = make_client(reload_interval_s=0.1)
    first = client.post("/recommend", json={"user_id": 1, "arm": "llm"}).json()["prompt_version"]
    path = config_dir / "single_pass.yaml"
    text = path.read_text()
    assert re.search(r"^version: .*$", text, flags=re.M)
    path.write_text(re.sub(r"^version: .*$", 'version: "reloaded"', text, count=1, flags=re.M))
    seen = first
    for _ in range(300):
        seen = client.post("/recommend", json={"user_id": 1, "arm": "llm"}).json()["prompt_version"]
        if seen != first:
            break
        time.sleep(0.05)
    assert first.startswith("single_pass@") and seen.startswith("single_pass@reloaded")
