"""`care bench ...` for the running service: HTTP load, a slow store, run-time items, the A/B report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from service.cli.common import fail

app = typer.Typer()


@app.command("service")
def bench_service(
    seconds: Annotated[float, typer.Option(help="Seconds per wrk run.")] = 5.0,
    only_last: Annotated[
        bool, typer.Option("--only-last", help="Only the last configuration (one worker per core).")
    ] = False,
    logging_requests: Annotated[
        int, typer.Option(help="Requests per server for the impression-log overhead (0 = skip).")
    ] = 2000,
    items: Annotated[
        int,
        typer.Option(help="Instead: serve a synthetic catalog of this many items (built once, cached)."),
    ] = 0,
    connections: Annotated[
        list[int] | None, typer.Option("--connections", "-c", help="wrk connections (repeatable).")
    ] = None,
    index: Annotated[str, typer.Option(help="With --items: auto | flat | ivf | hnsw.")] = "auto",
    nprobe: Annotated[
        int, typer.Option(help="With --items: IVF lists searched per query (64: recall@500 about 0.95).")
    ] = 64,
    seed: Annotated[int, typer.Option(help="With --items: the synthetic catalog's seed.")] = 0,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="With --items: rebuild if cached.")] = False,
    repeat: Annotated[
        int | None,
        typer.Option(
            min=1, help="wrk runs per row; rows show the median and the range (default 1; 3 with --tail)."
        ),
    ] = None,
    tail: Annotated[
        bool,
        typer.Option(
            "--tail",
            help="Instead: capacity and p99 by connections (default 16, 64, 256), closed loop and paced "
            "(Poisson) at --share of capacity; --repeat defaults to 3.",
        ),
    ] = False,
    share: Annotated[
        list[float] | None, typer.Option(help="With --tail: paced load as shares of capacity (repeatable).")
    ] = None,
    rate: Annotated[
        list[float] | None,
        typer.Option(help="With --tail: paced load at these rates, req/s, instead of --share (repeatable)."),
    ] = None,
    paced_connections: Annotated[
        int, typer.Option(min=1, help="With --tail: connections of the paced runs (one wrk thread each).")
    ] = 64,
    accept: Annotated[
        str,
        typer.Option(
            help="With --tail: queue (HAProxy queues requests for free workers) | balanced (least "
            "connections) | shared (kernel wake-up order), to compare."
        ),
    ] = "queue",
    slots: Annotated[
        int,
        typer.Option(min=1, help="With --tail and --accept queue: requests a worker holds at once."),
    ] = 1,
) -> None:
    """wrk at 1, 4 and 16 connections per server configuration: req/s, p50, p99 vs the compute limit;
    then the impression log's cost on /recommend p50. With --items N: the service over a synthetic
    catalog of N items (index recall@500 vs exact search, then wrk at --connections, default 1)."""
    if tail:
        from service.bench.tail import run as run_tail

        if accept not in ("queue", "balanced", "shared"):
            raise typer.BadParameter("must be queue, balanced or shared", param_hint="--accept")
        if bad := [s for s in share or [] if not 0.0 < s <= 1.5]:
            raise typer.BadParameter(f"shares must be in (0, 1.5], not {bad}", param_hint="--share")
        if bad := [r for r in rate or [] if not 0.0 < r <= 100_000]:
            raise typer.BadParameter(f"rates must be in (0, 100000] req/s, not {bad}", param_hint="--rate")
        run_tail(
            seconds=seconds,
            repeat=repeat or 3,
            connections=tuple(connections or (16, 64, 256)),
            shares=tuple(share or (0.5, 0.8)),
            paced_connections=paced_connections,
            accept=accept,
            rates=tuple(rate or ()),
            slots=slots,
        )
        return
    if items > 0:
        from cascade.retrieval.index import IndexConfig
        from service.bench.items import run as run_items

        if index not in ("auto", "flat", "ivf", "hnsw"):
            raise typer.BadParameter("must be auto, flat, ivf or hnsw", param_hint="--index")
        cfg = IndexConfig(kind=index, ivf_nprobe=nprobe)  # type: ignore[arg-type]
        run_items(items, seconds, tuple(connections or (1,)), seed, cfg, rebuild)
        return
    from service.bench.service import run

    conns = {"connections": tuple(connections)} if connections else {}
    run(seconds=seconds, only_last=only_last, repeat=repeat or 1, **conns)
    if logging_requests > 0:
        from service.bench.logging import run as run_logging

        run_logging(logging_requests)


@app.command("store")
def bench_store(
    requests: Annotated[int, typer.Option(help="Requests per phase (healthy, slow).")] = 1000,
    concurrency: Annotated[int, typer.Option(help="Concurrent connections.")] = 1,
    delay_ms: Annotated[float, typer.Option(help="How long the proxy holds each store reply.")] = 1000.0,
    redis_url: Annotated[
        str, typer.Option(help="The real Redis behind the proxy.")
    ] = "redis://127.0.0.1:6379/15",
) -> None:
    """/recommend p50/p99 with a slow store (breaker open), and the recovery time once it answers."""
    from service.bench.store import run

    run(requests=requests, concurrency=concurrency, delay_ms=delay_ms, redis_url=redis_url)


@app.command("add-items")
def bench_add_items(
    n: Annotated[int, typer.Option("--n", min=1, help="Items to add through POST /items.")] = 10_000,
    requests: Annotated[int, typer.Option(min=10, help="/recommend requests before and after.")] = 300,
) -> None:
    """POST /items n times into `care serve`: memory and /recommend p50 before and after (0 errors)."""
    from service.bench.add_items import run

    if run(n=n, requests=requests).errors:
        raise typer.Exit(1)


@app.command("ab-report")
def bench_ab_report(
    impressions: Annotated[int, typer.Option(help="Synthetic impressions.")] = 1_000_000,
    users: Annotated[int, typer.Option(help="Synthetic users.")] = 50_000,
    backend: Annotated[
        list[str] | None, typer.Option(help="sqlite | redis (repeatable; default both).")
    ] = None,
    redis_url: Annotated[
        str, typer.Option(help="Redis for the Redis backend.")
    ] = "redis://127.0.0.1:6379/15",
    n_boot: Annotated[int, typer.Option(help="Bootstrap resamples.")] = 2000,
) -> None:
    """Time `care ab report` over synthetic impressions written to each impression-log backend."""
    from cascade.experiments import EXPERIMENTS_FILE
    from eval.bench.ab_report import run

    chosen = backend or ["sqlite", "redis"]
    if bad := [b for b in chosen if b not in ("sqlite", "redis")]:
        raise fail(f"--backend must be sqlite or redis, not {bad}")
    run(impressions, users, chosen, redis_url, EXPERIMENTS_FILE, n_boot)


@app.command("rollout")
def bench_rollout(
    workers: Annotated[int, typer.Option(min=1, help="Workers of `care serve`.")] = 2,
    share: Annotated[float, typer.Option(help="Load as a share of the measured capacity.")] = 0.5,
    to: Annotated[
        Path | None,
        typer.Option(help="A trained folder to roll out (default: the current one, ranker halved)."),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Also write the result as JSON here.")] = None,
) -> None:
    """Switch a running service to another model version and back under paced load: failed requests,
    answers mixing versions, seconds until every worker serves the new version."""
    from service.bench.rollout import run

    if not run(workers=workers, share=share, second=to, out=out).ok():
        raise typer.Exit(1)


@app.command("failover")
def bench_failover(
    rate: Annotated[float, typer.Option(help="Requests/s (one in four an event).")] = 20.0,
    workers: Annotated[int, typer.Option(min=1, help="Workers of `care serve`.")] = 2,
    out: Annotated[Path | None, typer.Option(help="Also write the result as JSON here.")] = None,
) -> None:
    """A Redis Cluster primary SIGKILLed under load (3+3 nodes on loopback): errors, events lost,
    recovery after the promotion, degraded share; WAIT's cost; the guarantee with and without WAIT."""
    from service.bench.failover import run

    run(rate=rate, workers=workers, out=out)


