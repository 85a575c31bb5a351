"""The `care` command line; each command imports its heavy dependencies only when it runs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="care: a recommendation cascade with an LLM re-ranker.", no_args_is_help=True)
data_app = typer.Typer(help="Datasets.", no_args_is_help=True)
models_app = typer.Typer(help="Model files (LLM GGUF).", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks that print latency numbers.", no_args_is_help=True)
ab_app = typer.Typer(
    help="Online A/B results: impressions, attribution, reports, simulation.", no_args_is_help=True
)
app.add_typer(data_app, name="data")
app.add_typer(models_app, name="models")
app.add_typer(bench_app, name="bench")
app.add_typer(ab_app, name="ab")


def _fail(message: str) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code=2)


def _eval_titles() -> list[str]:
    """The eval's labelled playlist titles, which no training title may repeat."""
    from eval.titlefit import load_titles

    return [t.title for t in load_titles()]


def _fetch_asset(fetch: Callable[[Callable[[str], None]], Path]) -> None:
    """Run a pinned-asset fetch, logging to stderr and printing where the files are."""
    from rich.console import Console

    from cascade.assets import AssetError

    console = Console(stderr=True)
    try:
        with console.status("fetching") as status:

            def log(message: str) -> None:
                console.log(message)
                status.update(message)

            path = fetch(log)
    except AssetError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(str(path))


@data_app.command("fetch")
def data_fetch() -> None:
    """Fetch MovieLens-100k into $CARE_HOME (verified against a pinned sha256)."""
    from cascade.data.fetch import fetch_ml100k

    _fetch_asset(fetch_ml100k)


@data_app.command("synth")
def data_synth(
    users: Annotated[int, typer.Option(help="Users (ids 1..U).")],
    items: Annotated[int, typer.Option(help="Items (ids 1..I).")],
    interactions: Annotated[int, typer.Option(help="Interactions: at least 5 per user, at most U x I / 2.")],
    out: Annotated[Path, typer.Option(help="Folder for synth.inter/.item/.user (created).")],
    seed: Annotated[int, typer.Option(help="Same arguments and seed, byte-identical files.")] = 0,
) -> None:
    """Write a synthetic data set in the atomic layout, for cost and scale (not accuracy) checks."""
    from cascade.data.synth import check_args, synth

    problem = check_args(users, items, interactions)
    if problem:
        raise typer.BadParameter(problem[1], param_hint=problem[0])
    path = synth(users, items, interactions, seed, out)
    typer.echo(f"{path} users={users} items={items} interactions={interactions}")


@data_app.command("info")
def data_info(
    source: Annotated[
        Path | None, typer.Option(help="A folder in GroupLens (u.data) or atomic layout.")
    ] = None,
) -> None:
    """Load a dataset, validate it, and print its sizes and split sizes."""
    from cascade.data.fetch import load_default
    from cascade.data.loaders import DataFormatError
    from cascade.data.split import split_by_user

    try:
        ds = load_default(source)
    except (DataFormatError, FileNotFoundError) as exc:
        raise _fail(str(exc)) from exc
    sp = split_by_user(ds.interactions)
    typer.echo(
        f"users={len(ds.users.user_ids)} items={len(ds.catalog)} interactions={len(ds.interactions)} "
        f"train={len(sp.train)} val={len(sp.val)} test={len(sp.test)}"
    )


@models_app.command("pull")
def models_pull() -> None:
    """Fetch the embedded LLM (SmolLM2-135M-Instruct Q4_1 GGUF) into $CARE_HOME, verified."""
    from cascade.llm import pull_smollm2

    _fetch_asset(pull_smollm2)


@bench_app.command("features")
def bench_features(
    redis_url: Annotated[
        str, typer.Option(help="Redis for the Redis backend.")
    ] = "redis://127.0.0.1:6379/15",
    n: Annotated[int, typer.Option(help="Timed fetches per backend.")] = 2000,
) -> None:
    """p50/p99 of fetching 1 user + 500 items from each online-store backend."""
    from cascade.bench.features import run

    run(redis_url=redis_url, n=n)


