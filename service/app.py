"""The FastAPI app: handlers built once in the lifespan and kept on app.state."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from service.metrics import mark_process_dead
from service.middleware import GuardMiddleware
from service.openapi import install as install_openapi
from service.routes import router
from service.serving import CareService
from service.settings import Settings

log = logging.getLogger("care.service")


def create_app(
    settings: Settings | None = None,
    *,
    handle_sighup: bool = False,
    on_ready: Callable[[CareService], None] | None = None,
    load_before_serving: bool = False,
) -> FastAPI:
    """The service; `handle_sighup` installs a SIGHUP handler that reloads experiments and prompts.

    `load_before_serving`: the lifespan returns (and uvicorn accepts connections) only once the
    artifacts are loaded, for a worker whose siblings answer meanwhile; otherwise the process answers
    at once and /readyz says 503 until loaded.
    """
    settings = settings if settings is not None else Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc = CareService(settings)
        app.state.service = svc
        loop = asyncio.get_running_loop()
        tasks: list[asyncio.Task[None]] = []

        async def load() -> None:
            await svc.load()
            if svc.loaded is not None and on_ready is not None:
                on_ready(svc)

        if load_before_serving:
            await load()
        else:
            tasks.append(asyncio.create_task(load(), name="care-load"))
        tasks.append(asyncio.create_task(svc.watch(), name="care-watch"))
        if handle_sighup:
            loop.add_signal_handler(signal.SIGHUP, lambda: tasks.append(asyncio.create_task(_sighup(svc))))
        try:
            yield
        finally:
            if handle_sighup:
                loop.remove_signal_handler(signal.SIGHUP)
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
            await svc.close()
            mark_process_dead()

    app = FastAPI(
        title="care",
        version="0.1.0",
        summary="Recommendation cascade with an LLM re-ranker and a rules fallback.",
        lifespan=lifespan,
    )
    # Before the lifespan runs, routes still see a service (not ready: 503), never a missing attribute.
    app.state.service = CareService(settings)
    app.add_middleware(GuardMiddleware)
    app.include_router(router)
    install_openapi(app)

    @app.exception_handler(Exception)
    async def unhandled(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "internal error"}, status_code=500)

    return app


async def _sighup(svc: CareService) -> None:
    log.info("SIGHUP: reloading experiments and prompts")
    await svc.reload(force=True)
