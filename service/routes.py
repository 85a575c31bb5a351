"""HTTP routes: thin functions that validate, call the handler on app.state, and map its errors."""

from __future__ import annotations

import asyncio
import hmac
import re
import uuid
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from service.metrics import collect_all, multiprocess_dir
from service.protocol import (
    MAX_ID,
    Error,
    EventBatch,
    EventIn,
    EventsAccepted,
    Health,
    Item,
    NewItem,
    RecommendRequest,
    RecommendResponse,
)
from service.responses import ItemExists, NotReady, StoreDown, UnknownArm, UnknownItem
from service.serving import CareService

router = APIRouter()

_api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="Required when CARE_API_KEY is set."
)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def service_of(request: Request) -> CareService:
    """The handler built in the lifespan."""
    svc: CareService = request.app.state.service
    return svc


# Dependencies are `async def`: FastAPI runs a plain `def` dependency in a thread pool, a thread hop
# per request for a few attribute reads.
async def get_service(request: Request) -> CareService:
    return service_of(request)


Service = Annotated[CareService, Depends(get_service)]


async def require_api_key(svc: Service, key: Annotated[str | None, Security(_api_key_header)]) -> None:
    """401 unless the X-API-Key header matches CARE_API_KEY (when one is configured)."""
    expected = svc.settings.api_key
    if expected is None:
        return
    if key is None or not hmac.compare_digest(key.encode(), expected.get_secret_value().encode()):
        raise HTTPException(401, "missing or wrong X-API-Key", headers={"WWW-Authenticate": "ApiKey"})


ApiKey = Annotated[None, Depends(require_api_key)]


def request_id(x_request_id: str | None) -> str:
    """The caller's X-Request-ID when it is well-formed, else a fresh one."""
    if x_request_id is not None and _REQUEST_ID.match(x_request_id):
        return x_request_id
    return uuid.uuid4().hex


def _err(description: str) -> dict[str, Any]:
    return {"model": Error, "description": description}


NOT_READY: dict[int | str, dict[str, Any]] = {503: _err("Not loaded yet, or the store is down (writes).")}
COMMON: dict[int | str, dict[str, Any]] = {
    413: _err("Request body too large."),
    429: _err("Too many requests in flight; retry after the Retry-After seconds."),
    **NOT_READY,
}
BODY: dict[int | str, dict[str, Any]] = {400: _err("The body could not be decoded."), **COMMON}
WRITE: dict[int | str, dict[str, Any]] = {401: _err("Missing or wrong API key."), **BODY}


# OpenAPI links: what a client (and schemathesis' stateful phase) does next with a new item or an event.
ITEM_LINKS: dict[str, Any] = {
    "GetItem": {"operationId": "get_item", "parameters": {"item_id": "$response.body#/item_id"}},
    "PlayItem": {
        "operationId": "events",
        "requestBody": {"user_id": 5, "item_id": "$response.body#/item_id", "type": "play"},
        "description": "A user plays the new item.",
    },
    "RecommendAround": {
        "operationId": "recommend",
        "requestBody": {"user_id": 5, "context": {"session_items": ["$response.body#/item_id"]}},
        "description": "A recommendation for a session that holds the new item.",
    },
}
EVENT_LINKS: dict[str, Any] = {
    "RecommendAfter": {
        "operationId": "recommend",
        "requestBody": {"user_id": "$request.body#/user_id"},
        "description": "The event's user asks again (single-event bodies).",
    },
}


def _not_ready(exc: NotReady | StoreDown) -> HTTPException:
    return HTTPException(503, str(exc) or "unavailable", headers={"Retry-After": "1"})


def _field_error(loc: tuple[str | int, ...], msg: str, kind: str) -> RequestValidationError:
    return RequestValidationError([{"loc": loc, "msg": msg, "type": kind}])


@router.post(
    "/recommend",
    response_model=RecommendResponse,
    responses=BODY,
    tags=["recommend"],
    operation_id="recommend",
)
async def recommend(req: RecommendRequest, request: Request, response: Response) -> Any:
    """Recommend k items for a user in a context; the arm is assigned by user id unless forced."""
    # No dependencies on the hottest route: solving them per request cost more than the reads they wrap.
    svc = service_of(request)
    rid = request_id(request.headers.get("x-request-id"))
    try:
        body = await svc.recommend(req, rid)
    except NotReady as exc:
        raise _not_ready(exc) from exc
    except UnknownArm as exc:
        raise _field_error(("body", "arm"), str(exc), "unknown_arm") from exc
    if svc.settings.response_encoder == "orjson":  # built from validated values: encode it once, in C
        raw = orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)
        return Response(raw, media_type="application/json", headers={"X-Request-ID": rid})
    response.headers["X-Request-ID"] = rid
    return body  # FastAPI validates and encodes it through response_model


@router.post(
    "/events",
    responses={200: {"links": EVENT_LINKS}, 404: _err("An event names an unknown item."), **WRITE},
    tags=["events"],
    operation_id="events",
)
async def events(body: EventIn | EventBatch, svc: Service, _auth: ApiKey) -> EventsAccepted:
    """Store one event or a batch; answers only once they are stored (none is stored if one is invalid)."""
    batch = body.events if isinstance(body, EventBatch) else [body]
    try:
        return await svc.ingest(batch)
    except (NotReady, StoreDown) as exc:
        raise _not_ready(exc) from exc
    except UnknownItem as exc:  # well-formed, but names no item: 404 (the schema cannot list every id)
        where = f" (events[{exc.index}])" if isinstance(body, EventBatch) and exc.index is not None else ""
        raise HTTPException(404, f"{exc}{where}: not in the catalog (add it with POST /items)") from exc


@router.get(
    "/items/{item_id}",
    responses={404: _err("No such item."), **COMMON},
    tags=["items"],
    operation_id="get_item",
)
async def get_item(item_id: Annotated[int, Path(ge=0, le=MAX_ID)], svc: Service) -> Item:
    """One catalog item."""
    try:
        return await svc.item(item_id)
    except NotReady as exc:
        raise _not_ready(exc) from exc
    except UnknownItem as exc:
        raise HTTPException(404, str(exc)) from exc


@router.post(
    "/items",
    status_code=201,
    responses={201: {"links": ITEM_LINKS}, 409: _err("The item id exists."), **WRITE},
    tags=["items"],
    operation_id="add_item",
)
async def add_item(new: NewItem, svc: Service, _auth: ApiKey) -> Item:
    """Add an item at run time (cold start): embedded by the item tower and retrievable at once."""
    try:
        return await svc.add_item(new)
    except (NotReady, StoreDown) as exc:
        raise _not_ready(exc) from exc
    except ItemExists as exc:
        raise HTTPException(409, str(exc)) from exc


@router.get("/livez", tags=["health"])
async def livez() -> Health:
    """Answers while the process is up."""
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Health,
    responses={503: {"model": Health, "description": "Not ready."}},
    tags=["health"],
)
async def readyz(svc: Service) -> JSONResponse:
    """200 once the artifacts are loaded and the online store answers; 503 otherwise."""
    h = await svc.readiness()
    return JSONResponse(h.model_dump(), status_code=200 if h.status == "ok" else 503)


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "Prometheus text."}
    },
    tags=["health"],
)
async def metrics(svc: Service) -> Response:
    """Prometheus metrics."""
    folder = multiprocess_dir()
    if folder is not None:  # several workers: every worker's metrics files, summed
        return Response(await asyncio.to_thread(collect_all, folder), media_type=CONTENT_TYPE_LATEST)
    body = generate_latest(svc.metrics.registry) + generate_latest(REGISTRY)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
