"""`care recommend`: one recommendation from the trained artifacts, printed with titles."""

from __future__ import annotations

import asyncio

import typer
from rich.console import Console
from rich.table import Table

from cascade.features.online import MemoryStoreConfig, create_store
from cascade.runtime import load_runtime
from cascade.types import Context
from service.loaded import service_resolver
from service.settings import Settings


def recommend_cli(user_id: int, k: int, playlist_title: str | None, arm: str | None) -> None:
    settings = Settings()
    try:
        runtime = load_runtime(settings.artifacts)
    except FileNotFoundError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from exc
    store = runtime.feature_store(create_store(MemoryStoreConfig()))
    pipeline = runtime.online_pipeline(store)
    arms = service_resolver(settings, runtime).resolve_file(settings.experiments_file, settings.prompts_dir)
    choice = arms.forced(arm) if arm else arms.assign(user_id)
    if choice is None:
        typer.secho(
            f"error: unknown arm {arm!r}; known: {', '.join(arms.names())}", fg=typer.colors.RED, err=True
        )
        raise typer.Exit(2)
    rec = asyncio.run(pipeline.recommend(user_id, k, Context(playlist_title=playlist_title), choice.arm))
    table = Table(title=f"user {user_id} · arm {rec.arm} · re-ranker {rec.reranker_used}")
    for col in ("#", "item", "title", "year", "genres", "score"):
        table.add_column(col)
    for n, (item, score) in enumerate(rec.items, start=1):
        table.add_row(
            str(n), str(item.item_id), item.title, str(item.year), ", ".join(item.genres), f"{score:.3f}"
        )
    console = Console()
    console.print(table)
    if rec.fallback_reason:
        console.print(f"fallback: {rec.fallback_reason}")
    console.print("timings (ms): " + ", ".join(f"{k}={v:.2f}" for k, v in rec.timings_ms.items()))
