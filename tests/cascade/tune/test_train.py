"""The tiny real run: manifest, files, held-out validation, and resuming from the checkpoint."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from cascade.tune.config import TuneConfig
from cascade.tune.examples import Example, Negatives
from cascade.tune.train import examples_for, tune
from tests.cascade.tune.conftest import TINY

OLD_DEFAULT_DIGEST = "db497e2644b2afb5"


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


def test_negatives_enter_the_digest_and_hard_keeps_the_old_one() -> None:
    # the digest of the default settings before the option existed (checkpoints written then resume)
    assert TuneConfig().digest() == TuneConfig(negatives="hard").digest() == OLD_DEFAULT_DIGEST
    assert TuneConfig(negatives="mixed").digest() != OLD_DEFAULT_DIGEST


def test_mixed_negatives_change_training_windows_only(
    trained_artifacts: Path, gguf: Path, forbidden: list[str], tmp_path: Path
) -> None:
    def build(negatives: Negatives) -> tuple[list[Example], list[Example]]:
        cfg = TINY.model_copy(update={"negatives": negatives})
        out = tmp_path / negatives
        out.mkdir()
        return examples_for(cfg, out, gguf, trained_artifacts, forbidden, False)

    hard_train, hard_val = build("hard")
    mixed_train, mixed_val = build("mixed")
    assert mixed_val == hard_val  # held-out windows stay the ranker's (early stopping is comparable)
    assert [e.user_id for e in mixed_train] == [e.user_id for e in hard_train]
    hard = {e.user_id: set(e.item_ids) for e in hard_train}
    for e in mixed_train:
        assert len(e.item_ids) == 20 and e.positives
        # the ranker's top 10 (one of them possibly a deeper positive) and 10 items from elsewhere
        assert 9 <= len(set(e.item_ids) & hard[e.user_id]) < 20