@bench_app.command("cascade")
def bench_cascade(
    n: Annotated[int, typer.Option(help="Timed requests.")] = 1000,
    synthetic: Annotated[
        int, typer.Option(help="Also time retrieval on a synthetic catalog of this size (0 = skip).")
    ] = 1_000_000,
) -> None:
    """Per-stage p50/p99 of the cascade without the LLM, against the raw FAISS + XGBoost floor."""
    from cascade.bench.cascade import run

    run(n=n, synthetic=synthetic)


@bench_app.command("llm")
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


@bench_app.command("service")
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
        int, typer.Option(min=1, help="wrk runs per row; rows show the median and the range.")
    ] = 1,
) -> None:
    """wrk at 1, 4 and 16 connections per server configuration: req/s, p50, p99 vs the compute limit;
    then the impression log's cost on /recommend p50. With --items N: the service over a synthetic
    catalog of N items (index recall@500 vs exact search, then wrk at --connections, default 1)."""
    if items > 0:
        from cascade.retrieval.index import IndexConfig
        from service.bench_items import run as run_items

        if index not in ("auto", "flat", "ivf", "hnsw"):
            raise typer.BadParameter("must be auto, flat, ivf or hnsw", param_hint="--index")
        cfg = IndexConfig(kind=index, ivf_nprobe=nprobe)  # type: ignore[arg-type]
        run_items(items, seconds, tuple(connections or (1,)), seed, cfg, rebuild)
        return
    from service.bench_service import run

    conns = {"connections": tuple(connections)} if connections else {}
    run(seconds=seconds, only_last=only_last, repeat=repeat, **conns)
    if logging_requests > 0:
        from service.bench_logging import run as run_logging

        run_logging(logging_requests)


@bench_app.command("store")
def bench_store(
    requests: Annotated[int, typer.Option(help="Requests per phase (healthy, slow).")] = 1000,
    concurrency: Annotated[int, typer.Option(help="Concurrent connections.")] = 1,
    delay_ms: Annotated[float, typer.Option(help="How long the proxy holds each store reply.")] = 1000.0,
    redis_url: Annotated[
        str, typer.Option(help="The real Redis behind the proxy.")
    ] = "redis://127.0.0.1:6379/15",
) -> None:
    """/recommend p50/p99 with a slow store (breaker open), and the recovery time once it answers."""
    from service.bench_store import run

    run(requests=requests, concurrency=concurrency, delay_ms=delay_ms, redis_url=redis_url)


@bench_app.command("cluster")
def bench_cluster(
    users: Annotated[int, typer.Option(help="Synthetic users written.")] = 100_000,
    items: Annotated[int, typer.Option(help="Synthetic items written.")] = 100_000,
    n: Annotated[int, typer.Option(help="Timed fetches of 1 user + 500 items.")] = 2000,
) -> None:
    """A local 3-master Redis Cluster: memory per million users and items, fetches/s per shard."""
    from cascade.bench.cluster import run

    run(users=users, items=items, n=n)


@bench_app.command("ab-report")
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
    from eval.ab.bench import run

    chosen = backend or ["sqlite", "redis"]
    if bad := [b for b in chosen if b not in ("sqlite", "redis")]:
        raise _fail(f"--backend must be sqlite or redis, not {bad}")
    run(impressions, users, chosen, redis_url, EXPERIMENTS_FILE, n_boot)


_EXPERIMENTS_OPT = typer.Option(help="Experiments file with the configured weights (default prompts/).")


