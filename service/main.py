"""`care serve`: the service under uvicorn; with a shared store (Redis), one worker per core under a
pre-forking supervisor (service.supervisor)."""

from __future__ import annotations

import gc
import importlib
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

import uvicorn

from cascade.cores import usable_cores
from service.front import BINARY, find_binary
from service.supervisor import Accept, Supervisor

if TYPE_CHECKING:  # the service's modules load prometheus-client, which must see its folder first
    from fastapi import FastAPI

    from service.serving import CareService
    from service.settings import Settings

Loop = Literal["auto", "asyncio", "uvloop"]
Http = Literal["auto", "h11", "httptools"]
_BIND_ENV = "CARE_SERVE_BIND"  # host:port, handed to worker processes for their ready line
ReadyHook = Callable[["CareService"], None]
# imported once in the supervisor: a worker that imports them itself takes seconds longer to start
_PRELOADED = (
    "service.app",  # the routes and their models, FastAPI, the whole service
    "uvicorn.lifespan.on",
    "uvicorn.loops.auto",
    "uvicorn.protocols.http.auto",
    "uvicorn.protocols.websockets.auto",
)


def _curl(host: str, port: int, settings: Settings) -> str:
    shown = "localhost" if host in ("127.0.0.1", "0.0.0.0", "::") else host
    body = '{"user_id": 1, "k": 10, "context": {"playlist_title": "90s thrillers"}}'
    return f"curl -s {shown}:{port}/recommend -H 'content-type: application/json' -d '{body}'"


def workers_for(requested: int | None, settings: Settings) -> tuple[int, str]:
    """How many processes, and why: the in-process store lives in one process's memory, so one."""
    if settings.redis_url is None:
        why = "the in-process store keeps sessions and events in this process's memory"
        return 1, f"1 worker: {why} (set CARE_REDIS_URL to run one per core)"
    n = requested if requested is not None else usable_cores()
    return n, f"{n} worker(s) sharing the Redis store" + ("" if requested else " (one per core)")


def single_threaded_compute() -> None:
    """One compute thread per process: processes, not threads, use the cores (XGBoost: its loader).

    numpy's OpenBLAS matters most: a product as small as the title source's (1,682 x 384) wakes its
    threads, which then spin between calls and took half of two workers' CPU (104 req/s at 16
    connections; 217 with one BLAS thread).
    """
    import faiss
    import torch
    from threadpoolctl import threadpool_limits

    faiss.omp_set_num_threads(1)
    torch.set_num_threads(1)
    threadpool_limits(1)  # every BLAS and OpenMP pool this process has loaded


def _ready_printer(host: str, port: int, settings: Settings, workers: int) -> ReadyHook:
    def ready(svc: CareService) -> None:
        ld, arms = svc.loaded, svc.arms
        assert ld is not None and arms is not None
        store = ld.online.name + ("" if ld.materialized else " (unreachable: degraded)")
        writes = "open (no CARE_API_KEY)" if settings.api_key is None else "need X-API-Key"
        who = f" worker={os.getpid()}" if workers > 1 else ""
        print(
            f"care ready on http://{host}:{port}{who}  model={ld.model_version} ranker={ld.ranker_version} "
            f"store={store} arms={','.join(arms.names())} writes={writes}\n"
            f"try:  {_curl(host, port, settings)}\n"
            f"docs: http://{host}:{port}/docs   metrics: http://{host}:{port}/metrics",
            flush=True,
        )

    return ready


def worker_app(load_before_serving: bool = False) -> FastAPI:
    """The app of one worker process (each worker loads its own artifacts)."""
    from service.app import create_app
    from service.settings import Settings

    single_threaded_compute()
    settings = Settings()
    host, _, port = os.environ.get(_BIND_ENV, "127.0.0.1:8000").rpartition(":")
    workers = int(os.environ.get("CARE_SERVE_WORKERS", "1"))
    return create_app(
        settings,
        handle_sighup=True,
        on_ready=_ready_printer(host, int(port), settings, workers),
        load_before_serving=load_before_serving,
    )


def preload(settings: Settings | None = None) -> None:
    """What every worker would load alike, loaded once in the supervisor: the imports, one compute thread,
    the title encoder (MiniLM) and the artifacts `settings` name. Forked workers share them (copy on
    write) and start in about a second of CPU instead of ten."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # no tokenizer threads across the fork
    single_threaded_compute()
    for module in _PRELOADED:
        importlib.import_module(module)
    from cascade.rerank.title.term import shared_similarity

    shared_similarity().title_vector("warm-up")
    if settings is not None:
        from service.loaded import preload_runtime

        try:
            preload_runtime(settings.artifacts)
        except Exception:  # each worker then loads (and reports) it itself
            logging.getLogger("care.supervisor").exception("supervisor: preloading the artifacts failed")


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int | None = None,
    loop: Loop = "auto",
    http: Http = "auto",
    accept: Accept = "balanced",
    slots: int = 1,
) -> None:
    """Run the service until interrupted; prints a ready line per process once its artifacts are loaded.

    accept: with several workers, "balanced" (least connections, service.balance), "queue" (HAProxy
    in front hands each request to a worker with one of its `slots` free, service.front) or "shared"
    (whichever worker the kernel wakes first takes every pending connection: kept to measure)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    metrics_dir = None
    if workers != 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # before anything imports prometheus-client: every metric, the LLM stage's module-level ones
        # included, then lives in files that /metrics sums over the workers (and the dead ones)
        metrics_dir = tempfile.mkdtemp(prefix="care-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        _serve(host, port, workers, loop, http, accept, slots)
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _serve(
    host: str, port: int, workers: int | None, loop: Loop, http: Http, accept: Accept, slots: int
) -> None:
    from service.metrics import retire
    from service.settings import Settings

    settings = Settings()
    n, why = workers_for(workers, settings)
    front = find_binary() if accept == "queue" and n > 1 else BINARY
    if front is None:
        raise SystemExit("care serve --accept queue needs HAProxy on the PATH (make front installs it)")
    print(f"care: loading artifacts from {settings.artifacts}; {why}", file=sys.stderr, flush=True)
    os.environ[_BIND_ENV] = f"{host}:{port}"
    os.environ["CARE_SERVE_WORKERS"] = str(n)
    if n == 1:
        uvicorn.run(
            worker_app(), host=host, port=port, loop=loop, http=http, log_level="info", access_log=False
        )
        return
    t0 = time.monotonic()
    preload(settings)
    logging.getLogger("care.supervisor").info("supervisor: preloaded in %.1f s", time.monotonic() - t0)

    def config() -> uvicorn.Config:  # in each worker, after the fork
        app = worker_app(load_before_serving=True)
        return uvicorn.Config(app, loop=loop, http=http, log_level="info", access_log=False)

    def follow_pointer() -> None:  # a worker restarted after a rollout starts on the new version at once
        from service.loaded import preload_runtime

        if settings.model_watch and preload_runtime(settings.artifacts):
            gc.freeze()

    sock = uvicorn.Config("service.main:worker_app", host=host, port=port).bind_socket()
    try:
        supervisor = Supervisor(
            sock, n, config, on_exit=retire, on_tick=follow_pointer, accept=accept, slots_per_worker=slots,
            front_binary=front,
        )  # fmt: skip
        status = supervisor.run()
    finally:
        sock.close()
    if status:
        raise SystemExit(status)
