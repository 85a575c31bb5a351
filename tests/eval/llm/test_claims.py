"""`care eval` claims no gain for a fused arm whose tuning chose LLM weight 0."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from cascade.experiments import ArmSpec
from eval.harness import EvalConfig
from eval.llm.claims import refuse, refused_gains
from eval.report import markdown
from eval.runner import evaluate

if TYPE_CHECKING:
    from cascade.runtime import Runtime


def _fused(name: str, **kw: object) -> ArmSpec:
    return ArmSpec.model_validate({"name": name, "reranker": "llm_fused", "timeout_ms": 150, **kw})


def test_only_fused_arms_at_weight_zero_are_refused(tmp_path: Path) -> None:
    (tmp_path / "zero.yaml").write_text("weight: 0.0\nmmr_lambda: 0.9\n")
    (tmp_path / "half.yaml").write_text("weight: 0.5\nmmr_lambda: 0.7\n")
    specs = [
        ArmSpec(name="rules", reranker="rules"),
        _fused("f0", tuned="zero"),
        _fused("f0-title", tuned="zero", title="lexicon", title_weight=1.0),
        _fused("f5", tuned="half"),
        _fused("alone", alone=True),
        _fused("plain0", llm_weight=0.0),
    ]
    assert set(refused_gains(specs, tmp_path)) == {"f0", "f0-title", "plain0"}


def test_refused_comparisons_never_exclude_zero() -> None:
    gain = {"mean_diff": 0.02, "lo": 0.01, "hi": 0.03, "excludes_zero": 1.0}
    vs = {"all": {"f0": {"ndcg@10": dict(gain)}, "f0[no-context]": {"ndcg@10": dict(gain)},
                  "f5": {"ndcg@10": dict(gain)}}}  # fmt: skip
    refuse(vs, {"f0": "weight 0"})
    assert vs["all"]["f0"]["ndcg@10"]["excludes_zero"] == 0.0
    assert vs["all"]["f0[no-context]"]["ndcg@10"]["excludes_zero"] == 0.0
    assert vs["all"]["f5"]["ndcg@10"]["excludes_zero"] == 1.0


def test_the_report_says_not_a_gain(eval_runtime: Runtime, tmp_path: Path) -> None:
    cfg = EvalConfig(users=4, arms=["none", "rules"], contexts=("with",), n_boot=100, baselines=False,
                     out=tmp_path / "r", cache_dir=tmp_path / "c", progress=False)  # fmt: skip
    rep = json.loads((evaluate(cfg, runtime=eval_runtime) / "report.json").read_text())
    assert rep["refused_gains"] == {}  # no fused arm ran
    rep["refused_gains"] = {"none": "LLM weight 0"}
    text = markdown(rep)
    assert "| none (LLM weight 0: not a gain) |" in text and "- none: LLM weight 0." in text
