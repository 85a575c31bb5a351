"""`care llm qualify` on the real embedded model (a few windows), and the serve path's fusion file."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from cascade.llm import PROMPTS_DIR, LLMSettings, Tuned, llm_settings, pull_smollm2
from eval.llm.debias import Prior
from eval.llm.qualify import HTTP_WORKERS, QualifyConfig, conclude, qualify, worker_plan

CALIBRATION = {
    "rows": [
        {"auc": 0.5, "weight": 0.0, "mmr_lambda": 0.7, "ndcg_gain": {"mean": 0.0, "lo": 0.0, "hi": 0.0}},
        {"auc": 0.6, "weight": 0.35, "mmr_lambda": 0.8, "ndcg_gain": {"mean": 0.02, "lo": 0.01, "hi": 0.03}},
    ]
}


def test_two_windows_on_the_embedded_model(eval_artifacts: Path, tmp_path: Path) -> None:
    pull_smollm2()
    cfg = QualifyConfig(LLMSettings(), users=2, shuffles=2, titled=1, calibration=None,
                        prompts_dir=tmp_path / "prompts", artifacts=eval_artifacts, n_boot=200,
                        progress=False)  # fmt: skip
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "fused.yaml").write_text((PROMPTS_DIR / "fused.yaml").read_text())
    doc = qualify(cfg, tmp_path / "out")
    saved = json.loads((tmp_path / "out" / "qualify.json").read_text())
    assert saved["verdict"] == doc["verdict"] == "do-not-serve" and saved["weight"] == 0.0
    assert "no calibration" in saved["reason"] and saved["fusion_file"] is None
    w = saved["windows"]
    assert (w["plain"], w["titled"], w["shuffles"], w["window"]) == (2, 1, 2, "validation")
    assert len(saved["position_prior"]["values"]) == 20
    assert 0.0 <= saved["position_prior"]["variance_share"] <= 1.0
    assert saved["latency_ms_per_window"]["calls"] == 6 and saved["latency_ms_per_window"]["p50"] > 0
    assert set(saved["auc"]) == {"mean", "lo", "hi", "n"}
    assert -1.0 <= saved["self_consistency_kendall"]["raw"]["mean"] <= 1.0
    assert "# care llm qualify: **do-not-serve**" in (tmp_path / "out" / "qualify.md").read_text()
    t = saved["timing"]
    assert t["load_average"] and t["scoring_s"] > 0
    assert (t["workers"], t["threads_per_worker"], t["tokens"]["calls"]) == (2, 1, 6)
    # the shuffles of a window share its head (system text, recent movies, playlist) in the KV cache
    assert t["tokens"]["evaluated_per_call"] < t["tokens"]["prompt_per_call"]
    assert not list((tmp_path / "prompts").glob("fusion*.yaml"))
    qualify(replace(cfg, workers=1), tmp_path / "one")
    one = json.loads((tmp_path / "one" / "qualify.json").read_text())
    assert one["timing"]["workers"] == 1 and one["timing"]["threads_per_worker"] == 2
    for key in ("auc", "auc_raw", "title_auc", "self_consistency_kendall", "position_prior"):
        # the scores do not depend on the worker that computed them (nan compares as text)
        assert json.dumps(one[key]) == json.dumps(saved[key])


def test_worker_plan_shares_the_threads_out() -> None:
    n, s = worker_plan(LLMSettings())
    assert n == 2 and s.backend.kind == "inprocess" and s.backend.n_threads == 1
    n, s = worker_plan(LLMSettings(), workers=1)
    assert n == 1 and s.backend.kind == "inprocess" and s.backend.n_threads == 2
    http = llm_settings("http://127.0.0.1:9/v1")
    assert worker_plan(http) == (HTTP_WORKERS, http) and worker_plan(http, 8) == (8, http)


def test_serve_writes_the_fusion_file_the_arm_reads(tmp_path: Path) -> None:
    from cascade.experiments import ArmSpec
    from cascade.llm import fused_llm_weight

    cfg = QualifyConfig(LLMSettings(), prompts_dir=tmp_path, name="mine")
    prior = Prior(np.linspace(1.0, -1.0, 20), 0.9, 0.05)
    auc = {"mean": 0.7, "lo": 0.65, "hi": 0.75, "n": 100.0}
    doc = conclude(cfg, {"auc": auc}, prior, CALIBRATION)
    assert (doc["verdict"], doc["weight"], doc["fusion_file"]) == ("serve", 0.35, str(tmp_path / "mine.yaml"))
    import yaml

    tuned = Tuned.model_validate(yaml.safe_load((tmp_path / "mine.yaml").read_text()))
    assert (tuned.weight, tuned.mmr_lambda) == (0.35, 0.8)
    assert tuned.position_prior == pytest.approx(tuple(prior.values))
    spec = ArmSpec.model_validate({"name": "f", "reranker": "llm_fused", "tuned": "mine", "timeout_ms": 150})
    assert fused_llm_weight(spec, tmp_path) == 0.35
    low = conclude(cfg, {"auc": auc | {"lo": 0.55}}, prior, CALIBRATION)
    assert (low["verdict"], low["fusion_file"]) == ("do-not-serve", None)


def test_a_server_that_does_not_answer_is_a_clear_error(eval_artifacts: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from service.cli import app

    args = ["llm", "qualify", "--base-url", "http://127.0.0.1:9/v1", "--users", "2", "--titled", "0",
            "--artifacts", str(eval_artifacts), "--out", str(tmp_path), "--no-progress"]  # fmt: skip
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2 and "did not score" in res.output and "Traceback" not in res.output
