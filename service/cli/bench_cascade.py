"""`care bench ...` for the library: the cascade, features, the LLM stage, training cost."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cascade.ranking.head import N_SCORE

app = typer.Typer()


@app.command("features")
def bench_features(
    redis_url: Annotated[
        str, typer.Option(help="Redis for the Redis backend.")
    ] = "redis://127.0.0.1:6379/15",
    n: Annotated[int, typer.Option(help="Timed fetches per backend.")] = 2000,
) -> None:
    """p50/p99 of fetching 1 user + 500 items from each online-store backend."""
    from cascade.bench.features import run

    run(redis_url=redis_url, n=n)


@app.command("cascade")
def bench_cascade(
    n: Annotated[int, typer.Option(help="Timed requests.")] = 1000,
    synthetic: Annotated[
        int, typer.Option(help="Also time retrieval on a synthetic catalog of this size (0 = skip).")
    ] = 1_000_000,
    against: Annotated[
        Path | None,
        typer.Option(
            help="Also time the cascade on this artifacts folder (e.g. a larger catalog) beside the default "
            "one, in one process, alternating blocks of requests; prints the p50 ratio per round.",
            exists=True,
            file_okay=False,
        ),
    ] = None,
    rounds: Annotated[int, typer.Option(min=1, help="Rounds of the --against comparison.")] = 3,
    score: Annotated[
        int,
        typer.Option(
            min=0,
            help="Candidates the ranker scores, the head of the sources' ranks as served (CARE_SCORE_HEAD); "
            "0: all of them.",
        ),
    ] = N_SCORE,
) -> None:
    """Per-stage p50/p99 of the cascade without the LLM, against the raw FAISS + XGBoost floor."""
    from cascade.bench.cascade import run

    run(n=n, synthetic=synthetic, score=score)
    if against is not None:
        from cascade.bench import paired

        paired.run(against, n=n, rounds=rounds)


@app.command("llm")
def bench_llm(
    n: Annotated[int, typer.Option(help="Requests per strategy and backend.")] = 10,
    base_url: Annotated[
        str | None, typer.Option(help="Also bench an OpenAI-compatible server at this URL.")
    ] = None,
    dialect: Annotated[
        str, typer.Option(help="Structured-output dialect at --base-url: vllm | llamacpp.")
    ] = "vllm",
    strategy: Annotated[
        list[str] | None,
        typer.Option("--strategy", help="listwise | single_pass | fused (repeatable; default: all)."),
    ] = None,
    http: Annotated[bool, typer.Option(help="Also bench the HTTP backend.")] = True,
) -> None:
    """Per strategy and backend: p50/p95 latency, tokens, validity before repair, cache hits."""
    from cascade.bench.llm import STRATEGIES, run
    from cascade.llm import DIALECTS

    if dialect not in DIALECTS:
        raise typer.BadParameter(f"must be one of {list(DIALECTS)}", param_hint="--dialect")
    if bad := sorted(set(strategy or ()) - set(STRATEGIES)):
        raise typer.BadParameter(f"unknown {bad}; known: {list(STRATEGIES)}", param_hint="--strategy")
    run(n=n, base_url=base_url, dialect=dialect, strategies=tuple(strategy or STRATEGIES), http=http)  # type: ignore[arg-type]


@app.command("cluster")
def bench_cluster(
    users: Annotated[int, typer.Option(help="Synthetic users written.")] = 100_000,
    items: Annotated[int, typer.Option(help="Synthetic items written.")] = 100_000,
    n: Annotated[int, typer.Option(help="Timed fetches of 1 user + 500 items.")] = 2000,
) -> None:
    """A local 3-master Redis Cluster: memory per million users and items, fetches/s per shard."""
    from cascade.bench.cluster import run

    run(users=users, items=items, n=n)


@app.command("cold-start")
def bench_cold_start(
    items: Annotated[int, typer.Option(help="New items added through the same path as POST /items.")] = 10,
) -> None:
    """A simulated day: new items added, one request per user; how often new items are shown."""
    from cascade.bench.cold_start import run

    run(n_items=items)


@app.command("train-cost")
def bench_train_cost(
    source: Annotated[
        list[str], typer.Option(help="Data set folder (repeat; 'ml-100k': the default data set).")
    ],
    out: Annotated[Path, typer.Option(help="Each run's artifacts (a folder per data set).")] = Path(
        "/tmp/care-train-cost"
    ),
    seed: Annotated[int, typer.Option(help="care train's seed.")] = 7,
) -> None:
    """care train on each data set in its own process: each stage's seconds and peak RSS, growth exponents."""
    from cascade.bench.train_cost import ML100K, run

    for s in source:
        if s != ML100K and not Path(s).is_dir():
            raise typer.BadParameter(f"{s}: no such folder", param_hint="--source")
    run(source, out, seed)


@app.command("collab")
def bench_collab(
    config: Annotated[
        list[str],
        typer.Option(help='CollabConfig fields as JSON, e.g. \'{"neighbours": 400, "seed": 1}\' (repeat).'),
    ],
) -> None:
    """Collaborative-block settings compared: refit the block and the ranker on the trained two-towers."""
    from cascade.bench.collab import parse, run

    for c in config:
        try:
            parse(c)
        except ValueError as e:
            raise typer.BadParameter(str(e), param_hint="--config") from None
    run(config)


@app.command("ranker-fit")
def bench_ranker_fit(
    engine: Annotated[
        str, typer.Option(help="The engine compared with one process: 'dask:N' or 'dask:tcp://host:port'.")
    ] = "dask:2",
    seed: Annotated[list[int] | None, typer.Option(help="A ranker seed (repeat; default 1-7).")] = None,
) -> None:
    """The ranker fitted on the same rows here and on an engine, per seed: test NDCG@10, mean gap."""
    from cascade.bench.ranker_fit import run
    from cascade.engine import check_engine

    try:
        check_engine(engine)
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--engine") from None
    run(engine, seed or list(range(1, 8)))
