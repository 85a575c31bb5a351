"""`care tune` and `care tune-fusion`: fit the LLM stage and its fusion weight."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from service.cli.common import eval_titles, fail

app = typer.Typer()


@app.command("tune-fusion")
def tune_fusion(
    users: Annotated[int, typer.Option(help="Held-out test users to tune on.")] = 80,
    eval_users: Annotated[
        int, typer.Option(help="Skip the first N users of the eval's seeded sample (they are reported on).")
    ] = 300,
    seed: Annotated[int, typer.Option(help="Seed of the user sample (as `care eval --seed`).")] = 0,
    prompt: Annotated[str, typer.Option(help="Prompt file the fused arm scores with.")] = "fused",
    name: Annotated[
        str, typer.Option(help="Writes prompts/<name>.yaml (arms read it with tuned: <name>).")
    ] = ("fusion_tuned"),
    base_url: Annotated[
        str | None, typer.Option(help="OpenAI-compatible endpoint (default: embedded model).")
    ] = None,
    model: Annotated[str, typer.Option(help="Model name at --base-url.")] = "default",
    dialect: Annotated[str, typer.Option(help="vllm | llamacpp (at --base-url).")] = "llamacpp",
    cache_dir: Annotated[Path, typer.Option(help="Where LLM window scores are kept.")] = Path(
        "reports/cache"
    ),
    artifacts: Annotated[
        Path | None, typer.Option(help="Trained artifacts (default $CARE_ARTIFACTS).")
    ] = None,
    require_gain: Annotated[
        bool,
        typer.Option(help="Keep a weight > 0 only if its NDCG@10 gain over weight 0 has a CI above zero."),
    ] = True,
    tuned: Annotated[
        bool,
        typer.Option(help="Score with the tuned model (`care tune`'s LoRA adapter) instead of the base."),
    ] = False,
    tuned_adapter: Annotated[
        Path | None, typer.Option(help="LoRA adapter GGUF for --tuned (default: what `care tune` wrote).")
    ] = None,
) -> None:
    """Pick the fused LLM arm's weight and MMR lambda on held-out users; write prompts/<name>.yaml."""
    from cascade.llm import llm_settings, pull_smollm2
    from eval.tune_fusion import tune_fusion as run

    try:
        settings = llm_settings(base_url, model, dialect, tuned_adapter)
        if not base_url:
            pull_smollm2()
        doc = run(
            settings, users=users, eval_users=eval_users, seed=seed, prompt=prompt,
            name=name, cache_dir=cache_dir, artifacts=artifacts, require_gain=require_gain,
            model="tuned" if tuned else "base",
        )  # fmt: skip
    except (FileNotFoundError, ValueError) as exc:
        raise fail(str(exc)) from exc
    c, r = doc["chosen"], doc["rules"]
    typer.echo(
        f"weight={c['weight']} mmr_lambda={c['mmr_lambda']}: "
        f"NDCG@10 {c['ndcg@10']:.4f} ILD {c['ild_genre']:.3f}"
        f" (rules: {r['ndcg@10']:.4f} / {r['ild_genre']:.3f}) on {doc['users']} held-out users"
    )


@app.command("tune")
def tune(
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default $CARE_HOME/models/care-tuned); resumes there.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the user split, titles, shuffles and LoRA init.")] = 0,
    max_users: Annotated[
        int | None, typer.Option(help="Build examples from this many validation users (default: all).")
    ] = None,
    val_users: Annotated[int, typer.Option(help="Users held out for early stopping.")] = 48,
    negatives: Annotated[
        str,
        typer.Option(
            help="Training windows: hard (the ranker's top 20) | mixed (its top 10 and 10 random unseen "
            "catalog items). Held-out windows are always hard."
        ),
    ] = "hard",
    rank: Annotated[int, typer.Option(help="LoRA rank.")] = 8,
    alpha: Annotated[float, typer.Option(help="LoRA alpha (scale alpha / rank).")] = 16.0,
    lr: Annotated[float, typer.Option(help="Peak learning rate (AdamW, warmup then linear decay).")] = 5e-4,
    epochs: Annotated[int, typer.Option(help="Passes over the training examples.")] = 1,
    grad_accum: Annotated[int, typer.Option(help="Examples per optimizer step.")] = 8,
    max_steps: Annotated[int | None, typer.Option(help="Stop after this many optimizer steps.")] = None,
    eval_every: Annotated[int, typer.Option(help="Optimizer steps between held-out validations.")] = 15,
    patience: Annotated[int, typer.Option(help="Validations without improvement before stopping.")] = 3,
    max_minutes: Annotated[
        float | None, typer.Option(help="Time budget; stops at the next validation past it.")
    ] = None,
    device: Annotated[str, typer.Option(help="auto (CUDA when present) | cpu | cuda.")] = "auto",
    precision: Annotated[str, typer.Option(help="auto | fp32 | bf16 (autocast).")] = "auto",
    artifacts: Annotated[Path | None, typer.Option(help="Trained cascade (default $CARE_ARTIFACTS).")] = None,
    progress: Annotated[bool, typer.Option(help="Progress bars.")] = True,
) -> None:
    """Fine-tune the embedded LLM with LoRA as a verbalizer on the validation window; write the adapter."""
    from pydantic import ValidationError

    from cascade.llm import pull_smollm2, tuned_dir
    from cascade.tune.config import TuneConfig
    from cascade.tune.train import tune as run

    try:
        cfg = TuneConfig.model_validate(
            {"seed": seed, "max_users": max_users, "val_users": val_users, "negatives": negatives,
             "rank": rank, "alpha": alpha,
             "lr": lr, "epochs": epochs, "grad_accum": grad_accum, "max_steps": max_steps,
             "eval_every": eval_every, "patience": patience, "max_minutes": max_minutes,
             "device": device, "precision": precision}
        )  # fmt: skip
    except ValidationError as exc:
        raise fail(str(exc)) from exc
    folder = out or tuned_dir()
    try:
        manifest = run(
            cfg, folder, pull_smollm2(), artifacts=artifacts,
            forbidden_titles=eval_titles(), progress=progress,
        )  # fmt: skip
    except (FileNotFoundError, ValueError) as exc:
        raise fail(str(exc)) from exc
    v, t = manifest["validation"], manifest["training"]
    typer.echo(
        f"held-out NDCG@10 {v['zero_shot']['ndcg@10']:.4f} -> {v['best']:.4f} (step {v['best_step']}); "
        f"{t['steps']} steps, {t['examples_seen']} examples, {t['train_seconds']:.0f} s, {t['stopped']}"
    )
    typer.echo(str(folder / "manifest.json"))
