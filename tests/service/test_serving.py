"""The /recommend body built without pydantic must be exactly what RecommendResponse describes."""

from __future__ import annotations

from typing import cast

import numpy as np
import orjson
import pytest

from cascade.pipeline import Recommendation
from cascade.types import FallbackReason, ItemText
from service.protocol import RecommendResponse
from service.responses import response_body


def _rec(reason: FallbackReason | None) -> Recommendation:
    items = [
        (
            ItemText(50, "Star Wars (1977)", 1977, ("Action", "Sci-Fi")),
            cast(float, np.float32(2.5)),
        ),  # the ranker scores in float32
        (ItemText(7, "Twelve Monkeys (1995)", 0, ()), -0.125),
    ]
    return Recommendation(
        items=items,
        arm="rules",
        reranker_used="rules",
        fallback_reason=reason,
        degraded=reason is not None,
        timings_ms={"retrieve": 1.23456, "total": 3.0},
        ranker_order=[50, 7],
        prompt_version=None,
    )


@pytest.mark.parametrize("reason", [None, FallbackReason.TIMEOUT])
def test_response_body_is_the_models_json(reason: FallbackReason | None) -> None:
    body = response_body(_rec(reason), "exp-1", "rid-9", "m1", "r1")
    wire = orjson.loads(orjson.dumps(body))
    model = RecommendResponse.model_validate(wire)  # the schema the OpenAPI document declares
    assert wire == model.model_dump(mode="json")
    assert [it["item_id"] for it in wire["items"]] == [50, 7]
    assert wire["items"][0]["score"] == 2.5 and wire["items"][0]["genres"] == ["Action", "Sci-Fi"]
    assert wire["timings_ms"] == {"retrieve": 1.235, "total": 3.0}
    assert wire["fallback_reason"] == (None if reason is None else reason.value)
    assert (wire["experiment"], wire["request_id"], wire["model_version"]) == ("exp-1", "rid-9", "m1")
