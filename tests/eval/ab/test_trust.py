"""`care ab simulate --aa` from served logs to aa.json: the layouts, the verdict and the power table."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from cascade.impressions import Impression, Outcome, SqliteImpressionLog
from eval.ab.aa import ServedLog
from eval.ab.power import z_sum
from eval.ab.reversed import KIND_NAME
from eval.ab.simulate import SimConfig
from eval.ab.trust import TrustConfig, conditions, control_arm, evaluate, run, serving_file
from service.cli import app

Rows = tuple[list[list[Any]], list[list[Any]]]


def test_evaluate_judges_the_first_layout_and_sizes_the_effects(
    tmp_path: Path, clustered_rows: Callable[..., Rows]
) -> None:
    spec = {"control": (1, 0.0), "control-again": (2, 0.0), "none": (4, -0.02), "reversed": (3, 0.03),
            "reversed-50": (5, -0.25)}  # fmt: skip
    logs = {
        n: ServedLog.of(n, "rules", *clustered_rows(n, 300, seed, lift=lift))
        for n, (seed, lift) in spec.items()
    }
    windows = {u: {1: 5.0} for u in range(300)}
    cfg = TrustConfig(SimConfig(Path("prompts/experiments.yaml"), tmp_path, n_boot=200), experiments=20)
    s = evaluate(cfg, logs, {n: {"requests": 3000} for n in logs}, windows)
    assert set(s["aa"]) == set(s["known_effect"]["reversed"]) == {"0.5", "0.1"}
    assert s["aa"]["0.5"]["experiments"] == 20 and s["aa"]["0.5"]["band"]["count"] == [0, 3]
    assert s["known_effect"]["reversed-50"]["0.5"]["metrics"]["play_through"]["share"] == 1.0
    v = s["verdict"]  # a "bad" arm that is not worse is not detected, and the verdict says so
    assert not v["reversed_detected"] and v["reversed_50_detected"] and not v["ok"]
    assert s["config"]["returns"] == {"after_empty": 0.85, "after_play": 1.0}  # the click model's patience
    assert s["known_effect"]["reversed-50"]["0.5"]["metrics"]["plays_per_user"]["share"] == 1.0
    # the sensitivity line: the same logs cut at each after_empty value, fewer visits as it falls
    sens = s["sensitivity"]
    assert [r["after_empty"] for r in sens] == [1.0, 0.85, 0.7] and [r["default"] for r in sens] == [0, 1, 0]
    visits = [r["visits_per_user"]["control"] for r in sens]
    assert visits[0] == 10 and visits[0] > visits[1] > visits[2]
    assert sens[1]["aa"] == s["aa"]["0.5"] and all(r["aa"]["experiments"] == 20 for r in sens)
    power = {(p["effect"], p["metric"]): p for p in s["power"]}
    one = power[("1 point of play-through", "play_through")]
    sd = sum(s["rates"][c]["per_user_sd"]["play_through"] for c in ("control", "control-again")) / 2
    assert one["users_per_arm"] == math.ceil(z_sum() ** 2 * 2 * sd**2 / 0.01**2)
    ndcg = power[("none - control, offline", "ndcg@10 (first answer)")]
    assert ndcg["delta"] == pytest.approx(0.5 - 1.0) and ndcg["users_per_arm"] == 2  # users alike: sd 0
    deep = power[("reversed-50 - control", "play_through")]
    assert set(deep["predicted_power"]) == {"0.5", "0.1"} and deep["predicted_power"]["0.5"] > 0.99
    assert deep["observed_detection"]["0.5"] == 1.0
    up = power[("reversed - control", "play_through")]  # observed: detections on the effect's own side
    above = s["known_effect"]["reversed"]["0.5"]["metrics"]["play_through"]["wrong_sign"]
    assert up["delta"] > 0 and up["observed_detection"]["0.5"] == above / 20
    first = power[("reversed - control, first visit only", "reciprocal rank of the first play")]
    assert set(first["predicted_power"]) == {"0.5", "0.1"} and "observed_detection" not in first
    assert json.loads((tmp_path / "aa.json").read_text())["verdict"] == s["verdict"]
    md = (tmp_path / "aa.md").read_text()
    assert "Verdict (treatment share 0.5, after_empty 0.85)" in md and "| 0.85 (default) |" in md


def test_the_conditions_serve_the_configured_control_and_the_bad_arm(tmp_path: Path) -> None:
    ctrl = control_arm(Path("prompts/experiments.yaml"))
    assert ctrl["reranker"] == "rules"
    conds = conditions(ctrl)
    assert list(conds) == ["control", "control-again", "none", "reversed", "reversed-50"]
    assert conds["reversed-50"] == {"reranker": KIND_NAME, "depth": 50}
    doc = yaml.safe_load(serving_file(tmp_path, "reversed", conds["reversed"]).read_text())
    assert doc["experiments"]["sim-reversed"]["arms"] == [
        {"reranker": KIND_NAME, "name": "reversed", "weight": 1}
    ]


def test_bad_options_are_refused_before_anything_is_served(tmp_path: Path) -> None:
    for extra, words in ((["--aa-share", "1.5"], "strictly between"), (["--skew", "none=5"], "--skew")):
        res = CliRunner().invoke(app, ["ab", "simulate", "--aa", "--out", str(tmp_path), *extra])
        assert res.exit_code == 2 and words in res.output, res.output
    res = CliRunner().invoke(app, ["ab", "simulate", "--aa-reuse", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "--aa-reuse belongs to --aa" in res.output, res.output
    assert not (tmp_path / "serving").exists()


def test_reuse_analyzes_the_logs_an_earlier_run_left(
    tmp_path: Path, clustered_rows: Callable[..., Rows]
) -> None:
    res = CliRunner().invoke(app, ["ab", "simulate", "--aa", "--aa-reuse", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "no log to reuse" in res.output, res.output
    for name, arm in conditions(control_arm(Path("prompts/experiments.yaml"))).items():
        serving_file(tmp_path / "serving", name, arm)
        imps, outs = clustered_rows(name, 60, len(name), lift=-0.25 if name == "reversed" else 0.0)
        log = SqliteImpressionLog(tmp_path / f"impressions-{name}.sqlite")
        log.append([Impression.from_row(r) for r in imps])
        log.record([Outcome.from_row(o) for o in outs])
        log.close()
    s = run(
        TrustConfig(SimConfig(Path("prompts/experiments.yaml"), tmp_path, n_boot=100), experiments=4), True
    )
    assert s["traffic"]["reversed"]["requests"] == 600 and s["config"]["conditions"]["reversed"] == KIND_NAME
    assert s["rates"]["control"]["users"] == 60 and s["aa"]["0.5"]["experiments"] == 4
