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
app.add_typer(data_app, name="data")
app.add_typer(models_app, name="models")
app.add_typer(bench_app, name="bench")


def _fail(message: str) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code=2)


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
    from cascade.rerank.llm.models import pull_smollm2

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
) -> None:
    """Per strategy and backend: p50/p95 latency, tokens, validity before repair, cache hits."""
    from cascade.bench.llm import run

    run(n=n, base_url=base_url)


@bench_app.command("service")
def bench_service(
    requests: Annotated[int, typer.Option(help="Requests per arm.")] = 2000,
    concurrency: Annotated[int, typer.Option(help="Concurrent connections.")] = 8,
) -> None:
    """Throughput and p50/p99 of /recommend over loopback HTTP, rules arm and LLM arm."""
    from service.bench import run

    run(requests=requests, concurrency=concurrency)


@app.command("train")
def train(
    out: Annotated[Path | None, typer.Option(help="Artifacts folder (default $CARE_ARTIFACTS).")] = None,
    seed: Annotated[int, typer.Option(help="Seed for every random choice.")] = 7,  # cascade.train.SEED
    if_missing: Annotated[bool, typer.Option("--if-missing", help="Do nothing if artifacts exist.")] = False,
    source: Annotated[Path | None, typer.Option(help="Dataset folder (default MovieLens-100k).")] = None,
) -> None:
    """Data -> features -> two-tower -> FAISS index -> XGBoost ranker, with a manifest.json."""
    from cascade.train import train_cli

    train_cli(out=out, seed=seed, if_missing=if_missing, source=source)


@bench_app.command("cold-start")
def bench_cold_start(
    items: Annotated[int, typer.Option(help="New items added through the same path as POST /items.")] = 10,
) -> None:
    """A simulated day: new items added, one request per user; how often new items are shown."""
    from cascade.bench.cold_start import run

    run(n_items=items)


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

    rows = run(train_two_tower=train_two_tower)
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
) -> None:
    """Start the REST service (uvicorn, one worker)."""
    from service.main import serve as run_server

    run_server(host=host, port=port)


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
        )
    except (FileNotFoundError, ValueError) as exc:
        raise _fail(str(exc)) from exc
    typer.echo(str(folder / "report.md"))


if __name__ == "__main__":
    app()
