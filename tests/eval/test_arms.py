"""Arms from prompts/experiments.yaml: deduplicated, rules always present, unknown names rejected."""

from __future__ import annotations

from pathlib import Path

import pytest

from cascade.experiments import ArmSpec
from eval.arms import config_arms, fingerprint, select_arms

YAML = """
experiments:
  a:
    salt: s
    arms:
      - {name: rules, weight: 70, reranker: rules}
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
    assert arms[1] == ArmSpec(name="rules", reranker="rules")
    assert arms[3].timeout_ms == 300


def test_select_arms(tmp_path: Path) -> None:
    (tmp_path / "e.yaml").write_text(YAML)
    assert [a.name for a in select_arms(["none"], tmp_path / "e.yaml")] == ["rules", "none"]
    sel = select_arms(["llm:single_pass_nocontext"], tmp_path / "e.yaml")
    assert sel[-1] == _llm("llm:single_pass_nocontext", "single_pass_nocontext", 150)
    with pytest.raises(ValueError, match="unknown arm"):
        select_arms(["nope"], tmp_path / "e.yaml")
    with pytest.raises(ValueError, match="no prompt file"):
        select_arms(["llm:nope"], tmp_path / "e.yaml")


def _llm(name: str, prompt: str, timeout_ms: int) -> ArmSpec:
    return ArmSpec.model_validate(
        {"name": name, "reranker": "llm", "prompt": prompt, "timeout_ms": timeout_ms}
    )


def test_fingerprint_tracks_config_and_files(tmp_path: Path) -> None:
    a = _llm("llm-x", "single_pass", 150)
    assert fingerprint(a, {"k": 10}) == fingerprint(a, {"k": 10})
    assert fingerprint(a, {"k": 10}) != fingerprint(a, {"k": 5})
    assert fingerprint(a, {"k": 10}) != fingerprint(_llm("llm-x", "listwise", 150), {"k": 10})
    assert fingerprint(a, {"k": 10}) == fingerprint(a.model_copy(update={"weight": 9.0}), {"k": 10})
    folder = tmp_path / "prompts"
    folder.mkdir()
    prompt = folder / "single_pass.yaml"
    prompt.write_text("a: 1\n")
    before = fingerprint(a, {"k": 10}, folder)
    prompt.write_text("a: 2\n")  # the prompt file's content is part of the key
    assert fingerprint(a, {"k": 10}, folder) != before


def test_repo_experiments_file_parses() -> None:
    names = [a.name for a in config_arms()]
    assert names[:2] == ["none", "rules"]


def test_eval_cli_rejects_bad_options() -> None:
    from eval.cli import eval_cli

    with pytest.raises(ValueError, match="--context"):
        eval_cli(context="sometimes")
    with pytest.raises(ValueError, match="--dialect must be one of"):
        eval_cli(dialect="tgi")
    with pytest.raises(ValueError, match="at least 1"):
        eval_cli(users=0)
    with pytest.raises(ValueError, match="--protocol must be one of"):
        eval_cli(protocol="vibes")


def test_tuned_arms_are_left_out_without_an_adapter(tmp_path: Path) -> None:
    from cascade.llm import InProcessBackendConfig, LLMSettings
    from eval.harness import EvalConfig, arms_for

    missing = LLMSettings(backend=InProcessBackendConfig(tuned_adapter=tmp_path / "none.gguf"))
    names = [a.name for a in arms_for(EvalConfig(llm=missing))]
    assert "llm-fused" in names and not {"llm-fused-tuned", "llm-alone-tuned"} & set(names)
    present = tmp_path / "adapter.gguf"
    present.write_bytes(b"GGUF")
    names = [
        a.name
        for a in arms_for(EvalConfig(llm=LLMSettings(backend=InProcessBackendConfig(tuned_adapter=present))))
    ]
    assert {"llm-fused-tuned", "llm-alone-tuned", "llm-alone"} <= set(names)
    # named arms are taken as asked (a missing adapter is then an error when the arm is built)
    named = arms_for(EvalConfig(llm=missing, arms=["llm-alone-tuned"]))
    assert [a.name for a in named] == ["rules", "llm-alone-tuned"]
