"""The LLM stage's public face for the service, eval and the CLI: settings, prompt folder, model files,
the fused scorer and the offline stage.

Callers outside cascade/ reach the LLM stage only through this module and cascade.arms. The stage
itself (llama.cpp) is imported only when `open_stage` runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from cascade.rerank.llm.backend import BackendError
from cascade.rerank.llm.factory import LLMUnavailable
from cascade.rerank.llm.fused import (
    FusedLLMReranker,
    FusionSettings,
    ScoreStore,
    use_score_store,
)
from cascade.rerank.llm.fused import windows as shuffle_windows
from cascade.rerank.llm.fused_kind import FusedConfig, Tuned, effective
from cascade.rerank.llm.models import SMOLLM2_FILE, pull_smollm2, smollm2_path, tuned_dir
from cascade.rerank.llm.prompts import PROMPTS_DIR
from cascade.rerank.llm.reranker import InvalidOutput
from cascade.rerank.llm.settings import (
    DIALECTS,
    BackendConfig,
    Dialect,
    HTTPBackendConfig,
    InProcessBackendConfig,
    LLMSettings,
    ModelChoice,
)

if TYPE_CHECKING:
    from cascade.experiments import ArmSpec
    from cascade.rerank.llm.factory import LLMStage

__all__ = [
    "DIALECTS",
    "PROMPTS_DIR",
    "SMOLLM2_FILE",
    "BackendConfig",
    "BackendError",
    "Dialect",
    "FusedLLMReranker",
    "FusionSettings",
    "HTTPBackendConfig",
    "InProcessBackendConfig",
    "InvalidOutput",
    "LLMSettings",
    "LLMUnavailable",
    "ModelChoice",
    "ScoreStore",
    "Tuned",
    "fused_llm_weight",
    "llm_settings",
    "open_stage",
    "pull_smollm2",
    "shuffle_windows",
    "smollm2_path",
    "tuned_dir",
    "use_score_store",
]


def open_stage(settings: LLMSettings, prompts_dir: Path = PROMPTS_DIR) -> LLMStage:
    """The LLM stage for offline work (tuning, qualification): loads the model or opens the client."""
    from cascade.rerank.llm.factory import LLMStage

    return LLMStage.from_settings(settings, prompts_dir=prompts_dir)


def fused_llm_weight(spec: ArmSpec, prompts_dir: Path = PROMPTS_DIR) -> float | None:
    """The LLM weight a fused arm serves with (after its tuning file); None for other arms and `alone`."""
    opts = spec.options
    if not isinstance(opts, FusedConfig) or opts.alone:
        return None
    try:
        return effective(opts, prompts_dir)[0]
    except ValueError:
        return None


def llm_settings(
    base_url: str | None, model: str = "default", dialect: str = "llamacpp", tuned_adapter: Path | None = None
) -> LLMSettings:
    """An OpenAI-compatible server at `base_url`, else the embedded model; ValueError names a bad field."""
    if dialect not in DIALECTS:
        raise ValueError(f"--dialect must be one of {list(DIALECTS)}, not {dialect!r}")
    backend: HTTPBackendConfig | InProcessBackendConfig
    if base_url:
        backend = HTTPBackendConfig.model_validate({"base_url": base_url, "model": model, "dialect": dialect})
    else:
        backend = InProcessBackendConfig(tuned_adapter=tuned_adapter)
    return LLMSettings(backend=backend)