@ab_app.command("report")
def ab_report(
    since: Annotated[
        str | None, typer.Option(help="Start: unix seconds or ISO-8601 (UTC); default: all.")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="End: unix seconds or ISO-8601 (UTC); default: now.")
    ] = None,
    experiments_file: Annotated[Path | None, _EXPERIMENTS_OPT] = None,
    experiment: Annotated[str | None, typer.Option(help="Experiment (default: the file's first).")] = None,
    control: Annotated[str | None, typer.Option(help="Control arm (default: rules).")] = None,
    out: Annotated[Path | None, typer.Option(help="Report folder (default reports/ab-<UTC time>).")] = None,
    redis_url: Annotated[str | None, typer.Option(help="Read this Redis (default: CARE_ settings).")] = None,
    prefix: Annotated[
        str | None, typer.Option(help="Key prefix in that Redis (default CARE_REDIS_PREFIX).")
    ] = None,
    sqlite: Annotated[Path | None, typer.Option(help="Read this SQLite impression log instead.")] = None,
    n_boot: Annotated[int, typer.Option(min=100, help="Bootstrap resamples of users.")] = 2000,
    alpha: Annotated[float, typer.Option(help="SRM p-value below which the check fails.")] = 0.001,
) -> None:
    """Per-arm online results for a time range (JSON, markdown, plots); exits 3 on a sample ratio mismatch."""
    from cascade.experiments import EXPERIMENTS_FILE
    from eval.ab.cli import report_cli
    from eval.ab.report import SRMFailure

    try:
        folder = report_cli(
            since, until, experiments_file or EXPERIMENTS_FILE, experiment, control, out,
            redis_url, prefix, sqlite, n_boot, alpha,
        )  # fmt: skip
    except SRMFailure as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=3) from exc
    except (ValueError, OSError) as exc:
        raise _fail(str(exc)) from exc
    typer.echo(str(folder / "report.md"))


@ab_app.command("simulate")
def ab_simulate(
    users: Annotated[int | None, typer.Option(help="Seeded sample of test users (default: all).")] = None,
    cold_users: Annotated[int, typer.Option(min=0, help="Extra unknown users (cold start).")] = 0,
    requests: Annotated[
        int | None, typer.Option(min=1, help="Requests per user (default: the user's test-window length).")
    ] = None,
    k: Annotated[int, typer.Option(min=1, max=100, help="Items per request.")] = 10,
    concurrency: Annotated[int, typer.Option(min=1, help="Users in parallel.")] = 8,
    seed: Annotated[int, typer.Option(help="Seed of the user sample and the clicks.")] = 0,
    attract: Annotated[float, typer.Option(help="P(play | examined, in the user's test window).")] = 0.9,
    noise: Annotated[float, typer.Option(help="P(play | examined, not in the test window).")] = 0.0,
    patience: Annotated[float, typer.Option(help="P(examine the next position | not played).")] = 0.85,
    satisfied: Annotated[float, typer.Option(help="P(stop | played).")] = 0.5,
    like_rating: Annotated[
        float, typer.Option(help="A played item is liked when rated at least this.")
    ] = 4.0,
    skew: Annotated[
        str | None,
        typer.Option(help="Serve with ARM's weight changed by POINTS (ARM=POINTS): the SRM must fail."),
    ] = None,
    experiments_file: Annotated[Path | None, _EXPERIMENTS_OPT] = None,
    redis_url: Annotated[
        str | None, typer.Option(help="Redis for the store and the log (default: embedded + SQLite).")
    ] = None,
    offline: Annotated[
        Path | None, typer.Option(help="A `care eval` report.json: check the online order against its NDCG.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default reports/ab-sim-<UTC time>).")
    ] = None,
    n_boot: Annotated[int, typer.Option(min=100, help="Bootstrap resamples of users.")] = 2000,
    keep_log: Annotated[bool, typer.Option("--keep-log", help="Keep the run's Redis keys.")] = False,
) -> None:
    """Replay the test window as live traffic (cascade click model) against `care serve`, then report."""
    from cascade.experiments import EXPERIMENTS_FILE
    from eval.ab.cli import simulate_cli
    from eval.ab.clicks import CascadeClickModel

    try:
        clicks = CascadeClickModel(attract, noise, patience, satisfied, like_rating)
        summary, ok = simulate_cli(
            experiments_file or EXPERIMENTS_FILE, out, users, cold_users, requests, k, concurrency, seed,
            clicks, skew, redis_url, offline, n_boot, keep_log,
        )  # fmt: skip
    except (ValueError, OSError, RuntimeError) as exc:
        raise _fail(str(exc)) from exc
    typer.echo(summary.read_text())
    typer.echo(str(summary))
    if not ok:
        raise typer.Exit(code=3)


