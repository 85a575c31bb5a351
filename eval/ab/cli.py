"""Entry points behind `care ab report`, `care ab simulate` and `care bench ab-report`."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from cascade.impressions import ImpressionLog
from eval.ab.clicks import CascadeClickModel
from eval.ab.report import SRMFailure, build_report, mde_lines, parse_time, write_report
from eval.ab.simulate import SimConfig, simulate


def report_cli(
    since: str | None,
    until: str | None,
    experiments_file: Path,
    experiment: str | None,
    control: str | None,
    out: Path | None,
    sink: ImpressionLog,
    n_boot: int,
    alpha: float,
) -> tuple[Path, list[str]]:
    """Write the report folder from `sink` (closed here); (its path, the MDE lines); SRMFailure (after
    writing) on a sample mismatch."""
    try:
        t0, t1 = parse_time(since, 0.0), parse_time(until, time.time())
        if t1 < t0:
            raise ValueError(f"--until ({t1}) is before --since ({t0})")
        report = build_report(sink, t0, t1, experiments_file, experiment, control, n_boot, alpha)
    finally:
        sink.close()
    folder = out or Path("reports") / f"ab-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"
    write_report(folder, report)
    if not report["srm"]["passed"]:
        from eval.ab.srm import SRMResult

        srm = SRMResult(**{k: v for k, v in report["srm"].items() if k != "passed"})
        raise SRMFailure(f"{srm.message()} (report: {folder / 'report.md'})")
    return folder, mde_lines(report)


def parse_skew(value: str | None) -> tuple[str, float] | None:
    """ARM=POINTS (e.g. none=5) as (arm, points)."""
    if value is None:
        return None
    arm, sep, pts = value.partition("=")
    try:
        points = float(pts)
    except ValueError:
        points = float("nan")
    if not sep or not arm or points != points:
        raise ValueError(f"--skew must look like ARM=POINTS (e.g. none=5), not {value!r}")
    return arm, points


def simulate_cli(
    experiments_file: Path,
    out: Path | None,
    users: int | None,
    cold_users: int,
    requests: int | None,
    k: int,
    concurrency: int,
    seed: int,
    clicks: CascadeClickModel,
    skew: str | None,
    redis_url: str | None,
    offline: Path | None,
    n_boot: int,
    keep_log: bool,
    aa: tuple[int, float, bool] | None = None,
) -> tuple[Path, bool]:
    """Run the simulation (`aa`: the instrument check, (experiments, share, reuse)); (summary path, ok)."""
    if offline is not None and not offline.is_file():
        raise ValueError(f"{offline}: no such eval report (run `care eval` first)")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = out or Path("reports") / (f"ab-aa-{stamp}" if aa is not None else f"ab-sim-{stamp}")
    cfg = SimConfig(
        experiments_file=experiments_file,
        out=folder,
        users=users,
        cold_users=cold_users,
        requests=requests,
        k=k,
        concurrency=concurrency,
        seed=seed,
        clicks=clicks,
        skew=parse_skew(skew),
        redis_url=redis_url,
        offline=offline,
        n_boot=n_boot,
        keep_log=keep_log,
    )
    if aa is not None:
        return aa_cli(cfg, *aa)
    summary = simulate(cfg)
    return folder / "simulation.md", bool(summary["verdict"]["ok"])


def aa_cli(sim: SimConfig, experiments: int, share: float, reuse: bool) -> tuple[Path, bool]:
    """`care ab simulate --aa`: (aa.md, verdict ok)."""
    from eval.ab.trust import TrustConfig, run

    if not 0.0 < share < 1.0:
        raise ValueError(f"--aa-share must lie strictly between 0 and 1, not {share}")
    if sim.skew is not None or sim.offline is not None or sim.cold_users:
        raise ValueError("--aa serves its own conditions: drop --skew, --offline and --cold-users")
    shares = (share,) if share == 0.1 else (share, 0.1)
    summary = run(TrustConfig(sim, experiments=experiments, shares=shares), reuse_logs=reuse)
    return sim.out / "aa.md", bool(summary["verdict"]["ok"])
