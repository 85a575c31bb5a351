"""`care ab report`: per-arm online results for a time range, as report.json, report.md and plots."""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from cascade.experiments import load_experiments
from cascade.impressions import ImpressionLog
from eval.ab.analysis import METRICS, ArmSpec, Row, analyze
from eval.ab.srm import SRM_ALPHA
from eval.report import _f, _table, image_lines, plot_ci_bars, write_json
from eval.scoring import clean


class SRMFailure(Exception):
    """The sample-ratio-mismatch check failed: the report is written, and the command exits non-zero."""


def arm_specs(experiments_file: Path, experiment: str | None) -> tuple[str, list[ArmSpec]]:
    """The experiment's name and configured arms (ValueError naming the file when unknown)."""
    doc = load_experiments(experiments_file)
    name = experiment or doc.default
    exp = doc.get(name)
    return name, [ArmSpec(a.name, a.weight, a.reranker) for a in exp.arms]


def parse_time(value: str | None, default: float) -> float:
    """Unix seconds, or an ISO-8601 date/time (UTC when no zone is given)."""
    if value is None:
        return default
    try:
        return float(value)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"not a time: {value!r} (unix seconds or ISO-8601)") from exc
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def read_rows(sink: ImpressionLog, since: float, until: float) -> tuple[list[Row], list[Row]]:
    """The log's impression and outcome rows in [since, until]."""
    with _no_gc():  # millions of small lists and no cycles: the cyclic GC would only rescan them
        imps: list[Row] = [r for rows in sink.impression_rows(since, until) for r in rows]
        outs: list[Row] = [r for rows in sink.outcome_rows(since, until) for r in rows]
    return imps, outs


def build_report(
    sink: ImpressionLog,
    since: float,
    until: float,
    experiments_file: Path,
    experiment: str | None = None,
    control: str | None = None,
    n_boot: int = 2000,
    alpha: float = SRM_ALPHA,
) -> dict[str, Any]:
    """Read the log for [since, until] and compute every number (nothing written)."""
    t0 = time.perf_counter()
    name, specs = arm_specs(experiments_file, experiment)
    imps, outs = read_rows(sink, since, until)
    t_read = time.perf_counter() - t0
    with _no_gc():
        report = analyze(imps, outs, name, specs, control=control, n_boot=n_boot, alpha=alpha)
    report.update(
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        source={"log": sink.name, "since": since, "until": until, "experiments_file": str(experiments_file)},
        configured_arms=[{"name": s.name, "weight": s.weight, "reranker": s.reranker} for s in specs],
        timing_s={"read": t_read, "total": time.perf_counter() - t0},
    )
    return report


