"""`care models ...`: the model files."""

from __future__ import annotations

import typer

from service.cli.common import fetch_asset

app = typer.Typer(help="Model files (LLM GGUF) and trained artifacts.", no_args_is_help=True)


@app.command("pull")
def models_pull() -> None:
    """Fetch the embedded LLM (SmolLM2-135M-Instruct Q4_1 GGUF) into $CARE_HOME, verified."""
    from cascade.llm import pull_smollm2

    fetch_asset(pull_smollm2)
