"""`care llm qualify` and `care llm calibrate`: does a model help the fused arm; what must it carry."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from service.cli.common import fail

app = typer.Typer(
    help="Qualify an LLM for the fused arm; calibrate the signal it must carry.", no_args_is_help=True
)


def _out(out: Path | None, prefix: str) -> Path:
    folder = out or Path("reports") / f"{prefix}-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}"
    if folder.exists() and not folder.is_dir():
        raise fail(f"--out {folder} exists and is not a folder")
    return folder


@app.command("qualify")
def qualify(
    base_url: Annotated[
        str | None, typer.Option(help="OpenAI-compatible endpoint (vLLM); default: the embedded model.")
    ] = None,
    model: Annotated[str, typer.Option(help="Model name at --base-url.")] = "default",
    dialect: Annotated[str, typer.Option(help="vllm | llamacpp (at --base-url).")] = "llamacpp",
    tuned_adapter: Annotated[
        Path | None, typer.Option(help="Embedded model only: score with this LoRA adapter GGUF.")
    ] = None,
    users: Annotated[int, typer.Option(min=2, help="Validation windows (one per user).")] = 100,
    shuffles: Annotated[int, typer.Option(min=2, max=8, help="Seeded shuffles per window.")] = 3,
    titled: Annotated[
        int, typer.Option(min=0, help="Of the users, also scored under a labelled title.")
    ] = 20,
    seed: Annotated[int, typer.Option(help="Seed of the user sample and the shuffles.")] = 0,
    prompt: Annotated[str, typer.Option(help="Prompt file the fused arm scores with.")] = "fused",
    calibration: Annotated[
        Path | None, typer.Option(help="calibration.json of `care llm calibrate` (default: the shipped one).")
    ] = None,
    name: Annotated[
        str, typer.Option(help="On serve, writes prompts/<name>.yaml (arms read it with tuned: <name>).")
    ] = "fusion_tuned",
    out: Annotated[
        Path | None, typer.Option(help="Report folder (default reports/llm-qualify-<time>).")
    ] = None,
    artifacts: Annotated[
        Path | None, typer.Option(help="Trained artifacts (default $CARE_ARTIFACTS).")
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=0,
            help="Windows scored side by side (0: the embedded model's n_threads, one thread each; "
            "4 requests in flight over HTTP).",
        ),
    ] = 0,
    progress: Annotated[bool, typer.Option(help="Progress lines.")] = True,
) -> None:
    """Score validation windows under shuffles; write DIR/qualify.json and qualify.md with a verdict."""
    from cascade.llm import llm_settings, pull_smollm2
    from eval.llm.qualify import CALIBRATION_FILE, QualifyConfig
    from eval.llm.qualify import qualify as run

    if base_url and tuned_adapter:
        raise fail(
            "--tuned-adapter applies to the embedded model; over HTTP name the LoRA module with --model"
        )
    if tuned_adapter is not None and not tuned_adapter.is_file():
        raise fail(f"--tuned-adapter {tuned_adapter}: no such file")
    if titled > users:
        raise fail(f"--titled {titled} exceeds --users {users}")
    folder = _out(out, "llm-qualify")
    try:
        settings = llm_settings(base_url, model, dialect, tuned_adapter)
    except ValueError as exc:
        raise fail(str(exc)) from exc
    if not base_url:
        pull_smollm2()
    cfg = QualifyConfig(
        settings, users=users, shuffles=shuffles, titled=titled, seed=seed, prompt=prompt,
        model="tuned" if tuned_adapter else "base", calibration=calibration or CALIBRATION_FILE, name=name,
        artifacts=artifacts, progress=progress, workers=workers,
    )  # fmt: skip
    try:
        doc = run(cfg, folder)
    except (FileNotFoundError, ValueError) as exc:
        raise fail(str(exc)) from exc
    a, lat = doc["auc"], doc["latency_ms_per_window"]
    typer.echo(
        f"AUC {a['mean']:.3f} [{a['lo']:.3f}, {a['hi']:.3f}] on {doc['windows']['plain']} val windows; "
        f"position prior {doc['position_prior']['variance_share']:.0%} of score variance; "
        f"window p50 {lat['p50']:.0f} ms, p95 {lat['p95']:.0f} ms"
    )
    t, w = doc["timing"], doc["windows"]
    typer.echo(
        f"{w['plain'] + w['titled']} windows x {w['shuffles']} shuffles "
        f"in {t['wall_s']:.0f} s ({t['scoring_cpu_s']:.0f} CPU s scoring, {t['workers']} workers, "
        f"load average {t['load_average_start'][0]:.1f} -> {t['load_average'][0]:.1f})"
    )
    typer.echo(f"verdict: {doc['verdict']} (weight {doc['weight']:g}): {doc['reason']}")
    if doc["fusion_file"]:
        typer.echo(f"wrote {doc['fusion_file']}")
    typer.echo(str(folder / "qualify.md"))


@app.command("calibrate")
def calibrate(
    auc: Annotated[
        list[float] | None, typer.Option("--auc", help="Target AUC of the synthetic scorer (repeatable).")
    ] = None,
    users: Annotated[int, typer.Option(min=10, help="Eval users; as many more (disjoint) tune.")] = 300,
    seed: Annotated[int, typer.Option(help="Seed of the user sample, titles and scorer noise.")] = 0,
    n_boot: Annotated[int, typer.Option(min=100, help="Bootstrap resamples per interval.")] = 2000,
    out: Annotated[
        Path | None, typer.Option(help="Report folder (default reports/llm-calibrate-<time>).")
    ] = None,
    artifacts: Annotated[
        Path | None, typer.Option(help="Trained artifacts (default $CARE_ARTIFACTS).")
    ] = None,
) -> None:
    """Synthetic scorers of known AUC through tune-fusion; write DIR/calibration.json, .md and .png."""
    from eval.llm.calibrate import DEFAULT_AUCS, write
    from eval.llm.calibrate import calibrate as run

    aucs = list(auc or DEFAULT_AUCS)
    if bad := [a for a in aucs if not 0.0 < a < 1.0]:
        raise fail(f"--auc must lie strictly between 0 and 1: {bad}")
    folder = _out(out, "llm-calibrate")
    try:
        doc = run(aucs, users=users, seed=seed, artifacts=artifacts, n_boot=n_boot)
    except (FileNotFoundError, ValueError) as exc:
        raise fail(str(exc)) from exc
    write(folder, doc)
    for r in doc["rows"]:
        g, t = r["ndcg_gain"], r["titlefit_gain"]
        typer.echo(
            f"AUC {r['auc']:.2f} (measured {r['measured_auc']:.3f}): weight {r['weight']:g} "
            f"lambda {r['mmr_lambda']:g}, NDCG@10 gain {g['mean']:+.4f} [{g['lo']:+.4f}, {g['hi']:+.4f}]; "
            f"TitleFit@10 weight {r['titlefit_weight']:g}, "
            f"gain {t['mean']:+.4f} [{t['lo']:+.4f}, {t['hi']:+.4f}]"
        )
    be, r0 = doc["break_even_auc"], doc["rows"][0]
    typer.echo(
        f"break-even AUC: NDCG@10 {be['ndcg']}, TitleFit@10 {be['titlefit']} "
        f"(rules: NDCG@10 {r0['ndcg_rules']:.4f}, TitleFit@10 {r0['titlefit_rules']:.4f})"
    )
    typer.echo(str(folder / "calibration.md"))
