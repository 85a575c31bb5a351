"""`care bench cascade --against DIR`: both catalogs timed in one process, a ratio per round."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cascade.bench import paired
from service.cli import app


def test_two_catalogs_timed_side_by_side_give_a_ratio_per_round(
    trained_artifacts: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CARE_ARTIFACTS", str(trained_artifacts))
    ratios = paired.run(trained_artifacts, n=30, rounds=2, block=10)
    assert len(ratios) == 2 and all(math.isfinite(r) and r > 0 for r in ratios)
    out = capsys.readouterr().out
    assert "p50 ratio against / default: median" in out and "over 2 rounds" in out


def test_a_missing_folder_is_refused_by_name(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["bench", "cascade", "--against", str(tmp_path / "nope")])
    assert res.exit_code == 2 and "--against" in res.output
