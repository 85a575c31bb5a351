"""What the command modules share: the error exit, the eval's titles, pinned-asset fetches."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer

EXPERIMENTS_OPT = typer.Option(help="Experiments file with the configured weights (default prompts/).")


def fail(message: str) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code=2)


def eval_titles() -> list[str]:
    """The eval's labelled playlist titles, which no training title may repeat."""
    from eval.titlefit import load_titles

    return [t.title for t in load_titles()]


def fetch_asset(fetch: Callable[[Callable[[str], None]], Path]) -> None:
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
        raise fail(str(exc)) from exc
    typer.echo(str(path))
