"""`care serve` and `care recommend`: the service and a one-off recommendation."""

from __future__ import annotations

from typing import Annotated

import typer

from service.cli.common import fail

app = typer.Typer()


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
    accept: Annotated[
        str,
        typer.Option(
            help="Several workers: balanced (least connections) | queue (HAProxy queues requests for "
            "free workers) | shared (kernel wake-up order)."
        ),
    ] = "balanced",
    slots: Annotated[
        int,
        typer.Option(
            min=1,
            help="With --accept queue: requests a worker holds at once (raise it for "
            "arms that wait on a remote LLM).",
        ),
    ] = 1,
) -> None:
    """Start the REST service (uvicorn; one process per core when the store is Redis)."""
    from service.main import serve as run_server

    if loop not in ("auto", "asyncio", "uvloop") or http not in ("auto", "h11", "httptools"):
        raise fail(f"unknown --loop {loop!r} or --http {http!r}")
    if accept not in ("balanced", "queue", "shared"):
        raise fail(f"unknown --accept {accept!r}: balanced, queue or shared")
    run_server(host=host, port=port, workers=workers, loop=loop, http=http, accept=accept, slots=slots)  # type: ignore[arg-type]
