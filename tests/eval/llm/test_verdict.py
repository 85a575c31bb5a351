"""From an AUC interval and a calibration curve to a verdict, a weight and a predicted gain."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from eval.llm.verdict import break_even, decide, load_calibration, predict


def _row(auc: float, weight: float, lo: float, mean: float = 0.01) -> dict[str, Any]:
    g = {"mean": mean, "lo": lo, "hi": mean + 0.01}
    return {"auc": auc, "weight": weight, "mmr_lambda": 0.7, "ndcg_gain": g, "titlefit_gain": g}


ROWS = [_row(0.5, 0.0, -0.01, 0.0), _row(0.6, 0.2, -0.002), _row(0.7, 0.5, 0.001), _row(0.8, 1.0, 0.01, 0.03)]


def test_break_even_is_where_every_higher_auc_gains() -> None:
    assert break_even(ROWS) == 0.7
    assert break_even([*ROWS[:3], _row(0.8, 0.0, 0.01)]) is None  # the top row picked weight 0
    assert break_even([_row(0.5, 0.0, -0.01)]) is None


def test_predict_interpolates_and_says_when_it_extrapolates() -> None:
    p = predict(ROWS, 0.75)
    assert p["mean"] == pytest.approx(0.02) and p["extrapolated"] is False
    assert predict(ROWS, 0.95)["extrapolated"] is True


def test_decide_serves_only_above_break_even_with_the_conservative_weight() -> None:
    calib = {"rows": ROWS}
    no = decide({"mean": 0.72, "lo": 0.66, "hi": 0.78}, calib)
    assert (no["verdict"], no["weight"]) == ("do-not-serve", 0.0) and "0.660" in no["reason"]
    yes = decide({"mean": 0.85, "lo": 0.78, "hi": 0.9}, calib)
    assert (yes["verdict"], yes["weight"], yes["break_even_auc"]) == ("serve", 0.5, 0.7)
    assert decide({"mean": 0.9, "lo": 0.85, "hi": 0.95}, None)["verdict"] == "do-not-serve"


def test_a_file_that_is_not_a_calibration_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "c.json"
    bad.write_text(json.dumps({"rows": [{"auc": 0.5}]}))
    with pytest.raises(ValueError, match=r"c\.json"):
        load_calibration(bad)
    bad.write_text(json.dumps({"rows": ROWS[::-1]}))
    assert [r["auc"] for r in load_calibration(bad)["rows"]] == [0.5, 0.6, 0.7, 0.8]
