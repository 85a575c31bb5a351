"""A tiny real tuning run (a few users, two optimizer steps), shared by the tune tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cascade.rerank.llm.models import pull_smollm2
from cascade.tune.config import TuneConfig
from cascade.tune.train import tune
from eval.titlefit import load_titles

# a high learning rate so two steps move the label scores measurably (the parity test needs that)
TINY = TuneConfig(max_users=8, val_users=2, max_steps=2, grad_accum=2, eval_every=1, lr=2e-2, warmup_steps=0)


@pytest.fixture(scope="session")
def gguf() -> Path:
    return pull_smollm2()


@pytest.fixture(scope="session")
def forbidden() -> list[str]:
    return [t.title for t in load_titles()]


@pytest.fixture(scope="session")
def tiny_run(
    tmp_path_factory: pytest.TempPathFactory, trained_artifacts: Path, gguf: Path, forbidden: list[str]
) -> tuple[Path, dict[str, Any]]:
    """(output folder, manifest) of the tiny run."""
    out = tmp_path_factory.mktemp("tune")
    manifest = tune(TINY, out, gguf, artifacts=trained_artifacts, forbidden_titles=forbidden, progress=False)
    return out, manifest