@app.command("worker-death")
def bench_worker_death(
    workers: Annotated[int, typer.Option(min=2, help="Workers of `care serve`.")] = 2,
    rate: Annotated[float, typer.Option(help="Requests/s.")] = 40.0,
    out: Annotated[Path | None, typer.Option(help="Also write the result as JSON here.")] = None,
) -> None:
    """SIGKILL one worker under load: failures against its in-flight requests, restart time, /metrics."""
    from service.bench.worker_death import run

    if not run(workers=workers, rate=rate, out=out).ok():
        raise typer.Exit(1)


@app.command("soak")
def bench_soak(
    minutes: Annotated[float, typer.Option(help="Length of the run.")] = 30.0,
    rate: Annotated[
        float | None, typer.Option(help="Requests/s (default: 60% of the measured capacity).")
    ] = None,
    out: Annotated[Path, typer.Option(help="Writes OUT.json and OUT.png.")] = Path("soak"),
) -> None:
    """Paced load with events for MINUTES on 2 workers over Redis: RSS per worker, p50/p99 per minute,
    errors, the impression log's size; a JSON and a PNG curve."""
    from service.bench.soak import run

    res = run(minutes=minutes, rate=rate, out=out)
    if not all(res.verdict().values()):
        raise typer.Exit(1)
