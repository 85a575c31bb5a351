"""A small simulated A/B run end to end: `care serve` on a real Redis, the audience, the report."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import redis

from cascade.data.split import Split
from cascade.impressions import I_ITEMS, O_ITEM, O_POS, O_TYPE
from cascade.ports import free_port
from cascade.rerank.llm.prompts import PROMPTS_DIR
from eval.ab.aa import ServedLog
from eval.ab.clicks import CascadeClickModel, ReturnModel
from eval.ab.report import read_rows
from eval.ab.simulate import (
    SimConfig,
    audience,
    ordering_check,
    replay,
    simulate,
    skewed_experiments,
    windows_of,
)
from eval.ab.trust import serving_file

REDIS = "redis://127.0.0.1:6379/0"
EXPERIMENTS = """\
experiments:
  main:
    salt: sim-test
    arms:
      - {name: rules, weight: 40, reranker: rules}
      - {name: none, weight: 30, reranker: none}
      - {name: llm, weight: 30, reranker: llm, prompt: single_pass, timeout_ms: 100}
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    d = tmp_path / "prompts"
    shutil.copytree(PROMPTS_DIR, d)
    (d / "experiments.yaml").write_text(EXPERIMENTS)
    return d / "experiments.yaml"


def test_small_simulation_end_to_end(
    tmp_path: Path, config: Path, trained_artifacts: Path, ml_split: Split
) -> None:
    windows, times = windows_of(ml_split.test)
    offline = tmp_path / "eval.json"
    systems = {
        "all": {"none": {"ndcg@10": 0.15}, "rules": {"ndcg@10": 0.14}},
        "llm": {"rules": {"ndcg@10": 0.12}, "llm": {"ndcg@10": 0.11}},
    }
    offline.write_text(json.dumps({"systems": systems}))
    cfg = SimConfig(
        experiments_file=config,
        out=tmp_path / "sim",
        users=6,
        requests=2,
        concurrency=2,
        # only test-window items are played: plays prove the window is not in the served history
        clicks=CascadeClickModel(attract=1.0, noise=0.0, patience=1.0, satisfied=0.0),
        redis_url=REDIS,
        offline=offline,
        n_boot=200,
        server_env={
            "CARE_ARTIFACTS": str(trained_artifacts),
            "CARE_LLM__BACKEND__KIND": "http",
            "CARE_LLM__BACKEND__BASE_URL": f"http://127.0.0.1:{free_port()}/v1",
        },
    )
    before = set(redis.Redis.from_url(REDIS).scan_iter(match="care-sim-*"))
    s = simulate(cfg, windows, {u: sorted(v) for u, v in times.items()})
    tr = s["traffic"]
    assert tr["requests"] == 12 and tr["errors"] == 0 and tr["plays"] > 0
    rep = json.loads((tmp_path / "sim" / "report" / "report.json").read_text())
    assert rep["totals"]["impressions"] == 12
    assert sum(a["users"] for a in rep["arms"].values()) == 6
    assert sum(rep["totals"]["attributed_events"].values()) == tr["plays"] + tr["likes"]
    assert rep["totals"]["unattributed_events"] == {}
    assert sum(a["plays"] for a in rep["arms"].values()) == tr["plays"]
    assert s["ordering"] is not None and {p["pair"] for p in s["ordering"]["pairs"]} <= set(rep["pairwise"])
    assert (tmp_path / "sim" / "simulation.md").read_text().startswith("# care A/B simulation")
    assert set(redis.Redis.from_url(REDIS).scan_iter(match="care-sim-*")) == before  # the run's keys are gone


def test_ordering_check_flags_only_contradictions() -> None:
    report = {"pairwise": {
        "a - b": {"play_through": {"mean_diff": -0.01, "lo": -0.03, "hi": 0.01, "excludes_zero": False}},
        "a - c": {"play_through": {"mean_diff": -0.05, "lo": -0.08, "hi": -0.02, "excludes_zero": True}},
    }}  # fmt: skip
    offline = {"all": {"a": 0.2, "b": 0.1, "c": 0.1}}
    out = ordering_check(report, offline)
    by = {p["pair"]: p for p in out["pairs"]}
    assert not by["a - b"]["contradicts"] and not by["a - b"]["same_sign"]
    assert by["a - c"]["contradicts"] and not out["agrees_within_intervals"]


def test_skew_changes_one_weight(tmp_path: Path, config: Path) -> None:
    dst = tmp_path / "skewed.yaml"
    skewed_experiments(config, dst, "none", 5)
    from cascade.experiments import load_experiments

    arms = {a.name: a.weight for a in load_experiments(dst, config.parent).get().arms}
    assert arms == {"rules": 40, "none": 35, "llm": 30}
    with pytest.raises(ValueError, match="no arm"):
        skewed_experiments(config, dst, "nope", 5)


def test_a_live_returning_audience_makes_the_visits_the_cut_log_keeps(
    tmp_path: Path, trained_artifacts: Path, ml_split: Split
) -> None:
    """The cut `care ab simulate --aa` applies to a fully served log (ServedLog.with_returns) against a
    live run whose users stop coming back: the same users, the same clicks, the same visits and answers."""
    windows, times = windows_of(ml_split.test)
    model = ReturnModel(after_empty=0.5)
    serving = serving_file(tmp_path / "serving", "control", {"reranker": "rules"})

    def served(returns: ReturnModel | None, name: str) -> ServedLog:
        cfg = SimConfig(
            experiments_file=serving, out=tmp_path / name, users=12, requests=4, concurrency=3, seed=3,
            clicks=CascadeClickModel(patience=0.6), returns=returns, n_boot=100,
            prompts_dir=Path("prompts"), server_env={"CARE_ARTIFACTS": str(trained_artifacts)},
        )  # fmt: skip
        traffic, (imps, outs) = replay(cfg, serving, audience(cfg, windows), windows, times, read_rows)
        assert traffic.errors == 0
        return ServedLog.of("control", "rules", imps, outs)

    live, full = served(model, "live"), served(None, "full")
    cut = full.with_returns(model, seed=3)
    assert sum(map(len, full.imps.values())) == 48 > sum(map(len, live.imps.values()))  # some stopped
    for u in full.imps:
        assert [r[I_ITEMS] for r in live.imps[u]] == [r[I_ITEMS] for r in cut.imps[u]]
        plays = [(o[O_ITEM], o[O_POS]) for o in live.outs.get(u, []) if o[O_TYPE] == "play"]
        assert plays == [(o[O_ITEM], o[O_POS]) for o in cut.outs.get(u, []) if o[O_TYPE] == "play"]
