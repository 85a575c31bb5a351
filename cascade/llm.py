"""The LLM stage's public face for the service, eval and the CLI: settings, prompt folder, model files.

Callers outside cascade/ reach the LLM stage only through this module and cascade.arms.
"""

from __future__ import annotations

from cascade.rerank.llm.models import SMOLLM2_FILE, pull_smollm2, smollm2_path
from cascade.rerank.llm.prompts import PROMPTS_DIR
from cascade.rerank.llm.settings import (
    DIALECTS,
    BackendConfig,
    Dialect,
    HTTPBackendConfig,
    InProcessBackendConfig,
    LLMSettings,
    ModelChoice,
)

__all__ = [
    "DIALECTS",
    "PROMPTS_DIR",
    "SMOLLM2_FILE",
    "BackendConfig",
    "Dialect",
    "HTTPBackendConfig",
    "InProcessBackendConfig",
    "LLMSettings",
    "ModelChoice",
    "pull_smollm2",
    "smollm2_path",
]
