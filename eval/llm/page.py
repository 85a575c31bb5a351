"""The markdown pages of `care llm qualify` and `care llm calibrate`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def ci(c: Mapping[str, Any] | None, digits: int = 3) -> str:
    """'mean [lo, hi]' of an interval dict ('–' when absent)."""
    if not c or c.get("mean") is None:
        return "–"
    return f"{c['mean']:.{digits}f} [{c['lo']:.{digits}f}, {c['hi']:.{digits}f}]"


def qualify_markdown(doc: Mapping[str, Any]) -> str:
    """qualify.md: the verdict first, then every measured number."""
    w, lat, pp = doc["windows"], doc["latency_ms_per_window"], doc["position_prior"]
    sc = doc["self_consistency_kendall"]
    be = doc.get("break_even_auc")
    t = doc["timing"]
    load = " -> ".join(
        ", ".join(f"{x:.2f}" for x in t[k]) for k in ("load_average_start", "load_average") if k in t
    )
    lines = [
        f"# care llm qualify: **{doc['verdict']}** (weight {doc['weight']:g})",
        "",
        f"{doc['reason']}.",
        "",
        f"Model `{doc['llm']}` ({doc['model']}), prompt `{doc['prompt']}`; {w['plain']} validation windows "
        f"({w['users']}), the ranker's top {w['scored_per_window']} each, {w['shuffles']} seeded shuffles; "
        f"{w['titled']} titled windows. The test window is never read.",
        "",
        "| measure | value (mean [95% CI over users]) |",
        "|---|---|",
        f"| AUC, de-biased, one shuffle (what the arm gets) | **{ci(doc['auc'])}** |",
        f"| AUC, raw scores | {ci(doc['auc_raw'])} |",
        f"| AUC, de-biased mean of the shuffles | {ci(doc['auc_mean_of_shuffles'])} |",
        f"| label-position prior: share of score variance | {pp['variance_share']:.3f} "
        f"(candidates: {pp['item_variance_share']:.3f}) |",
        f"| Kendall tau between shuffles, raw | {ci(sc['raw'])} |",
        f"| Kendall tau between shuffles, de-biased | {ci(sc['debiased'])} |",
        f"| titled windows: AUC on-theme vs off-theme | {ci(doc.get('title_auc'))} |",
        f"| latency per window (ms), p50 / p95 | {lat['p50']:.0f} / {lat['p95']:.0f} "
        f"({lat['calls']:.0f} calls) |",
        f"| break-even AUC (calibration, NDCG@10) | {'–' if be is None else f'{be:.2f}'} |",
        f"| predicted fused NDCG@10 gain at the AUC | {ci(doc.get('predicted_ndcg_gain'), 4)} |",
        f"| predicted TitleFit@10 gain at the AUC | {ci(doc.get('predicted_titlefit_gain'), 4)} |",
        "",
        f"Scoring took {t['scoring_s']:.0f} s ({t['scoring_cpu_s']:.0f} CPU s; wall {t['wall_s']:.0f} s) "
        f"on {t['cpus']} CPUs, load average (1, 5, 15 min) {load} (start -> end); "
        f"{workers_line(t)}.",
        "",
        "Position prior (log-probability added per label position A..): "
        + ", ".join(f"{v:+.2f}" for v in pp["values"]),
        "",
    ]
    if doc.get("fusion_file"):
        lines += [
            f"Wrote {doc['fusion_file']}: an `llm_fused` arm with `tuned:` naming it serves this weight.",
            "",
        ]
    return "\n".join(lines)


def workers_line(t: Mapping[str, Any]) -> str:
    """Who scored, and how many tokens a call evaluated (the rest reused from the KV cache)."""
    n, threads = t.get("workers", 1), t.get("threads_per_worker")
    out = f"{n} worker(s)" + (f" of {threads} thread(s) each" if threads else " (requests in flight)")
    tok = t.get("tokens")
    if tok:
        out += (
            f", {tok['prompt_per_call']:.0f} prompt tokens per call of which {tok['evaluated_per_call']:.0f} "
            f"evaluated ({tok['evaluated']:.0f} in all)"
        )
    return out


def calibration_markdown(doc: Mapping[str, Any]) -> str:
    """calibration.md: one row per target AUC, and the break-even AUCs."""
    be, r0 = doc["break_even_auc"], doc["rows"][0]
    lines = [
        "# care llm calibrate",
        "",
        f"Synthetic scorer (held-out relevance + noise at a set AUC) through eval.tune_fusion: tuned on "
        f"{doc['users']['tune']}, measured on {doc['users']['eval']}. Break-even AUC: NDCG@10 "
        f"{be['ndcg']}, TitleFit@10 {be['titlefit']} (none: no calibrated AUC gains).",
        "",
        f"The rules arm on the eval users: NDCG@10 {r0.get('ndcg_rules', float('nan')):.4f}, TitleFit@10 "
        f"{r0.get('titlefit_rules', float('nan')):.4f}.",
        "",
        "| AUC | measured | weight | lambda | NDCG@10 gain vs rules | TitleFit weight | TitleFit@10 gain |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in doc["rows"]:
        lines.append(
            f"| {r['auc']:.2f} | {r['measured_auc']:.3f} | {r['weight']:g} | {r['mmr_lambda']:g} | "
            f"{ci(r['ndcg_gain'], 4)} | {r['titlefit_weight']:g} | {ci(r['titlefit_gain'], 4)} |"
        )
    return "\n".join([*lines, "", "![calibration](calibration.png)", ""])
