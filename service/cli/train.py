"""`care train`, `care ablation`, `care versus`: fit the cascade and compare it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from service.cli.common import eval_titles

app = typer.Typer()


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
    train_cli(out, seed, if_missing, source, eval_titles(), engine)


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

    rows = run(train_two_tower=train_two_tower, forbidden_titles=eval_titles())
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
