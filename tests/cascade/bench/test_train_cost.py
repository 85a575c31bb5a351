"""`care bench train-cost` runs `care train` per data set in its own process and prints every stage's cost."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from cascade.bench.train_cost import exponent, run
from cascade.data.synth import synth

STAGES = {"data", "text_embeddings", "batch_features", "two_tower", "collab", "ranker_rows", "ranker_fit"}


def test_exponent_is_the_log_log_slope() -> None:
    assert exponent([10, 100, 1000], [1.0, 10.0, 100.0]) == pytest.approx(1.0)
    assert exponent([10, 100], [2.0, 200.0]) == pytest.approx(2.0)
    assert math.isnan(exponent([10], [1.0]))


def test_two_sizes_give_every_stage_with_time_and_memory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    small = synth(120, 80, 1500, seed=1, out=tmp_path / "small")
    large = synth(240, 160, 4000, seed=1, out=tmp_path / "large")
    runs = run([str(large), str(small)], tmp_path / "runs", seed=3)
    assert [r.interactions for r in runs] == [1500, 4000]  # sorted by size
    for r in runs:
        assert set(r.stages) >= STAGES and r.peak_rss_mb > 100 and r.wall_s > 0
        assert all(s["s"] >= 0 and s["peak_rss_mb"] > 0 for s in r.stages.values())
        assert 0.0 <= r.ndcg10 <= 1.0
    out = capsys.readouterr().out
    assert "exponent" in out and "total (process)" in out and "collab" in out
