"""Fixtures: a loaded Runtime over trained artifacts (the default ones, or trained once into a temp dir)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from cascade.paths import artifacts_dir

if TYPE_CHECKING:
    from cascade.runtime import Runtime


@pytest.fixture(scope="session")
def eval_artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """$CARE_ARTIFACTS (default $CARE_HOME/artifacts/current) when trained, else trained once here."""
    default = artifacts_dir()
    if (default / "manifest.json").is_file():
        return default
    from cascade.train import train

    out = tmp_path_factory.mktemp("eval-artifacts") / "current"
    train(out, seed=7)
    return out


@pytest.fixture(scope="session")
def eval_runtime(eval_artifacts: Path) -> Runtime:
    from cascade.runtime import load_runtime

    return load_runtime(eval_artifacts)
