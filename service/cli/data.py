"""`care data ...`: fetch, synthesize and inspect data sets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from service.cli.common import fail, fetch_asset

app = typer.Typer(help="Datasets.", no_args_is_help=True)


@app.command("fetch")
def data_fetch() -> None:
    """Fetch MovieLens-100k into $CARE_HOME (verified against a pinned sha256)."""
    from cascade.data.fetch import fetch_ml100k

    fetch_asset(fetch_ml100k)


@app.command("synth")
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


@app.command("info")
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
        raise fail(str(exc)) from exc
    sp = split_by_user(ds.interactions)
    typer.echo(
        f"users={len(ds.users.user_ids)} items={len(ds.catalog)} interactions={len(ds.interactions)} "
        f"train={len(sp.train)} val={len(sp.val)} test={len(sp.test)}"
    )
