"""Fixtures: a loaded Runtime over trained artifacts (the default ones, or trained once into a temp dir)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from cascade.runtime import Runtime


@pytest.fixture(scope="session")
def eval_artifacts(trained_artifacts: Path) -> Path:
    return trained_artifacts


@pytest.fixture(scope="session")
def eval_runtime(eval_artifacts: Path) -> Runtime:
    from cascade.runtime import load_runtime

    return load_runtime(eval_artifacts)