@app.command("train")
def train(
    out: Annotated[Path | None, typer.Option(help="Artifacts folder (default $CARE_ARTIFACTS).")] = None,
    seed: Annotated[int, typer.Option(help="Seed for every random choice.")] = 7,  # cascade.train.SEED
    if_missing: Annotated[bool, typer.Option("--if-missing", help="Do nothing if artifacts exist.")] = False,
    source: Annotated[Path | None, typer.Option(help="Dataset folder (default MovieLens-100k).")] = None,
    engine: Annotated[
        str,
        typer.Option(
            help="Where the collaborative model, ranker rows and ranker fit run: local, dask:N (a local "
            "cluster of N workers) or dask:tcp://scheduler:8786."
        ),
    ] = "local",
) -> None:
    """Data -> features -> two-tower -> FAISS index -> XGBoost ranker, with a manifest.json."""
    from cascade.engine import check_engine
    from cascade.train import train_cli

    try:
        check_engine(engine)
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--engine") from None
    train_cli(out, seed, if_missing, source, _eval_titles(), engine)


@bench_app.command("cold-start")
def bench_cold_start(
    items: Annotated[int, typer.Option(help="New items added through the same path as POST /items.")] = 10,
) -> None:
    """A simulated day: new items added, one request per user; how often new items are shown."""
    from cascade.bench.cold_start import run

    run(n_items=items)


@bench_app.command("train-cost")
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


@bench_app.command("collab")
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


@bench_app.command("add-items")
def bench_add_items(
    n: Annotated[int, typer.Option("--n", min=1, help="Items to add through POST /items.")] = 10_000,
    requests: Annotated[int, typer.Option(min=10, help="/recommend requests before and after.")] = 300,
) -> None:
    """POST /items n times into `care serve`: memory and /recommend p50 before and after (0 errors)."""
    from service.bench_add_items import run

    if run(n=n, requests=requests).errors:
        raise typer.Exit(1)


@app.command("ablation")
def ablation(
    out: Annotated[Path | None, typer.Option(help="Also write the table as JSON here.")] = None,
    train_two_tower: Annotated[
        Path | None,
        typer.Option(help="A saved two-tower fitted on the train window (default: the artifacts' own)."),
    ] = None,
) -> None:
    """Ranker retrained with each collaborative feature group off; test-window metrics per configuration."""
    import json

    from cascade.ablation import run

    rows = run(train_two_tower=train_two_tower, forbidden_titles=_eval_titles())
    for r in rows:
        typer.echo(
            f"{r['configuration']:52s} ndcg@10={r['ndcg@10']:.4f} recall@10={r['recall@10']:.4f} "
            f"hit_rate@10={r['hit_rate@10']:.4f} mrr@10={r['mrr@10']:.4f} recall@500={r['recall@500']:.4f}"
        )
    if out is not None:
        out.write_text(json.dumps(rows, indent=2))


@app.command("versus")
def versus(
    out: Annotated[Path | None, typer.Option(help="Also write the result as JSON here.")] = None,
    n_boot: Annotated[int, typer.Option(help="Bootstrap resamples per comparison.")] = 2000,
) -> None:
    """The cascade's order against every baseline (sequential ones included), paired bootstrap CIs."""
    import json

    from eval.versus import run

    res = run(n_boot=n_boot)
    for name, m in res["means"].items():
        line = f"{name:12s} " + "  ".join(f"{k}={v:.4f}" for k, v in m.items())
        if name in res["cascade_minus"]:
            c = res["cascade_minus"][name]["ndcg@10"]
            line += f"  cascade-this ndcg@10 {c['mean_diff']:+.4f} [{c['lo']:+.4f}, {c['hi']:+.4f}]"
        typer.echo(line)
    if out is not None:
        out.write_text(json.dumps(res, indent=2))


