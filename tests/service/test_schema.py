"""schemathesis against the app's own OpenAPI schema, on the real server: no 5xx, responses conform.

Each operation gets positive (schema-valid) and negative (schema-invalid) cases, with and without the
API key; every response must be a documented status with a body matching its documented schema.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode, checks

from service.process import ServerProcess
from tests.service.conftest import API_KEY

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("key", [API_KEY, None])
def test_api_conforms_to_its_schema(
    shared_server: ServerProcess, mode: GenerationMode, key: str | None
) -> None:
    schema = schemathesis.openapi.from_url(shared_server.url + "/openapi.json")
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
            case.call_and_validate(headers=headers, checks=CHECKS)

        run()
        n += 1
    assert n >= (7 if mode is GenerationMode.POSITIVE else 4)  # every route that takes input
