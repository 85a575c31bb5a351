"""`care llm calibrate` on the real cascade with a few users: the file, the plot, the scorer's AUC."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from service.cli import app


def test_calibrate_writes_rows_break_even_and_plot(eval_artifacts: Path, tmp_path: Path) -> None:
    args = ["llm", "calibrate", "--auc", "0.5", "--auc", "0.95", "--users", "12", "--n-boot", "200",
            "--out", str(tmp_path), "--artifacts", str(eval_artifacts)]  # fmt: skip
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "calibration.json").read_text())
    assert [r["auc"] for r in doc["rows"]] == [0.5, 0.95]
    for r in doc["rows"]:
        assert {"auc", "weight", "ndcg_gain", "titlefit_gain"} <= set(r)
        assert set(r["ndcg_gain"]) == {"mean", "lo", "hi"} and r["ndcg_gain"]["lo"] <= r["ndcg_gain"]["hi"]
    assert doc["rows"][1]["measured_auc"] > 0.8  # the scorer carries what it was set to (d = 2.33)
    assert set(doc["break_even_auc"]) == {"ndcg", "titlefit"}
    assert "0..11" in doc["users"]["eval"] and "12..23" in doc["users"]["tune"]  # disjoint users
    assert (tmp_path / "calibration.png").stat().st_size > 1000
    assert "break-even AUC" in res.output


def test_bad_input_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["llm", "calibrate", "--auc", "1.5", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "--auc must lie strictly between 0 and 1" in res.output
    res = runner.invoke(app, ["llm", "qualify", "--users", "5", "--titled", "9"])
    assert res.exit_code == 2 and "--titled 9 exceeds --users 5" in res.output
    res = runner.invoke(app, ["llm", "qualify", "--tuned-adapter", str(tmp_path / "none.gguf")])
    assert res.exit_code == 2 and "no such file" in res.output
    res = runner.invoke(app, ["llm", "qualify", "--base-url", "http://x", "--tuned-adapter", str(tmp_path)])
    assert res.exit_code == 2 and "embedded model" in res.output
    res = runner.invoke(app, ["llm", "qualify", "--base-url", "http://x", "--dialect", "nope"])
    assert res.exit_code == 2 and "--dialect must be one of" in res.output
    (tmp_path / "f").write_text("")
    res = runner.invoke(app, ["llm", "calibrate", "--out", str(tmp_path / "f")])
    assert res.exit_code == 2 and "not a folder" in res.output
    assert "Traceback" not in res.output
