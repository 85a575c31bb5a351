"""Pure ASGI middleware: body size bound (413), in-flight bound (429), per-route metrics, and the
X-Care-Worker header (the answering process: which worker served a request, behind any balancing)."""

from __future__ import annotations

import json
import os
import time
from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from service.serving import CareService

GUARDED_PREFIXES = ("/recommend", "/events", "/items")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


async def _reply(
    send: Send, status: int, detail: str, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps({"detail": detail}).encode()
    hdrs = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *(headers or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": hdrs})
    await send({"type": "http.response.body", "body": body})


class GuardMiddleware:
    """Rejects oversized bodies and requests beyond the in-flight bound before any handler runs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.worker = (b"x-care-worker", str(os.getpid()).encode())  # built in the worker, after any fork

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        svc: CareService = scope["app"].state.service
        m = svc.metrics
        t0 = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message["headers"] = [*message.get("headers", ()), self.worker]
            await send(message)

        path: str = scope["path"]
        guarded = path.startswith(GUARDED_PREFIXES)
        entered = False
        try:
            if guarded:
                if not svc.admission.try_enter():
                    m.rejected.labels("overload").inc()
                    await _reply(
                        send_status,
                        429,
                        "too many requests in flight; retry shortly",
                        [(b"retry-after", b"1")],
                    )
                    return
                entered = True
                m.inflight.set(svc.admission.inflight)
            if scope["method"] in _BODY_METHODS:
                limit = svc.settings.max_body_bytes
                body = await _read_body(scope, receive, limit)
                if body is None:
                    m.rejected.labels("body_too_large").inc()
                    await _reply(send_status, 413, f"request body larger than {limit} bytes")
                    return
                receive = _replay(body, receive)
            await self.app(scope, receive, send_status)
        finally:
            if entered:
                svc.admission.leave()
                m.inflight.set(svc.admission.inflight)
            route = scope.get("route")
            label = getattr(route, "path", None) or "unmatched"
            m.requests.labels(label, scope["method"], str(status)).inc()
            m.latency.labels(label, scope["method"]).observe(time.perf_counter() - t0)


async def _read_body(scope: Scope, receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None as soon as it is known to exceed `limit` bytes."""
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                if int(value) > limit:
                    return None
            except ValueError:
                pass
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # disconnect: hand over what there is
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
