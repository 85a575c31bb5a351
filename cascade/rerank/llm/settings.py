"""How the LLM stage runs: one settings model with a tagged backend (in process or an HTTP server).

The service nests it under `llm` (CARE_LLM__...), `care eval` and `care bench llm` build it from their
flags, and the arm resolver hands it to the LLM stage; nothing else describes the LLM backend.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

# How an OpenAI-compatible server is asked for structured output (see http_backend).
Dialect = Literal["vllm", "llamacpp"]
DIALECTS: tuple[Dialect, ...] = ("vllm", "llamacpp")
# Which weights an LLM arm scores with: the base model, or it with the LoRA adapter of `care tune`.
ModelChoice = Literal["base", "tuned"]
QUALITY_READ_TIMEOUT_S = 600.0


def file_tag(path: Path) -> str:
    """A short content hash of a file (an adapter): answers of different files never share a key."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:12]


class InProcessBackendConfig(BaseModel):
    """llama.cpp inside the service process (the embedded default)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["inprocess"] = "inprocess"
    model_path: Path | None = Field(default=None, description="GGUF file; unset: the embedded SmolLM2.")
    n_ctx: int | None = Field(default=None, ge=256, description="Unset: sized to the prompt files.")
    n_threads: int = Field(default=2, ge=1)
    tuned_adapter: Path | None = Field(
        default=None,
        description="LoRA adapter GGUF for arms with model: tuned; unset: what `care tune` wrote.",
    )


class HTTPBackendConfig(BaseModel):
    """An OpenAI-compatible server: vLLM in production, llama.cpp's server here."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["http"] = "http"
    base_url: str = Field(min_length=1, description="The API root, e.g. http://vllm:8000/v1.")
    model: str = Field(default="default", description="The served model name (a LoRA module's name too).")
    tuned_model: str = Field(
        default="care",
        min_length=1,
        description="The LoRA module's name (vLLM --lora-modules) for model: tuned.",
    )
    tuned_base_url: str | None = Field(
        default=None,
        description="The LoRA module's server (its base must be the tuned one); unset: base_url.",
    )
    dialect: Dialect = "llamacpp"
    api_key: SecretStr | None = None
    tokenizer_path: Path | None = Field(
        default=None, description="GGUF whose tokenizer checks prompt budgets; unset: the embedded SmolLM2."
    )
    connect_timeout_s: float = Field(default=1.0, gt=0)
    read_timeout_s: float = Field(default=30.0, gt=0)
    top_logprobs: int = Field(default=20, ge=1, le=1000)
    max_connections: int = Field(default=16, ge=1)


BackendConfig = Annotated[InProcessBackendConfig | HTTPBackendConfig, Field(discriminator="kind")]


class LLMSettings(BaseModel):
    """The LLM backend and the guard's knobs shared by every LLM arm (the deadline is the arm's)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    backend: BackendConfig = Field(default_factory=InProcessBackendConfig)
    max_concurrency: int = Field(default=1, ge=1, description="LLM calls in flight; beyond: the fallback.")
    failure_threshold: int = Field(default=5, ge=1, description="Consecutive failures that open the breaker.")
    reset_after_s: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=2, ge=1, description="First try plus retries of retryable errors.")
    cache_ttl_s: float = Field(default=900.0, gt=0)

    def for_quality(self) -> LLMSettings:
        """Settings that measure the model: no circuit breaking, no retries hiding failures, long reads."""
        backend: InProcessBackendConfig | HTTPBackendConfig = self.backend
        if isinstance(backend, HTTPBackendConfig):
            backend = backend.model_copy(update={"read_timeout_s": QUALITY_READ_TIMEOUT_S})
        return self.model_copy(update={"backend": backend, "failure_threshold": 10**9, "max_attempts": 1})

    def describe(self, model: ModelChoice = "base") -> dict[str, Any]:
        """What identifies the model's answers (recorded in reports, part of eval cache keys).

        model="tuned" adds the adapter: its module name over HTTP, its content hash in process.
        """
        b = self.backend
        if isinstance(b, HTTPBackendConfig):
            out: dict[str, Any] = {
                "backend": b.kind,
                "base_url": b.base_url,
                "model": b.model,
                "dialect": b.dialect,
            }
            tuned = {"tuned_model": b.tuned_model, "tuned_base_url": b.tuned_base_url or b.base_url}
            return out | (tuned if model == "tuned" else {})
        from cascade.rerank.llm.models import SMOLLM2_FILE

        out = {"backend": b.kind, "model": b.model_path.name if b.model_path else SMOLLM2_FILE}
        if model == "tuned":
            path = self.tuned_adapter_path()
            out["adapter"] = file_tag(path) if path is not None and path.is_file() else "absent"
        return out

    def tuned_available(self) -> bool:
        """Whether arms with model: tuned can run (over HTTP: assumed; in process: the adapter exists)."""
        path = self.tuned_adapter_path()
        return isinstance(self.backend, HTTPBackendConfig) or (path is not None and path.is_file())

    def tuned_adapter_path(self) -> Path | None:
        """The in-process backend's LoRA adapter GGUF (None over HTTP)."""
        b = self.backend
        if isinstance(b, HTTPBackendConfig):
            return None
        from cascade.rerank.llm.models import tuned_adapter_path

        return b.tuned_adapter or tuned_adapter_path()
