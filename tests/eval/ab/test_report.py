"""`care ab report` end to end over a SQLite log: the files, and a loud non-zero exit on SRM."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cascade.impressions import Impression, Outcome, SqliteImpressionLog
from eval.ab.power import z_sum
from service.cli import app

EXPERIMENTS = """\
experiments:
  main:
    salt: s
    arms:
      - {name: rules, weight: 50, reranker: rules}
      - {name: none, weight: 50, reranker: none}
"""


def _log(path: Path, n_rules: int, n_none: int) -> None:
    log = SqliteImpressionLog(path)
    imps, outs = [], []
    for u in range(n_rules + n_none):
        arm = "rules" if (u % 2 == 0 if n_rules == n_none else u < n_rules) else "none"
        rid = f"r{u}"
        imps.append(Impression(100.0 + u, rid, u, "main", arm, arm, None, None, (1, 2, 3), 2.0, 0.2, False))
        if u % 3 == 0:
            outs.append(Outcome(101.0 + u, u, 2, "play", rid, "main", arm, 2, "request_id"))
    log.append(imps)
    log.record(outs)
    log.close()


def test_report_files_and_numbers(tmp_path: Path) -> None:
    (tmp_path / "e.yaml").write_text(EXPERIMENTS)
    _log(tmp_path / "i.sqlite", 60, 60)
    out = tmp_path / "rep"
    res = CliRunner().invoke(
        app,
        ["ab", "report", "--sqlite", str(tmp_path / "i.sqlite"),
         "--experiments-file", str(tmp_path / "e.yaml"),
         "--out", str(out), "--since", "100", "--until", "1000", "--n-boot", "200"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    rep = json.loads((out / "report.json").read_text())
    assert rep["totals"]["impressions"] == 120 and rep["srm"]["passed"]
    assert rep["arms"]["rules"]["play_through"] == 20 / 60
    md = (out / "report.md").read_text()
    assert "| rules | rules | 60 | 60 |" in md and "SRM check passed" in md
    # the minimum detectable effect of this sample: 2.80 standard errors of the difference, printed too
    mde = rep["comparisons_vs_control"]["none"]["play_through"]["mde"]
    sd = (1 / 3 * 2 / 3) ** 0.5  # one impression per user: the sd of a Bernoulli(1/3)
    assert mde == pytest.approx(z_sum() * sd * (2 / 60) ** 0.5, rel=0.15)
    assert f"MDE (80% power, 95%) none - rules at 60 / 60 users: play_through {mde:.4f} (" in res.output
    assert "## Minimum detectable effect" in md
    per_user = rep["comparisons_vs_control"]["none"]["plays_per_user"]["mde"]  # the new metric, with its MDE
    assert f", plays_per_user {per_user:.4f} (" in res.output and "| plays_per_user |" in md
    assert (out / "rates.png").stat().st_size > 0 and (out / "ci_bars.png").stat().st_size > 0


def test_time_range_limits_the_report(tmp_path: Path) -> None:
    (tmp_path / "e.yaml").write_text(EXPERIMENTS)
    _log(tmp_path / "i.sqlite", 60, 60)
    out = tmp_path / "rep"
    res = CliRunner().invoke(
        app,
        ["ab", "report", "--sqlite", str(tmp_path / "i.sqlite"),
         "--experiments-file", str(tmp_path / "e.yaml"),
         "--out", str(out), "--since", "100", "--until", "129.5", "--n-boot", "100"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert json.loads((out / "report.json").read_text())["totals"]["impressions"] == 30


def test_sample_ratio_mismatch_exits_3_with_a_clear_message(tmp_path: Path) -> None:
    (tmp_path / "e.yaml").write_text(EXPERIMENTS)
    _log(tmp_path / "i.sqlite", 600, 400)
    out = tmp_path / "rep"
    res = CliRunner().invoke(
        app,
        ["ab", "report", "--sqlite", str(tmp_path / "i.sqlite"),
         "--experiments-file", str(tmp_path / "e.yaml"),
         "--out", str(out), "--n-boot", "100"],
    )  # fmt: skip
    assert res.exit_code == 3
    assert "SAMPLE RATIO MISMATCH" in res.output and "rules: 600 vs 500.0 expected" in res.output
    assert not json.loads((out / "report.json").read_text())["srm"]["passed"]


def test_bad_inputs_name_the_problem(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["ab", "report", "--sqlite", str(tmp_path / "missing.sqlite")])
    assert res.exit_code == 2 and "missing.sqlite" in res.output
    (tmp_path / "i.sqlite").touch()
    res = CliRunner().invoke(
        app, ["ab", "report", "--sqlite", str(tmp_path / "i.sqlite"), "--since", "yesterday"]
    )
    assert res.exit_code == 2 and "yesterday" in res.output
