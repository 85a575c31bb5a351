"""`care eval`: the offline evaluation harness."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from service.cli.common import fail

app = typer.Typer()


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
    titles: Annotated[
        Path | None,
        typer.Option(help="--protocol titles: the labelled title file (default: eval/titles.yaml)."),
    ] = None,
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
            titles=titles,
            order_users=order_users,
            order_passes=order_passes,
            tuned_adapter=tuned_adapter,
        )
    except (FileNotFoundError, ValueError) as exc:
        raise fail(str(exc)) from exc
    typer.echo(str(folder / "report.md"))
