"""The tiny real run: manifest, files, held-out validation, and resuming from the checkpoint."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from cascade.tune.train import tune
from tests.cascade.tune.conftest import TINY


def test_manifest_records_data_config_validation_and_versions(tiny_run: tuple[Path, dict[str, Any]]) -> None:
    out, m = tiny_run
    assert json.loads((out / "manifest.json").read_text()) == m
    assert (out / "adapter" / "adapter_config.json").is_file()
    assert (out / "adapter" / "adapter_model.safetensors").is_file()
    assert (out / "adapter.gguf").stat().st_size > 0
    assert m["seed"] == 0 and m["config"]["rank"] == TINY.rank
    assert m["data"]["train_examples"] > 0 and m["data"]["heldout_users"] == 2
    assert m["training"]["steps"] == 2 and m["training"]["examples_seen"] == 4
    assert m["training"]["device"] in ("cpu", "cuda")
    hist = m["validation"]["history"]
    assert [h["step"] for h in hist] == [0, 1, 2]
    assert all(0.0 <= h["ndcg@10"] <= 1.0 for h in hist)
    assert m["validation"]["best"] == max(h["ndcg@10"] for h in hist)
    assert {"torch", "transformers", "peft", "gguf", "llama_cpp_python"} <= set(m["versions"])


def test_a_rerun_resumes_from_the_checkpoint(
    tiny_run: tuple[Path, dict[str, Any]],
    trained_artifacts: Path,
    gguf: Path,
    forbidden: list[str],
    tmp_path: Path,
) -> None:
    out = tmp_path / "run"
    shutil.copytree(tiny_run[0], out)
    first = tiny_run[1]
    more = TINY.model_copy(update={"max_steps": 3})
    m = tune(more, out, gguf, artifacts=trained_artifacts, forbidden_titles=forbidden, progress=False)
    assert m["training"]["resumed"] is True
    assert m["training"]["steps"] == 3 and m["training"]["examples_seen"] == 6
    # the history up to step 2 is the first run's, not recomputed
    assert m["validation"]["history"][:3] == first["validation"]["history"]
