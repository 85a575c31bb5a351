"""`care train --engine dask:2` on a real two-worker LocalCluster writes artifacts that serve."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from cascade.data.synth import synth
from cascade.runtime import load_runtime
from cascade.types import Context
from service.cli import app


def test_care_train_on_a_two_worker_dask_cluster(tmp_path: Path) -> None:
    data = synth(150, 100, 2500, seed=2, out=tmp_path / "data")
    out = tmp_path / "artifacts"
    care = str(Path(sys.executable).with_name("care"))
    cmd = [care, "train", "--engine", "dask:2", "--source", str(data), "--out", str(out), "--seed", "3"]
    subprocess.run(cmd, check=True, capture_output=True, timeout=900)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["engine"] == {"name": "dask", "workers": 2}
    assert manifest["ranker"]["rows"] > 0 and {"collab", "ranker_rows", "ranker_fit"} <= set(manifest["cost"])
    rt = load_runtime(out)
    assert rt.collab is not None and len(rt.collab) == 100
    got = rt.offline_pipeline("test").rank(int(rt.dataset.users.user_ids[0]), Context())
    assert len(got.ranked.item_ids) > 0 and set(got.ranked.item_ids.tolist()) <= set(
        rt.dataset.catalog.item_ids
    )


def test_an_unknown_engine_is_a_usage_error() -> None:
    res = CliRunner().invoke(app, ["train", "--engine", "spark"])
    assert res.exit_code == 2 and "--engine" in res.output and "expected 'local'" in res.output
