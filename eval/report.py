"""Writes the report folder: report.json, report.md, PNG plots, TREC run files and qrels."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from eval.scoring import clean

ACCURACY_COLS = ("ndcg@10", "recall@10", "hit_rate@10", "mrr@10")
BEYOND_COLS = ("ild_genre", "ild_embedding", "genre_coverage", "novelty", "catalog_coverage")
CHANGE_COLS = ("position_overlap@10", "set_overlap@10", "kendall_tau@10", "spearman@10")


def _f(v: Any, digits: int = 4) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def clean_for_md(report: Mapping[str, Any]) -> dict[str, Any]:
    """The report with nan turned into None (what report.json holds)."""
    out: dict[str, Any] = clean(dict(report))
    return out


def write_json(path: Path, report: Mapping[str, Any]) -> None:
    path.write_text(json.dumps(clean(dict(report)), indent=2, sort_keys=False) + "\n", encoding="utf-8")


def plot_tradeoff(path: Path, systems: Mapping[str, Mapping[str, float]], title: str) -> None:
    fig, ax = plt.subplots(figsize=(7, 5))
    for name, m in systems.items():
        x, y = m.get("ild_genre"), m.get("ndcg@10")
        twin = systems.get(name.replace("[no-context]", ""), {})
        if name.endswith("[no-context]") and (twin.get("ild_genre"), twin.get("ndcg@10")) == (x, y):
            continue  # the context changed nothing for this arm: one point
        if x is None or y is None or math.isnan(x) or math.isnan(y):
            continue
        marker = "s" if name.startswith("baseline:") else ("^" if "[no-context]" in name else "o")
        ax.scatter([x], [y], marker=marker, s=60)
        ax.annotate(name, (x, y), textcoords="offset points", xytext=(5, 4), fontsize=8)
    ax.set_xlabel("intra-list diversity (genre, 1 - Jaccard)")
    ax.set_ylabel("NDCG@10")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_ci_bars(
    path: Path,
    comparisons: Mapping[str, Mapping[str, Mapping[str, float]]],
    metrics: Sequence[str],
    baseline: str = "rules",
) -> None:
    """One panel per metric: each arm's mean difference to the baseline arm with its 95% CI."""
    names = list(comparisons)
    fig, axes = plt.subplots(1, len(metrics), figsize=(4 * len(metrics), max(3.0, 0.45 * len(names) + 1.5)))
    for ax, m in zip(axes if len(metrics) > 1 else [axes], metrics, strict=True):
        diffs = [comparisons[n][m]["mean_diff"] for n in names]
        # bar lengths, never negative: a percentile interval can end a rounding error inside its mean
        lo = [max(0.0, comparisons[n][m]["mean_diff"] - comparisons[n][m]["lo"]) for n in names]
        hi = [max(0.0, comparisons[n][m]["hi"] - comparisons[n][m]["mean_diff"]) for n in names]
        ax.barh(range(len(names)), diffs, xerr=[lo, hi], capsize=3, color="tab:blue", alpha=0.7)
        ax.axvline(0.0, color="black", lw=0.8)
        ax.set_yticks(range(len(names)))
        ax.set_yticklabels(
            names if ax is (axes[0] if len(metrics) > 1 else axes) else [""] * len(names), fontsize=8
        )
        ax.set_title(f"Δ {m} vs {baseline} (95% CI)", fontsize=9)
        ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_latency(path: Path, samples: Mapping[str, Mapping[str, Sequence[float]]]) -> None:
    """Box plots of per-request latency (ms, log scale): total and re-rank stage per arm."""
    names = list(samples)
    fig, axes = plt.subplots(1, 2, figsize=(11, max(3.0, 0.4 * len(names) + 1.5)))
    for ax, stage in zip(axes, ("total", "rerank"), strict=True):
        data = [[max(v, 1e-3) for v in samples[n].get(stage, [])] or [1e-3] for n in names]
        ax.boxplot(data, vert=False, showfliers=True)
        ax.set_yticks(range(1, len(names) + 1))
        ax.set_yticklabels(names, fontsize=8)
        ax.set_xscale("log")
        ax.set_xlabel("ms (log)")
        ax.set_title(f"{stage} latency per request")
        ax.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def image_lines(out: Path, images: Sequence[tuple[str, str]]) -> list[str]:
    """Markdown image links, one per (alt text, file) pair whose file was written under `out`."""
    return [line for alt, name in images if (out / name).is_file() for line in (f"![{alt}]({name})", "")]


