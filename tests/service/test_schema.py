"""schemathesis, every check it has, against the app's own OpenAPI schema on the real server.

Each operation gets positive (schema-valid) and negative (schema-invalid) cases: on a server with an
API key (calls with and without it) and on one without (writes open, and the schema says so). Every
response must be a documented status with a body matching its documented schema, schema-valid
requests must be accepted and invalid ones rejected, and a declared key must be enforced.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode, checks

from cascade.llm import PROMPTS_DIR
from service.process import ServerProcess
from tests.service.conftest import API_KEY, EXPERIMENTS, server_env

checks.load_all_checks()
CHECKS = list(checks.CHECKS.get_all())


@pytest.fixture(scope="module")
def open_server(artifacts: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A memory-backed server without an API key: writes are open."""
    d = tmp_path_factory.mktemp("open") / "prompts"
    shutil.copytree(PROMPTS_DIR, d)
    (d / "experiments.yaml").write_text(EXPERIMENTS)
    env = {**os.environ, **server_env(artifacts, d)}
    env.pop("CARE_API_KEY", None)
    env.pop("CARE_SETTINGS_FILE", None)
    with ServerProcess(env) as server:
        yield server


def test_all_checks_are_run() -> None:
    names = {c.__name__ for c in CHECKS}
    assert {"positive_data_acceptance", "negative_data_rejection", "ignored_auth", "use_after_free"} <= names


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize(
    "server, key", [("shared_server", API_KEY), ("shared_server", None), ("open_server", None)]
)
def test_api_conforms_to_its_schema(
    request: pytest.FixtureRequest, server: str, mode: GenerationMode, key: str | None
) -> None:
    srv: ServerProcess = request.getfixturevalue(server)
    schema = schemathesis.openapi.from_url(srv.url + "/openapi.json")
    headers = {"X-API-Key": key} if key else None
    n = 0
    for result in schema.get_all_operations():
        op = result.ok()
        if mode is GenerationMode.NEGATIVE and not (len(op.body) or len(op.path_parameters)):
            continue  # nothing to get wrong

        @given(case=op.as_strategy(generation_mode=mode))
        @settings(
            max_examples=100 if key else 25,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:
            # a generous read timeout: the first cold-start item embeds its title on loaded cores
            case.call_and_validate(headers=headers, checks=CHECKS, timeout=120)

        run()
        n += 1
    assert n >= (7 if mode is GenerationMode.POSITIVE else 4)  # every route that takes input


# disjoint id ranges for the stateful runs (they share a server); far above the catalog's ids
FRESH_IDS = {
    ("shared_server", API_KEY): 10_000_000,
    ("shared_server", None): 20_000_000,
    ("open_server", None): 30_000_000,
}


def test_the_schema_links_a_new_item_to_its_next_calls(shared_server: ServerProcess) -> None:
    doc = httpx.get(shared_server.url + "/openapi.json").json()
    links = doc["paths"]["/items"]["post"]["responses"]["201"]["links"]
    assert {"GetItem", "PlayItem", "RecommendAround"} <= set(links)
    ops = {o["operationId"] for p in doc["paths"].values() for o in p.values()}
    assert {link["operationId"] for link in links.values()} <= ops


@pytest.mark.parametrize(
    "server, key", [("shared_server", API_KEY), ("shared_server", None), ("open_server", None)]
)
def test_stateful_links_new_item_then_events_then_recommend(
    request: pytest.FixtureRequest, server: str, key: str | None
) -> None:
    """schemathesis' stateful phase: POST /items, then the links to GET /items, /events and /recommend,
    every check on every step (a new item played and recommended around must never answer 5xx)."""
    srv: ServerProcess = request.getfixturevalue(server)
    schema = schemathesis.openapi.from_url(srv.url + "/openapi.json")
    # schema-valid steps only: every call gets the key and a link's body, which would make a negative case
    # valid (the single-operation test above covers the negative ones)
    schema.config.generation.modes = [GenerationMode.POSITIVE]
    schema.config.phases.stateful.generation.modes = [GenerationMode.POSITIVE]
    base = schema.as_state_machine()
    steps: list[str] = []

    fresh = itertools.count(FRESH_IDS[server, key])

    class Machine(base):  # type: ignore[valid-type, misc]
        def before_call(self, case: schemathesis.Case) -> None:
            # a fresh id per POST /items: a replayed example must not meet its own earlier item (409),
            # or hypothesis sees the same draws lead elsewhere; ids the catalog has get their 409 in the
            # single-operation test
            if case.method == "POST" and case.path == "/items" and isinstance(case.body, dict):
                case.body["item_id"] = next(fresh)

        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"headers": {"X-API-Key": key} if key else {}, "timeout": 120}

        def validate_response(
            self, response: Any, case: schemathesis.Case, additional_checks: Any = None, **kwargs: Any
        ) -> None:
            steps.append(f"{case.method} {case.path} {response.status_code}")
            case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs)

    Machine.run(
        settings=settings(
            max_examples=40 if key else 15,
            stateful_step_count=6,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
    if key:  # with the key the writes succeed, so the links were followed from a created item
        assert any(s.startswith("POST /items 201") for s in steps)
        followed = {s.rsplit(" ", 1)[0] for s in steps}
        assert {"GET /items/{item_id}", "POST /events", "POST /recommend"} <= followed
