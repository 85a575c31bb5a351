"""The OpenAPI document as the running service really behaves (rebuilt when the arms or the catalog change).

FastAPI's document is static: it declares the X-API-Key header on writes whether or not a key is
configured, and it cannot know which arm names or genres the loaded configuration accepts. Here the
arm field enumerates the loaded arms, the genres enumerate the known genres, and the key is declared
(and required) exactly when CARE_API_KEY is set.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from cascade.data.dataset import GENRES
from service.serving import CareService


def _string_branch(prop: dict[str, Any]) -> dict[str, Any]:
    """The string schema inside an optional field (anyOf [string, null]) or the field itself."""
    for branch in prop.get("anyOf", []):
        if branch.get("type") == "string":
            return dict(branch)
    return prop


def _truthful(doc: dict[str, Any], svc: CareService) -> dict[str, Any]:
    schemas = doc.get("components", {}).get("schemas", {})
    if svc.arms is not None and "RecommendRequest" in schemas:
        arm = schemas["RecommendRequest"]["properties"]["arm"]
        enum = {**_string_branch(arm), "enum": svc.arms.names()}
        if "anyOf" in arm:
            arm["anyOf"] = [enum, {"type": "null"}]
        else:
            arm.update(enum)
    if "NewItem" in schemas:
        schemas["NewItem"]["properties"]["genres"]["items"] = {"type": "string", "enum": list(GENRES)}
        schemas["NewItem"]["properties"]["genres"]["uniqueItems"] = True
    if svc.settings.api_key is None:  # writes are open: no key to declare
        for ops in doc.get("paths", {}).values():
            for op in ops.values():
                op.pop("security", None)
                op.get("responses", {}).pop("401", None)
        doc.get("components", {}).pop("securitySchemes", None)
    return doc


def install(app: FastAPI) -> None:
    """Replace app.openapi with the truthful document, rebuilt when the arms change (reloads)."""
    cache: dict[str | None, dict[str, Any]] = {}

    def openapi() -> dict[str, Any]:
        svc: CareService = app.state.service
        key = svc.arms.version if svc.arms else None
        if key not in cache:
            cache.clear()
            doc = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
            )
            cache[key] = _truthful(doc, svc)
        return cache[key]

    app.openapi = openapi  # type: ignore[method-assign]
