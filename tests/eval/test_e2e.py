"""End to end on the real trained cascade: a few users, arms none + rules (+ one LLM arm on 2 users)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from cascade.metrics import ndcg_at_k
from eval.harness import EvalConfig
from eval.runner import evaluate
from eval.trec import read_qrels, read_run

if TYPE_CHECKING:
    from cascade.runtime import Runtime

pytestmark = pytest.mark.slow


def _cfg(tmp: Path, **kw: Any) -> EvalConfig:
    base: dict[str, Any] = {"users": 6, "seed": 3, "arms": ["none", "rules"], "n_boot": 200,
                            "baselines": False, "out": tmp / "report", "cache_dir": tmp / "cache",
                            "progress": False}  # fmt: skip
    return EvalConfig(**(base | kw))


def _ndcg_mean_from_files(folder: Path, run: str) -> float:
    lists, qrels = read_run(folder / "runs" / f"{run}.run"), read_qrels(folder / "qrels.txt")
    return sum(ndcg_at_k(lists[u], qrels.get(u, set()), 10) for u in lists) / len(lists)


def test_none_and_rules(eval_runtime: Runtime, tmp_path: Path) -> None:
    out = evaluate(_cfg(tmp_path), runtime=eval_runtime)
    rep = json.loads((out / "report.json").read_text())
    systems = rep["systems"]["all"]
    assert {"none", "rules", "none[no-context]", "rules[no-context]"} <= set(systems)
    assert systems["none"]["n_users"] == 6
    for name, m in systems.items():
        for metric in ("ndcg@10", "recall@10", "hit_rate@10", "mrr@10", "ild_genre", "genre_coverage"):
            assert 0.0 <= m[metric] <= 1.0, (name, metric)
    # the identity arm keeps the ranker's order; the rules arm moves it
    assert rep["change"]["none"]["position_overlap@10"] == 1.0
    assert rep["change"]["rules"]["position_overlap@10"] < 1.0

    # the derived title reaches the ranker (title source and features): with it, its order changes
    def orders(context: str) -> set[tuple[int, ...]]:
        path = tmp_path / "cache" / f"none__{context}__quality.jsonl"
        return {tuple(r["ranker_order"]) for r in map(json.loads, path.open())}

    with_title, without = orders("with"), orders("without")
    assert len(with_title) == len(without) == 6 and with_title != without
    assert "rules" in rep["context_effect"]
    # accuracy recomputed from the TREC files matches the report
    for run in ("none", "rules"):
        assert _ndcg_mean_from_files(out, run) == pytest.approx(systems[run]["ndcg@10"])
    # rules only reorders the ranker's candidates
    cache_rows = [json.loads(line) for line in (tmp_path / "cache" / "rules__with__quality.jsonl").open()]
    assert len(cache_rows) == 6
    for row in cache_rows:
        assert set(row["items"]) <= set(row["ranker_order"]) and len(row["items"]) == 10
    for name in ("latency.png", "tradeoff.png", "ci_bars.png", "report.md", "qrels.txt"):
        assert (out / name).is_file()
    assert rep["latency_ms"]["rules"]["total"]["p50"] > 0
    # rerun: everything from the cache
    again = json.loads((evaluate(_cfg(tmp_path), runtime=eval_runtime) / "report.json").read_text())
    assert all(c["computed"] == 0 for c in again["cache"].values())
    assert again["systems"]["all"]["rules"] == systems["rules"]


def test_llm_arm_on_two_users(eval_runtime: Runtime, tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, users=4, llm_users=2, arms=["rules", "llm-single-pass"], contexts=("with",))
    rep = json.loads((evaluate(cfg, runtime=eval_runtime) / "report.json").read_text())
    llm = rep["llm_behaviour"]["llm-single-pass"]
    assert llm["requests"] == 2 and llm["fallback_rate"] == 0.0  # quality mode: no deadline
    assert llm["prompt_tokens_per_request"] > 100
    assert (
        set(rep["users"]) == {"all", "llm"} and rep["users"]["llm"]["ids"] == rep["users"]["all"]["ids"][:2]
    )
    comp = rep["comparisons_vs_rules"]["llm"]["llm-single-pass"]["ndcg@10"]
    assert comp["lo"] <= comp["mean_diff"] <= comp["hi"] and not math.isnan(comp["mean_diff"])
