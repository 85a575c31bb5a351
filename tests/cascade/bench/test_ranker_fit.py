"""`care bench ranker-fit`: the same rows fitted in process and on an engine, scored on the test window."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cascade.bench import ranker_fit
from service.cli import app


def test_each_seed_is_fitted_by_both_and_the_mean_gap_printed(
    trained_artifacts: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CARE_ARTIFACTS", str(trained_artifacts))
    res = ranker_fit.run("dask:1", [3])
    [(seed, here, there)] = res["per_seed"]
    assert seed == 3 and 0.1 < here < 0.3
    assert abs(here - there) < 0.01  # one worker holds every group: the fit it makes is the same model
    assert res["mean_gap"] == pytest.approx(here - there)
    out = capsys.readouterr().out
    assert "one process minus dask:1, mean over 1 seeds" in out and "target <= 0.003" in out


def test_an_unknown_engine_is_refused_by_name() -> None:
    res = CliRunner().invoke(app, ["bench", "ranker-fit", "--engine", "spark:2"])
    assert res.exit_code == 2 and "--engine" in res.output
