"""Fixtures: trained artifacts (the default ones, or trained once into a temp dir), the app, servers."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cascade.llm import PROMPTS_DIR
from cascade.ports import free_port
from service.app import create_app
from service.process import ServerProcess
from service.settings import Settings

# Arms for tests: the LLM arm talks HTTP to a closed loopback port, so it always takes the rules
# fallback fast and deterministically (the real llama.cpp peer is tested with the LLM stage).
EXPERIMENTS = """\
experiments:
  main:
    salt: test-salt
    arms:
      - {name: rules, weight: 50, reranker: rules}
      - {name: none, weight: 50, reranker: none}
      - {name: llm, weight: 0, reranker: llm, prompt: single_pass, timeout_ms: 100}
"""
API_KEY = "test-key-0123456789"


@pytest.fixture(scope="session")
def artifacts(trained_artifacts: Path) -> Path:
    return trained_artifacts


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """A prompts folder of this test's own: the repo's prompt files plus the test experiments."""
    d = tmp_path / "prompts"
    shutil.copytree(PROMPTS_DIR, d)
    (d / "experiments.yaml").write_text(EXPERIMENTS)
    return d


def settings_for(artifacts: Path, config_dir: Path, **kw: object) -> Settings:
    base: dict[str, object] = {
        "artifacts": artifacts,
        "experiments_file": config_dir / "experiments.yaml",
        "prompts_dir": config_dir,
        "llm": {"backend": {"kind": "http", "base_url": f"http://127.0.0.1:{free_port()}/v1"}},
        "redis_url": None,
        "impressions_path": config_dir.parent / "impressions.sqlite",
    }
    base.update(kw)
    return Settings(**base)  # type: ignore[arg-type]


def wait_ready(client: TestClient, tries: int = 1200) -> None:
    for _ in range(tries):
        r = client.get("/readyz")
        if r.status_code == 200:
            return
        if "error" in r.json()["checks"]:
            raise AssertionError(f"loading failed: {r.json()}")
        time.sleep(0.1)
    raise AssertionError(f"not ready: {client.get('/readyz').json()}")


MakeClient = Callable[..., TestClient]


@pytest.fixture
def make_client(artifacts: Path, config_dir: Path) -> Iterator[MakeClient]:
    """Builds a TestClient over the real app (lifespan on), ready, with settings overrides."""
    clients: list[TestClient] = []

    def make(ready: bool = True, **kw: object) -> TestClient:
        art = Path(str(kw.pop("artifacts"))) if "artifacts" in kw else artifacts
        app: FastAPI = create_app(settings_for(art, config_dir, **kw))
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        if ready:
            wait_ready(client)
        return client

    yield make
    for c in clients:
        c.__exit__(None, None, None)


@pytest.fixture
def client(make_client: MakeClient) -> TestClient:
    return make_client()


def server_env(artifacts: Path, config_dir: Path, **kw: str) -> dict[str, str]:
    env = {
        "CARE_ARTIFACTS": str(artifacts),
        "CARE_EXPERIMENTS_FILE": str(config_dir / "experiments.yaml"),
        "CARE_PROMPTS_DIR": str(config_dir),
        "CARE_LLM__BACKEND__KIND": "http",
        "CARE_LLM__BACKEND__BASE_URL": f"http://127.0.0.1:{free_port()}/v1",
        "CARE_REDIS_URL": "",
        "CARE_IMPRESSIONS_PATH": str(config_dir.parent / "impressions.sqlite"),
    }
    env.update(kw)
    return env


@pytest.fixture(scope="session")
def shared_server(artifacts: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One memory-backed `care serve` subprocess with an API key, shared by read-mostly tests."""
    d = tmp_path_factory.mktemp("shared") / "prompts"
    shutil.copytree(PROMPTS_DIR, d)
    (d / "experiments.yaml").write_text(EXPERIMENTS)
    env = server_env(artifacts, d, CARE_API_KEY=API_KEY)
    env.pop("CARE_SETTINGS_FILE", None)
    with ServerProcess({**os.environ, **env}) as server:
        yield server


@dataclass(frozen=True)
class TwoWorkers:
    """`care serve --workers 2` over Redis, reading its artifacts through a pointer (versions a, b)."""

    server: ServerProcess
    pointer: Path  # artifacts/current -> a; b: the same models with the ranker cut to half its trees
    metrics: Path  # PROMETHEUS_MULTIPROC_DIR


@pytest.fixture(scope="session")
def two_workers(artifacts: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoWorkers]:
    """One two-worker server for the rollout and worker-death tests (a start costs tens of seconds)."""
    from service.bench.rollout import versions_root
    from service.bench.runs import redis_prefix
    from service.bench.service import _wait_workers

    root = tmp_path_factory.mktemp("two-workers")
    (root / "metrics").mkdir()
    shutil.copytree(PROMPTS_DIR, root / "prompts")
    (root / "prompts" / "experiments.yaml").write_text(EXPERIMENTS)
    pointer = versions_root(root / "artifacts", artifacts)
    with redis_prefix("redis://127.0.0.1:6379/13", "test-2w") as prefix:
        env = server_env(
            pointer,
            root / "prompts",
            CARE_REDIS_URL="redis://127.0.0.1:6379/13",
            CARE_REDIS_PREFIX=prefix,
            CARE_RELOAD_INTERVAL_S="0.3",
            CARE_IMPRESSIONS="off",
            CARE_DISCOUNT__ENABLED="false",  # the rollout test compares each user's answers per version
            PROMETHEUS_MULTIPROC_DIR=str(root / "metrics"),
        )
        with ServerProcess(env, args=["--workers", "2"]) as server:
            _wait_workers(server, 2)
            yield TwoWorkers(server, pointer, root / "metrics")
