"""The OpenAPI document says what the running service accepts: arms, genres, and the key when set."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from cascade.data.dataset import GENRES
from tests.service.conftest import API_KEY, MakeClient
from tests.service.test_reload import NEW_ARMS

WRITES = (("/events", "post"), ("/items", "post"))


def _arm_enum(spec: dict[str, Any]) -> list[str]:
    arm = spec["components"]["schemas"]["RecommendRequest"]["properties"]["arm"]
    return next(b["enum"] for b in arm["anyOf"] if b.get("type") == "string")


def test_arms_and_genres_are_enumerated(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert _arm_enum(spec) == ["llm", "none", "rules"]
    genres = spec["components"]["schemas"]["NewItem"]["properties"]["genres"]
    assert genres["items"]["enum"] == list(GENRES) and genres["uniqueItems"] is True


def test_without_a_key_no_key_is_declared(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "securitySchemes" not in spec.get("components", {})
    for path, method in WRITES:
        op = spec["paths"][path][method]
        assert "security" not in op and "401" not in op["responses"]
    assert client.post("/events", json={"user_id": 1, "item_id": 1, "type": "view"}).status_code == 200


def test_with_a_key_it_is_declared_on_writes_and_required(make_client: MakeClient) -> None:
    client = make_client(api_key=API_KEY)
    spec = client.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["APIKeyHeader"]["name"] == "X-API-Key"
    for path, method in WRITES:
        op = spec["paths"][path][method]
        assert op["security"] == [{"APIKeyHeader": []}] and "401" in op["responses"]
    assert "security" not in spec["paths"]["/recommend"]["post"]
    assert client.post("/events", json={"user_id": 1, "item_id": 1, "type": "view"}).status_code == 401


def test_the_arm_enum_follows_a_reload(make_client: MakeClient, config_dir: Path) -> None:
    client = make_client(reload_interval_s=0.1)
    (config_dir / "experiments.yaml").write_text(NEW_ARMS)
    for _ in range(600):
        if "rules-v2" in _arm_enum(client.get("/openapi.json").json()):
            break
        time.sleep(0.05)
    assert _arm_enum(client.get("/openapi.json").json()) == ["llm", "none", "rules", "rules-v2"]
