"""From a measured AUC to a decision: the calibration curve's predicted gain, the verdict and the weight.

A model is served only when the lower end of its AUC interval reaches the calibration's break-even
AUC for NDCG@10 (the lowest calibrated AUC from which every higher one has tuning pick a weight
above zero with a fused gain whose CI lies above zero). Its weight and MMR lambda are those tuning
picked at the highest calibrated AUC not above that lower end: the conservative reading.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

GAIN_KEYS = ("mean", "lo", "hi")


def load_calibration(path: Path) -> dict[str, Any]:
    """calibration.json as `care llm calibrate` writes it; ValueError naming the file when unusable."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        rows = doc["rows"]
        if not rows or any(not {"auc", "weight", "ndcg_gain"} <= set(r) for r in rows):
            raise KeyError("rows need auc, weight and ndcg_gain")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a calibration file: {exc}") from exc
    doc["rows"] = sorted(rows, key=lambda r: float(r["auc"]))
    return dict(doc)


def break_even(
    rows: Sequence[Mapping[str, Any]], gain: str = "ndcg_gain", weight: str = "weight"
) -> float | None:
    """The lowest AUC from which every calibrated row has weight > 0 and gain CI above 0; None if none."""
    found: float | None = None
    for r in sorted(rows, key=lambda r: float(r["auc"]), reverse=True):
        g = r.get(gain) or {}
        if float(r.get(weight, 0.0)) > 0.0 and g.get("lo") is not None and float(g["lo"]) > 0.0:
            found = float(r["auc"])
        else:
            break
    return found


def predict(rows: Sequence[Mapping[str, Any]], auc: float, gain: str = "ndcg_gain") -> dict[str, Any]:
    """The gain interpolated linearly in AUC between calibrated rows (clamped at the ends, said so)."""
    xs = [float(r["auc"]) for r in rows if r.get(gain)]
    if not xs or math.isnan(auc):
        return {"mean": None, "lo": None, "hi": None, "extrapolated": True}
    out: dict[str, Any] = {}
    for k in GAIN_KEYS:
        ys = [float(r[gain][k]) for r in rows if r.get(gain)]
        out[k] = float(np.interp(auc, xs, ys))
    out["extrapolated"] = not xs[0] <= auc <= xs[-1]
    return out


def decide(auc: Mapping[str, float], calibration: Mapping[str, Any] | None) -> dict[str, Any]:
    """{"verdict", "weight", "mmr_lambda", "reason", "break_even_auc", "predicted_ndcg_gain", ...}."""
    out: dict[str, Any] = {"verdict": "do-not-serve", "weight": 0.0, "mmr_lambda": None}
    if calibration is None:
        return out | {"reason": "no calibration curve (run `care llm calibrate`)", "break_even_auc": None}
    rows = calibration["rows"]
    be = break_even(rows)
    out |= {
        "break_even_auc": be,
        "predicted_ndcg_gain": predict(rows, auc["mean"]),
        "predicted_ndcg_gain_at_lo": predict(rows, auc["lo"]),
        "predicted_titlefit_gain": predict(rows, auc["mean"], "titlefit_gain"),
    }
    lo = auc["lo"]
    if be is None:
        return out | {"reason": "the calibration has no AUC at which the fused arm gains"}
    if math.isnan(lo) or lo < be:
        return out | {"reason": f"AUC interval's lower end {lo:.3f} is below the break-even AUC {be:.3f}"}
    row = max((r for r in rows if be <= float(r["auc"]) <= lo), key=lambda r: float(r["auc"]))
    return out | {
        "verdict": "serve",
        "weight": float(row["weight"]),
        "mmr_lambda": row.get("mmr_lambda"),
        "reason": f"AUC interval's lower end {lo:.3f} reaches the break-even AUC {be:.3f}; "
        f"weight as calibrated at AUC {float(row['auc']):.2f}",
    }
