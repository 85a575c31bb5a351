"""The `care` command line, assembled from one module per command group.

Each command imports its heavy dependencies only when it runs.
"""

from __future__ import annotations

import typer

from service.cli import ab, bench_cascade, bench_service, data, evaluate, llm, models, serve, train, tune

app = typer.Typer(help="care: a recommendation cascade with an LLM re-ranker.", no_args_is_help=True)
bench_app = typer.Typer(
    help="Benchmarks: each prints its numbers beside the floor it compares against.", no_args_is_help=True
)
bench_app.add_typer(bench_cascade.app)
bench_app.add_typer(bench_service.app)

app.add_typer(data.app, name="data")
app.add_typer(models.app, name="models")
app.add_typer(bench_app, name="bench")
app.add_typer(ab.app, name="ab")
app.add_typer(llm.app, name="llm")
for group in (train, serve, evaluate, tune):
    app.add_typer(group.app)

__all__ = ["app"]