@app.command("recommend")
def recommend(
    user_id: Annotated[int, typer.Argument(help="User id (unknown ids take the cold-start path).")],
    k: Annotated[int, typer.Option(min=1, max=100)] = 10,
    playlist_title: Annotated[str | None, typer.Option(help="Playlist or collection title.")] = None,
    arm: Annotated[str | None, typer.Option(help="Force an experiment arm.")] = None,
) -> None:
    """Print a recommendation from the trained artifacts, with titles."""
    from service.recommend_cli import recommend_cli

    recommend_cli(user_id=user_id, k=k, playlist_title=playlist_title, arm=arm)


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="Processes (default: one per core with Redis; the in-process store: 1)."),
    ] = None,
    loop: Annotated[str, typer.Option(help="Event loop: auto | asyncio | uvloop.")] = "auto",
    http: Annotated[str, typer.Option(help="HTTP parser: auto | h11 | httptools.")] = "auto",
) -> None:
    """Start the REST service (uvicorn; one process per core when the store is Redis)."""
    from service.main import serve as run_server

    if loop not in ("auto", "asyncio", "uvloop") or http not in ("auto", "h11", "httptools"):
        raise _fail(f"unknown --loop {loop!r} or --http {http!r}")
    run_server(host=host, port=port, workers=workers, loop=loop, http=http)  # type: ignore[arg-type]


