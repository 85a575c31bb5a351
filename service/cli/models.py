"""`care models ...`: the LLM model file, and the trained artifacts' versions a running service follows."""

from __future__ import annotations

from typing import Annotated

import typer

from service.cli.common import fail, fetch_asset

app = typer.Typer(help="Model files (LLM GGUF) and trained artifacts.", no_args_is_help=True)


@app.command("pull")
def models_pull() -> None:
    """Fetch the embedded LLM (SmolLM2-135M-Instruct Q4_1 GGUF) into $CARE_HOME, verified."""
    from cascade.llm import pull_smollm2

    fetch_asset(pull_smollm2)


@app.command("list")
def models_list() -> None:
    """The trained versions beside $CARE_ARTIFACTS (default $CARE_HOME/artifacts/current), newest last."""
    from cascade.runtime.versions import PREVIOUS, default_pointer, target, versions

    pointer = default_pointer()
    current, previous = target(pointer), target(pointer.parent / PREVIOUS)
    found = versions(pointer)
    if not found and not pointer.is_dir():
        raise fail(f"no trained versions under {pointer.parent} (run `care train`)")
    if pointer.is_dir() and not pointer.is_symlink():
        typer.echo(f"{pointer} is a folder, not a pointer yet: `care models activate` converts it")
    for v in found:
        mark = "current" if v.name == current else "previous" if v.name == previous else ""
        typer.echo(f"{mark:8s}  {v.name:28s} model={v.model_version} ranker={v.ranker_version}")


@app.command("activate")
def models_activate(
    version: Annotated[str, typer.Argument(help="A version folder's name (see `care models list`).")],
) -> None:
    """Point `current` at VERSION; running services switch to it, one worker at a time, within seconds."""
    from cascade.runtime.versions import VersionError, activate

    try:
        old, new = activate(version)
    except VersionError as exc:
        raise fail(str(exc)) from exc
    typer.echo(f"current: {old or '(folder)'} -> {new}")


@app.command("rollback")
def models_rollback() -> None:
    """Point `current` back at the version it named before the last activation."""
    from cascade.runtime.versions import VersionError, rollback

    try:
        old, new = rollback()
    except VersionError as exc:
        raise fail(str(exc)) from exc
    typer.echo(f"current: {old} -> {new} (rolled back)")
