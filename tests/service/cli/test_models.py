"""`care models list | activate | rollback` over a root of trained versions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cascade.runtime.versions import target
from service.cli import app


@pytest.fixture
def pointer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for v in ("v1", "v2"):
        (tmp_path / v).mkdir()
        manifest = {"version": f"model-{v}", "ranker": {"version": f"xgb-{v}"}}
        (tmp_path / v / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.setenv("CARE_ARTIFACTS", str(tmp_path / "current"))
    return tmp_path / "current"


def test_activate_list_and_rollback(pointer: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(app, ["models", "activate", "v1"])
    assert r.exit_code == 0 and target(pointer) == "v1", r.output
    r = runner.invoke(app, ["models", "activate", "v2"])
    assert r.exit_code == 0 and "v1 -> v2" in r.output
    listing = runner.invoke(app, ["models", "list"]).output.splitlines()
    assert listing[0].split() == ["previous", "v1", "model=model-v1", "ranker=xgb-v1"]
    assert listing[1].split() == ["current", "v2", "model=model-v2", "ranker=xgb-v2"]
    r = runner.invoke(app, ["models", "rollback"])
    assert r.exit_code == 0 and "v2 -> v1 (rolled back)" in r.output and target(pointer) == "v1"


def test_an_unknown_version_fails_and_names_the_known_ones(pointer: Path) -> None:
    r = CliRunner().invoke(app, ["models", "activate", "v9"])
    assert r.exit_code == 2 and "known: v1, v2" in r.output
    assert not pointer.exists()
