"""`care ab ...`: online A/B reports and simulation."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from service.cli.common import EXPERIMENTS_OPT, fail

if TYPE_CHECKING:
    from cascade.impressions import ImpressionLog

app = typer.Typer(
    help="Online A/B results: impressions, attribution, reports, simulation.", no_args_is_help=True
)


def _open_source(redis_url: str | None, prefix: str | None, sqlite: Path | None) -> ImpressionLog:
    """The log to read: --sqlite, --redis-url, or what the service's CARE_* settings select."""
    from cascade.impressions import RedisImpressionLog, SqliteImpressionLog

    if sqlite is not None:
        if not sqlite.is_file():
            raise ValueError(f"{sqlite}: no such impression log")
        return SqliteImpressionLog(sqlite)
    from service.settings import Settings
    from service.tracking import open_log

    s = Settings()
    url = redis_url or s.impressions_redis_url or s.redis_url
    if url is not None:
        return RedisImpressionLog(url, prefix if prefix is not None else s.redis_prefix)
    sink = open_log(s.model_copy(update={"impressions": "sqlite"}))
    assert sink is not None
    return sink


@app.command("report")
def ab_report(
    since: Annotated[
        str | None, typer.Option(help="Start: unix seconds or ISO-8601 (UTC); default: all.")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="End: unix seconds or ISO-8601 (UTC); default: now.")
    ] = None,
    experiments_file: Annotated[Path | None, EXPERIMENTS_OPT] = None,
    experiment: Annotated[str | None, typer.Option(help="Experiment (default: the file's first).")] = None,
    control: Annotated[str | None, typer.Option(help="Control arm (default: rules).")] = None,
    out: Annotated[Path | None, typer.Option(help="Report folder (default reports/ab-<UTC time>).")] = None,
    redis_url: Annotated[str | None, typer.Option(help="Read this Redis (default: CARE_ settings).")] = None,
    prefix: Annotated[
        str | None, typer.Option(help="Key prefix in that Redis (default CARE_REDIS_PREFIX).")
    ] = None,
    sqlite: Annotated[Path | None, typer.Option(help="Read this SQLite impression log instead.")] = None,
    n_boot: Annotated[int, typer.Option(min=100, help="Bootstrap resamples of users.")] = 2000,
    alpha: Annotated[float, typer.Option(help="SRM p-value below which the check fails.")] = 0.001,
) -> None:
    """Per-arm online results for a time range (JSON, markdown, plots); exits 3 on a sample ratio mismatch."""
    from cascade.experiments import EXPERIMENTS_FILE
    from eval.ab.cli import report_cli
    from eval.ab.report import SRMFailure

    try:
        folder, mdes = report_cli(
            since, until, experiments_file or EXPERIMENTS_FILE, experiment, control, out,
            _open_source(redis_url, prefix, sqlite), n_boot, alpha,
        )  # fmt: skip
    except SRMFailure as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=3) from exc
    except (ValueError, OSError) as exc:
        raise fail(str(exc)) from exc
    for line in mdes:
        typer.echo(line)
    typer.echo(str(folder / "report.md"))


@app.command("simulate")
def ab_simulate(
    users: Annotated[int | None, typer.Option(help="Seeded sample of test users (default: all).")] = None,
    cold_users: Annotated[int, typer.Option(min=0, help="Extra unknown users (cold start).")] = 0,
    requests: Annotated[
        int | None, typer.Option(min=1, help="Requests per user (default: the user's test-window length).")
    ] = None,
    k: Annotated[int, typer.Option(min=1, max=100, help="Items per request.")] = 10,
    concurrency: Annotated[int, typer.Option(min=1, help="Users in parallel.")] = 8,
    seed: Annotated[int, typer.Option(help="Seed of the user sample and the clicks.")] = 0,
    attract: Annotated[float, typer.Option(help="P(play | examined, in the user's test window).")] = 0.9,
    noise: Annotated[float, typer.Option(help="P(play | examined, not in the test window).")] = 0.0,
    patience: Annotated[float, typer.Option(help="P(examine the next position | not played).")] = 0.85,
    satisfied: Annotated[float, typer.Option(help="P(stop | played).")] = 0.5,
    like_rating: Annotated[
        float, typer.Option(help="A played item is liked when rated at least this.")
    ] = 4.0,
    skew: Annotated[
        str | None,
        typer.Option(help="Serve with ARM's weight changed by POINTS (ARM=POINTS): the SRM must fail."),
    ] = None,
    experiments_file: Annotated[Path | None, EXPERIMENTS_OPT] = None,
    redis_url: Annotated[
        str | None, typer.Option(help="Redis for the store and the log (default: embedded + SQLite).")
    ] = None,
    offline: Annotated[
        Path | None, typer.Option(help="A `care eval` report.json: check the online order against its NDCG.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default reports/ab-sim-<UTC time>).")
    ] = None,
    n_boot: Annotated[int, typer.Option(min=100, help="Bootstrap resamples of users.")] = 2000,
    keep_log: Annotated[bool, typer.Option("--keep-log", help="Keep the run's Redis keys.")] = False,
    aa: Annotated[
        bool,
        typer.Option("--aa", help="Check the report: A/A experiments, deliberately bad arms, power."),
    ] = False,
    aa_experiments: Annotated[int, typer.Option(min=1, help="--aa: simulated experiments per layout.")] = 200,
    aa_share: Annotated[float, typer.Option(help="--aa: the treatment's share of users (0.1 too).")] = 0.5,
    aa_reuse: Annotated[
        bool, typer.Option("--aa-reuse", help="--aa: analyze the logs an earlier run left in --out.")
    ] = False,
) -> None:
    """Replay the test window as live traffic (cascade click model) against `care serve`, then report.

    With --aa: serve the control arm twice, `none` and two deliberately bad arms (the ranker's top 10
    and top 50 reversed) once each, draw many experiments by re-randomizing the users, and analyze each
    with the report's code: exits 3 unless the A/A share flagged lies in its binomial band and the
    top-50 reversal is caught (the top-10 reversal's detection is reported).
    """
    from cascade.experiments import EXPERIMENTS_FILE
    from eval.ab.cli import simulate_cli
    from eval.ab.clicks import CascadeClickModel

    if aa_reuse and not aa:
        raise fail("--aa-reuse belongs to --aa")
    try:
        clicks = CascadeClickModel(attract, noise, patience, satisfied, like_rating)
        check = (aa_experiments, aa_share, aa_reuse) if aa else None
        summary, ok = simulate_cli(
            experiments_file or EXPERIMENTS_FILE, out, users, cold_users, requests, k, concurrency, seed,
            clicks, skew, redis_url, offline, n_boot, keep_log, check,
        )  # fmt: skip
    except (ValueError, OSError, RuntimeError) as exc:
        raise fail(str(exc)) from exc
    typer.echo(summary.read_text())
    typer.echo(str(summary))
    if not ok:
        raise typer.Exit(code=3)