def plot_rates(path: Path, report: dict[str, Any]) -> None:
    """Per arm: each rate per impression and mean per user with its per-user 95% CI."""
    arms = report["arms"]
    names = list(arms)
    fig, axes = plt.subplots(1, len(METRICS), figsize=(4 * len(METRICS), max(3.0, 0.45 * len(names) + 1.5)))
    for i, (ax, m) in enumerate(zip(axes, METRICS, strict=True)):
        vals = [arms[n][m] if arms[n][m] is not None else 0.0 for n in names]
        lo = [max(0.0, v - (arms[n]["ci95"][m][0] or v)) for n, v in zip(names, vals, strict=True)]
        hi = [max(0.0, (arms[n]["ci95"][m][1] or v) - v) for n, v in zip(names, vals, strict=True)]
        ax.barh(range(len(names)), vals, xerr=[lo, hi], capsize=3, color="tab:green", alpha=0.7)
        ax.set_yticks(range(len(names)))
        ax.set_yticklabels(names if i == 0 else [""] * len(names), fontsize=8)
        ax.set_title(f"{m} (95% CI, per user)", fontsize=9)
        ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown(report: dict[str, Any], plots: Sequence[str] = ()) -> str:
    src, tot, srm = report["source"], report["totals"], report["srm"]
    since = datetime.fromtimestamp(src["since"], UTC).isoformat(timespec="seconds")
    until = datetime.fromtimestamp(src["until"], UTC).isoformat(timespec="seconds")
    lines = [
        f"# care A/B report: {report['experiment']}",
        "",
        f"Created {report['created']} · log `{src['log']}` · {since} .. {until} · "
        f"control **{report['control']}** · bootstrap {report['n_boot']} resamples of users "
        f"(seed {report['seed']})",
        "",
        f"{tot['impressions']} impressions of {tot['users']} users "
        f"({tot['forced_impressions_skipped']} forced impressions skipped); "
        f"attributed events {tot['attributed_events'] or '{}'}, "
        f"unattributed {tot['unattributed_events'] or '{}'}; "
        f"users seen in several arms: {tot['users_in_several_arms']}.",
        "",
        "## Sample ratio",
        "",
        ("**SRM check passed**" if srm["passed"] else "**SAMPLE RATIO MISMATCH: do not trust these results**")
        + f": chi2 = {srm['chi2']:.2f}, df = {srm['df']}, p = {srm['p_value']:.3g} (alpha {srm['alpha']}).",
        "",
    ]
    rows = [[a, str(srm["observed"].get(a, 0)), _f(e, 1)] for a, e in srm["expected"].items()]
    rows += [[a, str(c), "0 (no weight)"] for a, c in srm["unexpected_arms"].items()]
    lines += [_table(["arm", "users", "expected"], rows), ""]
    lines += ["## Per arm (rates per impression, plays per user; 95% CI over users)", ""]
    rows = []
    for name, a in report["arms"].items():
        cells = [f"{_f(a[m])} [{_f(a['ci95'][m][0])}, {_f(a['ci95'][m][1])}]" for m in METRICS]
        rows.append([name, a["reranker"], str(a["users"]), str(a["impressions"]), *cells])
    lines += [_table(["arm", "reranker", "users", "impressions", *METRICS], rows), ""]
    lines += ["## Difference to the control arm (independent per-user bootstrap, 95% CI)", "",
              "Cells: difference [lo, hi]; **bold** = CI excludes 0.", ""]  # fmt: skip
    rows = []
    for name, comp in report["comparisons_vs_control"].items():
        cells = []
        for m in METRICS:
            c = comp[m]
            txt = f"{_f(c['mean_diff'])} [{_f(c['lo'])}, {_f(c['hi'])}]"
            cells.append(f"**{txt}**" if c.get("excludes_zero") else txt)
        rows.append([name, *cells])
    lines += [_table(["arm", *METRICS], rows), ""]
    lines += ["## Minimum detectable effect (this sample: 80% power, two-sided 95%)", "",
              "Cells: the smallest true difference to the control that these users detect 80% of the time "
              "(2.80 x the bootstrap standard error of the difference), and its share of the control's rate.",
              ""]  # fmt: skip
    rows = [[name, str(report["arms"][name]["users"]), *mde_cells(report, name)]
            for name in report["comparisons_vs_control"]]  # fmt: skip
    lines += [_table(["arm", "users", *METRICS], rows), ""]
    lines += ["## Re-ranker behaviour and latency (server side, ms)", ""]
    rows = []
    for name, a in report["arms"].items():
        lat = a["latency_ms"]
        reasons = ", ".join(f"{k}: {v}" for k, v in a["fallback_reasons"].items()) or "–"
        rows.append([name, a["reranker"], _f(a["fallback_rate"], 3), reasons,
                     f"{_f(lat['total_p50'], 2)} / {_f(lat['total_p95'], 2)}",
                     f"{_f(lat['rerank_p50'], 2)} / {_f(lat['rerank_p95'], 2)}"])  # fmt: skip
    lines += [
        _table(["arm", "reranker", "fallback rate", "reasons", "total p50 / p95", "rerank p50 / p95"], rows)
    ]
    lines += ["", "## Plots", "", *plots]
    lines += [
        "Definitions: play_through = share of impressions with at least one attributed play; "
        "plays_per_impression; like_rate = share with at least one attributed like; mrr_first_play = "
        "mean over impressions of 1 / position of the first attributed play (0 without one); "
        "plays_per_user = attributed plays over the arm's users (a user who stops coming back lowers it; "
        "the rates per impression cannot see a lost visit).",
        "",
    ]
    return "\n".join(lines)


def mde_cells(report: dict[str, Any], arm: str) -> list[str]:
    """Per metric: the arm's minimum detectable difference to the control, absolute and relative."""
    ctrl = report["arms"][report["control"]]
    cells = []
    for m in METRICS:
        d, base = report["comparisons_vs_control"][arm][m].get("mde"), ctrl[m]
        rel = f" ({d / base:.0%})" if d is not None and base and d == d else ""
        cells.append(f"{_f(d)}{rel}")
    return cells


def mde_lines(report: dict[str, Any]) -> list[str]:
    """One line per compared arm: its minimum detectable effects against the control."""
    ctrl = report["control"]
    return [
        f"MDE (80% power, 95%) {arm} - {ctrl} at {report['arms'][arm]['users']} / "
        f"{report['arms'][ctrl]['users']} users: "
        + ", ".join(f"{m} {c}" for m, c in zip(METRICS, mde_cells(report, arm), strict=True))
        for arm in report["comparisons_vs_control"]
    ]


def write_report(out: Path, report: dict[str, Any]) -> Path:
    """report.json, report.md, rates.png and (with a comparison) ci_bars.png under `out`."""
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    plot_rates(out / "rates.png", report)
    if report["comparisons_vs_control"]:
        plot_ci_bars(
            out / "ci_bars.png", report["comparisons_vs_control"], METRICS, baseline=report["control"]
        )
    report["timing_s"]["write"] = time.perf_counter() - t0
    write_json(out / "report.json", report)
    plots = image_lines(out, [("rates", "rates.png"), ("differences", "ci_bars.png")])
    (out / "report.md").write_text(markdown(clean(report), plots), encoding="utf-8")
    return out
