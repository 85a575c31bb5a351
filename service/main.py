"""`care serve`: the service under uvicorn (one worker), with a ready line and a curl line to try."""

from __future__ import annotations

import logging
import sys

import uvicorn

from service.app import create_app
from service.serving import CareService
from service.settings import Settings


def _curl(host: str, port: int, settings: Settings) -> str:
    shown = "localhost" if host in ("127.0.0.1", "0.0.0.0", "::") else host
    body = '{"user_id": 1, "k": 10, "context": {"playlist_title": "90s thrillers"}}'
    return f"curl -s {shown}:{port}/recommend -H 'content-type: application/json' -d '{body}'"


def serve(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the service until interrupted; prints a ready line once artifacts are loaded."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings()

    def ready(svc: CareService) -> None:
        ld, arms = svc.loaded, svc.arms
        assert ld is not None and arms is not None
        store = ld.online.name + ("" if ld.materialized else " (unreachable: degraded)")
        print(
            f"care ready on http://{host}:{port}  model={ld.model_version} ranker={ld.ranker_version} "
            f"store={store} arms={','.join(arms.names())}\n"
            f"try:  {_curl(host, port, settings)}\n"
            f"docs: http://{host}:{port}/docs   metrics: http://{host}:{port}/metrics",
            flush=True,
        )

    app = create_app(settings, handle_sighup=True, on_ready=ready)
    print(f"care: loading artifacts from {settings.artifacts} ...", file=sys.stderr, flush=True)
    uvicorn.run(app, host=host, port=port, workers=1, log_level="info", access_log=False)
