"""`care bench cascade --score N`: the stages timed with the ranker on the candidates' head, or on all."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from service.cli import app


@pytest.mark.parametrize(("score", "said"), [(50, "scored 50 of 500 candidates"), (0, "scored 500 of 500")])
def test_the_bench_scores_the_head_it_is_given(
    trained_artifacts: Path, monkeypatch: pytest.MonkeyPatch, score: int, said: str
) -> None:
    monkeypatch.setenv("CARE_ARTIFACTS", str(trained_artifacts))
    args = ["bench", "cascade", "--n", "20", "--synthetic", "0", "--score", str(score)]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert said in res.output and "whole cascade without the LLM p50" in res.output


def test_a_negative_head_is_refused_by_name() -> None:
    res = CliRunner().invoke(app, ["bench", "cascade", "--score", "-1"])
    assert res.exit_code == 2 and "--score" in res.output
