"""Arms from prompts/experiments.yaml: deduplicated, rules always present, unknown names rejected."""

from __future__ import annotations

from pathlib import Path

import pytest

from eval.arms import ArmSpec, config_arms, select_arms

YAML = """
experiments:
  a:
    salt: s
    arms:
      - {name: rules, weight: 70, reranker: rules, timeout_ms: 20}
      - {name: llm-x, weight: 10, reranker: llm, prompt: single_pass, timeout_ms: 150}
      - {name: none, weight: 10, reranker: none}
  b:
    salt: t
    arms:
      - {name: same-as-x, weight: 50, reranker: llm, prompt: single_pass, timeout_ms: 150}
      - {name: y, weight: 50, reranker: llm, prompt: listwise, timeout_ms: 300}
"""


def test_config_arms_dedup(tmp_path: Path) -> None:
    (tmp_path / "e.yaml").write_text(YAML)
    arms = config_arms(tmp_path / "e.yaml")
    assert [a.name for a in arms] == ["none", "rules", "llm-x", "y"]
    assert arms[1] == ArmSpec("rules", "rules", None, 20.0)
    assert arms[3].timeout_ms == 300.0


def test_select_arms(tmp_path: Path) -> None:
    (tmp_path / "e.yaml").write_text(YAML)
    assert [a.name for a in select_arms(["none"], tmp_path / "e.yaml")] == ["rules", "none"]
    sel = select_arms(["llm:single_pass_nocontext"], tmp_path / "e.yaml")
    assert sel[-1] == ArmSpec("llm:single_pass_nocontext", "llm", "single_pass_nocontext", None)
    with pytest.raises(ValueError, match="unknown arm"):
        select_arms(["nope"], tmp_path / "e.yaml")
    with pytest.raises(ValueError, match="no prompt file"):
        select_arms(["llm:nope"], tmp_path / "e.yaml")


def test_fingerprint_tracks_config_and_files() -> None:
    a = ArmSpec("llm-x", "llm", "single_pass", 150.0)
    assert a.fingerprint({"k": 10}) == a.fingerprint({"k": 10})
    assert a.fingerprint({"k": 10}) != a.fingerprint({"k": 5})
    assert a.fingerprint({"k": 10}) != ArmSpec("llm-x", "llm", "listwise", 150.0).fingerprint({"k": 10})


def test_repo_experiments_file_parses() -> None:
    names = [a.name for a in config_arms()]
    assert names[:2] == ["none", "rules"]


def test_eval_cli_rejects_bad_options() -> None:
    from eval.cli import eval_cli

    with pytest.raises(ValueError, match="--context"):
        eval_cli(context="sometimes")
    with pytest.raises(ValueError, match="--dialect"):
        eval_cli(dialect="tgi")
    with pytest.raises(ValueError, match="at least 1"):
        eval_cli(users=0)
