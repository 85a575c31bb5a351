"""What the routes map to HTTP: the service's exceptions, and the /recommend body as a plain dict."""

from __future__ import annotations

from typing import Any

from cascade.pipeline import Recommendation


class NotReady(Exception):
    """Artifacts are not loaded yet (or failed to load): 503."""


class StoreDown(Exception):
    """The online store did not answer: 503 for writes."""


class UnknownArm(Exception):
    """A forced arm that no experiment defines: 422."""


class UnknownItem(Exception):
    """A request names an item the catalog lacks: 422 (events) or 404 (GET)."""

    def __init__(self, item_id: int, index: int | None = None) -> None:
        super().__init__(f"unknown item id {item_id}")
        self.item_id, self.index = item_id, index


class ItemExists(Exception):
    """POST /items for an id the catalog has: 409."""


def response_body(
    rec: Recommendation, experiment: str | None, request_id: str, model_version: str, ranker_version: str
) -> dict[str, Any]:
    """RecommendResponse as a plain dict: building and dumping the pydantic model cost more per request than
    the route's one JSON encoding (the route validates it against the model in the "fastapi" encoder mode)."""
    return {
        "items": [
            {
                "item_id": it.item_id,
                "title": it.title,
                "year": it.year,
                "genres": list(it.genres),
                "score": float(s),
            }
            for it, s in rec.items
        ],
        "arm": rec.arm,
        "experiment": experiment,
        "reranker_used": rec.reranker_used,
        "fallback_reason": rec.fallback_reason,
        "degraded": rec.degraded,
        "timings_ms": {k: round(v, 3) for k, v in rec.timings_ms.items()},
        "model_version": model_version,
        "ranker_version": ranker_version,
        "prompt_version": rec.prompt_version,
        "request_id": request_id,
    }
