"""schemathesis, every check it has, against the app's own OpenAPI schema on the real server.

Each operation gets positive (schema-valid) and negative (schema-invalid) cases: on a server with an
API key (calls with and without it) and on one without (writes open, and the schema says so). Every
response must be a documented status with a body matching its documented schema, schema-valid
requests must be accepted and invalid ones rejected, and a declared key must be enforced.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

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
