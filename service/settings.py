"""Service settings: environment variables prefixed CARE_, optionally a .env or YAML file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from cascade.experiments import EXPERIMENTS_FILE
from cascade.features.online import MemoryStoreConfig, RedisStoreConfig
from cascade.paths import artifacts_dir
from cascade.rerank.llm.prompts import PROMPTS_DIR


def _yaml_file() -> Path | None:
    """$CARE_SETTINGS_FILE, a YAML mapping of the same field names (lower case, no prefix)."""
    env = os.environ.get("CARE_SETTINGS_FILE")
    return Path(env).expanduser() if env else None


class Settings(BaseSettings):
    """Everything the service reads from its environment; CARE_<NAME> sets <name>."""

    model_config = SettingsConfigDict(
        env_prefix="CARE_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    artifacts: Path = Field(default_factory=artifacts_dir, description="Trained artifacts folder.")

    # Online store: memory unless a Redis URL is given.
    redis_url: str | None = Field(default=None, description="Online store Redis URL; unset: memory.")
    redis_prefix: str = "care:"
    redis_socket_timeout_s: float = Field(default=0.25, gt=0, le=10)
    redis_connect_timeout_s: float = Field(default=0.25, gt=0, le=10)
    session_ttl_s: int = Field(default=86_400, gt=0)

    # LLM backend for arms with reranker: llm.
    llm_backend: Literal["inprocess", "http"] = "inprocess"
    llm_base_url: str | None = Field(default=None, description="OpenAI-compatible API root (…/v1).")
    llm_model: str = "SmolLM2-135M-Instruct"
    llm_dialect: Literal["vllm", "llamacpp"] = "llamacpp"
    llm_api_key: SecretStr | None = None
    llm_model_path: Path | None = Field(default=None, description="GGUF for the in-process backend.")
    llm_concurrency: int = Field(default=1, ge=1, description="LLM calls in flight; beyond: the fallback.")
    llm_cache_ttl_s: float = Field(default=900.0, gt=0)

    # Experiments and prompts (reloaded on change or SIGHUP).
    experiments_file: Path = EXPERIMENTS_FILE
    prompts_dir: Path = PROMPTS_DIR
    reload_interval_s: float = Field(default=1.0, gt=0)
    default_timeout_ms: float = Field(default=300.0, gt=0, description="Deadline of arms without one.")

    # Protection.
    api_key: SecretStr | None = Field(default=None, description="Required on write endpoints when set.")
    max_body_bytes: int = Field(default=64 * 1024, gt=0)
    max_inflight: int = Field(default=64, gt=0, description="Requests beyond this many in flight: 429.")
    llm_inflight: int = Field(default=8, ge=0, description="Beyond this in flight: no LLM.")
    cascade_execution: Literal["inline", "thread"] = "inline"

    # A/B impression log and attribution (service/tracking.py).
    impressions: Literal["auto", "redis", "sqlite", "off"] = Field(
        default="auto", description="auto: a Redis Stream with a Redis store, else a local SQLite file."
    )
    impressions_redis_url: str | None = Field(default=None, description="Log Redis; default: redis_url.")
    impressions_path: Path | None = Field(default=None, description="SQLite log; default $CARE_HOME/ab/.")
    impressions_max: int = Field(default=1_000_000, gt=0, description="Log bound (entries, oldest trimmed).")
    impressions_queue: int = Field(default=10_000, gt=0, description="Pending records; beyond: dropped.")
    attribution_window_s: float = Field(default=1800.0, gt=0, description="Event-to-impression window.")
    users_as_of: Literal["end", "test"] = Field(
        default="end", description="test: users as of their test-window start (`care ab simulate` replays)."
    )

    @field_validator("redis_url", "llm_base_url", "impressions_redis_url", mode="before")
    @classmethod
    def _empty_is_none(cls, v: Any) -> Any:
        return None if v == "" else v

    def store_config(self) -> MemoryStoreConfig | RedisStoreConfig:
        """The online-store backend config these settings select."""
        if self.redis_url is None:
            return MemoryStoreConfig(session_ttl_s=float(self.session_ttl_s))
        return RedisStoreConfig(
            url=self.redis_url,
            prefix=self.redis_prefix,
            socket_timeout_s=self.redis_socket_timeout_s,
            connect_timeout_s=self.redis_connect_timeout_s,
            session_ttl_s=self.session_ttl_s,
        )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings, dotenv_settings]
        path = _yaml_file()
        if path is not None:
            _check_yaml(path)
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=path))
        sources.append(file_secret_settings)
        return tuple(sources)


def _check_yaml(path: Path) -> None:
    """Fail early, naming the file, when the settings file is unreadable or not a mapping."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: cannot read settings file: {exc}") from exc
    if raw is not None and not isinstance(raw, dict):
        raise ValueError(f"{path}: settings file must be a YAML mapping")