@app.command("eval")
def eval_(
    users: Annotated[int | None, typer.Option(help="Seeded sample of test users (default: all).")] = None,
    llm_users: Annotated[
        int | None, typer.Option(help="LLM arms on the first N users of the same sample (default: --users).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the user sample.")] = 0,
    arm: Annotated[
        list[str] | None,
        typer.Option(
            "--arm",
            help="Arm (repeatable): a name in prompts/experiments.yaml or llm:<prompt>; rules always runs.",
        ),
    ] = None,
    context: Annotated[str, typer.Option(help="Playlist context: both | with | without.")] = "both",
    deadline: Annotated[
        bool,
        typer.Option("--deadline", help="Apply each arm's serving timeout_ms (default: none, quality mode)."),
    ] = False,
    base_url: Annotated[
        str | None,
        typer.Option(help="OpenAI-compatible endpoint for the LLM arms (default: embedded model)."),
    ] = None,
    model: Annotated[str, typer.Option(help="Model name at --base-url.")] = "default",
    dialect: Annotated[
        str, typer.Option(help="Structured-output dialect at --base-url: vllm | llamacpp.")
    ] = "llamacpp",
    name: Annotated[
        str | None, typer.Option(help="Report folder name under reports/ (default: UTC timestamp).")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Report folder (overrides --name).")] = None,
    cache_dir: Annotated[
        Path | None, typer.Option(help="Per-arm result cache (default: reports/cache).")
    ] = None,
    artifacts: Annotated[
        Path | None, typer.Option(help="Trained artifacts (default $CARE_ARTIFACTS).")
    ] = None,
    baselines: Annotated[bool, typer.Option(help="Popularity, EASE and item-kNN on the same split.")] = True,
    n_boot: Annotated[int, typer.Option(help="Bootstrap resamples per comparison.")] = 2000,
    progress: Annotated[bool, typer.Option(help="Progress bars.")] = True,
    protocol: Annotated[
        str,
        typer.Option(
            help="derived: titles derived from each user's history; titles: two labelled free-form "
            "titles per user from eval/titles.yaml (TitleFit@10, NDCG@10, steerability)."
        ),
    ] = "derived",
    order_users: Annotated[
        int,
        typer.Option(help="Order sensitivity: reshuffle the LLM scores of this many LLM users (0: skip)."),
    ] = 0,
    order_passes: Annotated[int, typer.Option(help="Shuffles per user for --order-users.")] = 2,
    tuned_adapter: Annotated[
        Path | None,
        typer.Option(help="LoRA adapter GGUF of the tuned arms (default: what `care tune` wrote)."),
    ] = None,
) -> None:
    """Replay the test window per arm; write report.json/.md, plots, TREC runs and qrels."""
    from eval.cli import eval_cli

    try:
        folder = eval_cli(
            users=users,
            llm_users=llm_users,
            seed=seed,
            arms=arm,
            context=context,
            deadline=deadline,
            base_url=base_url,
            model=model,
            dialect=dialect,
            name=name,
            out=out,
            cache_dir=cache_dir,
            artifacts=artifacts,
            baselines=baselines,
            n_boot=n_boot,
            progress=progress,
            protocol=protocol,
            order_users=order_users,
            order_passes=order_passes,
            tuned_adapter=tuned_adapter,
        )
    except (FileNotFoundError, ValueError) as exc:
        raise _fail(str(exc)) from exc
    typer.echo(str(folder / "report.md"))


@app.command("tune-fusion")
def tune_fusion(
    users: Annotated[int, typer.Option(help="Held-out test users to tune on.")] = 80,
    eval_users: Annotated[
        int, typer.Option(help="Skip the first N users of the eval's seeded sample (they are reported on).")
    ] = 300,
    seed: Annotated[int, typer.Option(help="Seed of the user sample (as `care eval --seed`).")] = 0,
    prompt: Annotated[str, typer.Option(help="Prompt file the fused arm scores with.")] = "fused",
    name: Annotated[
        str, typer.Option(help="Writes prompts/<name>.yaml (arms read it with tuned: <name>).")
    ] = ("fusion_tuned"),
    base_url: Annotated[
        str | None, typer.Option(help="OpenAI-compatible endpoint (default: embedded model).")
    ] = None,
    model: Annotated[str, typer.Option(help="Model name at --base-url.")] = "default",
    dialect: Annotated[str, typer.Option(help="vllm | llamacpp (at --base-url).")] = "llamacpp",
    cache_dir: Annotated[Path, typer.Option(help="Where LLM window scores are kept.")] = Path(
        "reports/cache"
    ),
    artifacts: Annotated[
        Path | None, typer.Option(help="Trained artifacts (default $CARE_ARTIFACTS).")
    ] = None,
    require_gain: Annotated[
        bool,
        typer.Option(help="Keep a weight > 0 only if its NDCG@10 gain over weight 0 has a CI above zero."),
    ] = True,
    tuned: Annotated[
        bool,
        typer.Option(help="Score with the tuned model (`care tune`'s LoRA adapter) instead of the base."),
    ] = False,
    tuned_adapter: Annotated[
        Path | None, typer.Option(help="LoRA adapter GGUF for --tuned (default: what `care tune` wrote).")
    ] = None,
) -> None:
    """Pick the fused LLM arm's weight and MMR lambda on held-out users; write prompts/<name>.yaml."""
    from cascade.llm import DIALECTS, HTTPBackendConfig, InProcessBackendConfig, LLMSettings, pull_smollm2
    from eval.tune_fusion import tune_fusion as run

    if dialect not in DIALECTS:
        raise typer.BadParameter(f"must be one of {list(DIALECTS)}", param_hint="--dialect")
    if base_url:
        backend: HTTPBackendConfig | InProcessBackendConfig = HTTPBackendConfig.model_validate(
            {"base_url": base_url, "model": model, "dialect": dialect}
        )
    else:
        pull_smollm2()
        backend = InProcessBackendConfig(tuned_adapter=tuned_adapter)
    try:
        doc = run(
            LLMSettings(backend=backend), users=users, eval_users=eval_users, seed=seed, prompt=prompt,
            name=name, cache_dir=cache_dir, artifacts=artifacts, require_gain=require_gain,
            model="tuned" if tuned else "base",
        )  # fmt: skip
    except (FileNotFoundError, ValueError) as exc:
        raise _fail(str(exc)) from exc
    c, r = doc["chosen"], doc["rules"]
    typer.echo(
        f"weight={c['weight']} mmr_lambda={c['mmr_lambda']}: "
        f"NDCG@10 {c['ndcg@10']:.4f} ILD {c['ild_genre']:.3f}"
        f" (rules: {r['ndcg@10']:.4f} / {r['ild_genre']:.3f}) on {doc['users']} held-out users"
    )


@app.command("tune")
def tune(
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default $CARE_HOME/models/care-tuned); resumes there.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the user split, titles, shuffles and LoRA init.")] = 0,
    max_users: Annotated[
        int | None, typer.Option(help="Build examples from this many validation users (default: all).")
    ] = None,
    val_users: Annotated[int, typer.Option(help="Users held out for early stopping.")] = 48,
    negatives: Annotated[
        str,
        typer.Option(
            help="Training windows: hard (the ranker's top 20) | mixed (its top 10 and 10 random unseen "
            "catalog items). Held-out windows are always hard."
        ),
    ] = "hard",
    rank: Annotated[int, typer.Option(help="LoRA rank.")] = 8,
    alpha: Annotated[float, typer.Option(help="LoRA alpha (scale alpha / rank).")] = 16.0,
    lr: Annotated[float, typer.Option(help="Peak learning rate (AdamW, warmup then linear decay).")] = 5e-4,
    epochs: Annotated[int, typer.Option(help="Passes over the training examples.")] = 1,
    grad_accum: Annotated[int, typer.Option(help="Examples per optimizer step.")] = 8,
    max_steps: Annotated[int | None, typer.Option(help="Stop after this many optimizer steps.")] = None,
    eval_every: Annotated[int, typer.Option(help="Optimizer steps between held-out validations.")] = 15,
    patience: Annotated[int, typer.Option(help="Validations without improvement before stopping.")] = 3,
    max_minutes: Annotated[
        float | None, typer.Option(help="Time budget; stops at the next validation past it.")
    ] = None,
    device: Annotated[str, typer.Option(help="auto (CUDA when present) | cpu | cuda.")] = "auto",
    precision: Annotated[str, typer.Option(help="auto | fp32 | bf16 (autocast).")] = "auto",
    artifacts: Annotated[Path | None, typer.Option(help="Trained cascade (default $CARE_ARTIFACTS).")] = None,
    progress: Annotated[bool, typer.Option(help="Progress bars.")] = True,
) -> None:
    """Fine-tune the embedded LLM with LoRA as a verbalizer on the validation window; write the adapter."""
    from pydantic import ValidationError

    from cascade.llm import pull_smollm2
    from cascade.rerank.llm.models import tuned_dir
    from cascade.tune.config import TuneConfig
    from cascade.tune.train import tune as run

    try:
        cfg = TuneConfig.model_validate(
            {"seed": seed, "max_users": max_users, "val_users": val_users, "negatives": negatives,
             "rank": rank, "alpha": alpha,
             "lr": lr, "epochs": epochs, "grad_accum": grad_accum, "max_steps": max_steps,
             "eval_every": eval_every, "patience": patience, "max_minutes": max_minutes,
             "device": device, "precision": precision}
        )  # fmt: skip
    except ValidationError as exc:
        raise _fail(str(exc)) from exc
    folder = out or tuned_dir()
    try:
        manifest = run(
            cfg, folder, pull_smollm2(), artifacts=artifacts,
            forbidden_titles=_eval_titles(), progress=progress,
        )  # fmt: skip
    except (FileNotFoundError, ValueError) as exc:
        raise _fail(str(exc)) from exc
    v, t = manifest["validation"], manifest["training"]
    typer.echo(
        f"held-out NDCG@10 {v['zero_shot']['ndcg@10']:.4f} -> {v['best']:.4f} (step {v['best_step']}); "
        f"{t['steps']} steps, {t['examples_seen']} examples, {t['train_seconds']:.0f} s, {t['stopped']}"
    )
    typer.echo(str(folder / "manifest.json"))


if __name__ == "__main__":
    app()