def markdown(report: Mapping[str, Any], plots: Sequence[str] = ()) -> str:
    """The human-readable report; `plots` are the image lines (see image_lines)."""
    cfg = report["config"]
    lines = [
        f"# care eval: {report['name']}",
        "",
        f"Created {report['created']} · git {report['versions'].get('git', '?')} · "
        f"mode **{'serving deadline' if cfg['deadline'] else 'quality (no deadline)'}** · "
        f"LLM backend `{json.dumps(cfg['llm'])}` · sample seed {cfg['seed']} · bootstrap {cfg['n_boot']} "
        f"resamples (seed {report['seeds']['bootstrap']}) · wall {report['wall_s']:.0f} s",
        "",
        "Protocol: test window (each user's last 10 interactions) replayed through the serving pipeline "
        "(`Runtime.offline_pipeline('test')`); metrics at k=10 against the window's items; candidates = "
        "catalog minus what the user interacted with before the window. Baselines on the same split.",
        "",
    ]
    for set_name, systems in report["systems"].items():
        n = report["users"][set_name]["n"]
        lines += [f"## Accuracy and beyond-accuracy, {set_name} users (n={n})", ""]
        rows = [
            [name] + [_f(m.get(c)) for c in (*ACCURACY_COLS, *BEYOND_COLS)] for name, m in systems.items()
        ]
        lines += [_table(["system", *ACCURACY_COLS, *BEYOND_COLS], rows), ""]
    lines += ["## Difference to the rules arm (paired bootstrap 95% CI)", "",
              "No-context runs are compared with rules[no-context].", ""]  # fmt: skip
    for set_name, comps in report["comparisons_vs_rules"].items():
        lines += [f"Users: {set_name}. Cells: mean difference [lo, hi]; **bold** = CI excludes 0.", ""]
        metrics = ("ndcg@10", "recall@10", "mrr@10", "ild_genre", "ild_embedding", "novelty")
        rows = []
        refused = report.get("refused_gains", {})
        for name, comp in comps.items():
            cells = []
            for m in metrics:
                c = comp[m]
                txt = f"{_f(c['mean_diff'])} [{_f(c['lo'])}, {_f(c['hi'])}]"
                cells.append(f"**{txt}**" if c.get("excludes_zero") else txt)
            no_gain = name.removesuffix("[no-context]") in refused
            rows.append([f"{name} (LLM weight 0: not a gain)" if no_gain else name, *cells])
        lines += [_table(["arm", *metrics], rows), ""]
        lines += [f"- {name}: {why}." for name, why in refused.items()] + ([""] if refused else [])
    if report.get("context_effect"):
        lines += ["## Playlist context: with minus without (paired 95% CI)", ""]
        ctx_metrics = ("ndcg@10", "recall@10", "ild_genre", "novelty", "position_overlap@10")
        rows = []
        for name, comp in report["context_effect"].items():
            rows.append([name] + [f"{_f(comp[m]['mean_diff'])} [{_f(comp[m]['lo'])}, {_f(comp[m]['hi'])}]"
                                  for m in ctx_metrics])  # fmt: skip
        lines += [_table(["arm", *ctx_metrics], rows), ""]
        tops = ", ".join(f"{t!r} ({c})" for t, c in report["context_titles"]["most_common"][:8])
        lines += [f"Derived titles (most common): {tops}.", ""]
    lines += ["## Change against the ranker's order (top 10)", ""]
    rows = [[name] + [_f(m.get(c)) for c in CHANGE_COLS] for name, m in report["change"].items()]
    lines += [_table(["arm", *CHANGE_COLS], rows), ""]
    if report["llm_behaviour"]:
        lines += ["## LLM behaviour", ""]
        keys = sorted({k for v in report["llm_behaviour"].values() for k in v})
        rows = [[name] + [_f(b.get(k), 3) for k in keys] for name, b in report["llm_behaviour"].items()]
        lines += [_table(["arm", *keys], rows), ""]
    lines += ["## Latency (ms, p50 / p95)", ""]
    stages = ("features_user", "retrieval", "features_items", "assembly", "ranking", "rerank", "total")
    rows = []
    for name, st in report["latency_ms"].items():
        rows.append(
            [name] + [f"{_f(st[s]['p50'], 1)} / {_f(st[s]['p95'], 1)}" if s in st else "–" for s in stages]
        )
    lines += [_table(["arm", *stages], rows), ""]
    lines += ["## Baselines", ""]
    for name, b in report["baselines"].items():
        tuning = ", ".join(f"{v}: {_f(x)}" for v, x in b["tuning"].items()) or "–"
        lines.append(f"- {name}: chosen {b['params'] or '–'}; validation NDCG@10 by value: {tuning}")
    if report.get("order_sensitivity"):
        from eval.order import markdown as order_md

        lines += ["", order_md(report["order_sensitivity"])]
    lines += ["", "## Plots", "", *plots]
    lines += ["## Files", "", "- report.json: every number, config, versions, seeds",
              "- runs/*.run: TREC run files (`user Q0 item rank score arm`)",
              "- qrels.txt: the test-window items of every evaluated user", ""]  # fmt: skip
    return "\n".join(lines)
