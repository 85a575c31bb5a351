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
from cascade.features.online import (
    AnyStoreConfig,
    MemoryStoreConfig,
    RedisClusterStoreConfig,
    RedisStoreConfig,
)
from cascade.llm import PROMPTS_DIR, LLMSettings
from cascade.paths import artifacts_dir
from cascade.ranking.discount import DiscountSettings
from cascade.ranking.head import N_SCORE


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
        env_nested_delimiter="__",
        frozen=True,
    )

    artifacts: Path = Field(default_factory=artifacts_dir, description="Trained artifacts folder.")
    model_watch: bool = Field(
        default=True,
        description="Switch to the version the artifacts pointer names when it changes (no restart).",
    )

    # Online store: memory unless a Redis URL is given.
    redis_url: str | None = Field(default=None, description="Online store Redis URL; unset: memory.")
    redis_prefix: str = "care:"
    redis_socket_timeout_s: float = Field(default=0.25, gt=0, le=10)
    redis_connect_timeout_s: float = Field(default=0.25, gt=0, le=10)
    session_ttl_s: int = Field(default=86_400, gt=0)

    # Online-store breaker, Redis Cluster and serving processes (issue 14).
    redis_cluster: bool = Field(default=False, description="CARE_REDIS_URL names a node of a Redis Cluster.")
    redis_min_replicas: int = Field(
        default=0,
        ge=0,
        description="Redis Cluster: /events acknowledges an event only once this many replicas hold it "
        "(WAIT); 1 keeps every acknowledged event through the loss of its primary.",
    )
    redis_replica_timeout_ms: int = Field(
        default=100, gt=0, le=10_000, description="How long an event waits for its replicas before a 503."
    )
    store_budget_ms: float = Field(
        default=250.0,
        gt=0,
        le=10_000,
        description="Store time one request may spend, all its calls together.",
    )
    store_breaker_failures: int = Field(
        default=3, ge=1, description="Consecutive store failures that open the breaker."
    )
    store_breaker_probe_s: float = Field(
        default=0.25, gt=0, le=60, description="While open: seconds between half-open probes."
    )
    item_cache_ttl_s: float = Field(
        default=60.0,
        ge=0,
        le=86_400,
        description="Remote store: seconds item features stay cached per process (0: fetch every request).",
    )
    response_encoder: Literal["orjson", "fastapi"] = Field(
        default="orjson", description="/recommend body: orjson once, or FastAPI's re-validating encoder."
    )

    # The LLM stage of arms whose kind uses it: CARE_LLM__BACKEND__KIND=http, CARE_LLM__BACKEND__BASE_URL=...
    llm: LLMSettings = Field(default_factory=LLMSettings)

    score_head: int = Field(
        default=N_SCORE,
        ge=0,
        description="The ranker scores this many of the retrieved candidates (never fewer than the 50 it "
        "ranks), the head of their sources' ranks, with every title-source and fresh candidate; 0: all.",
    )

    # Impression discounting (cascade/ranking/discount.py): CARE_DISCOUNT__ENABLED=false turns it off.
    discount: DiscountSettings = Field(default_factory=DiscountSettings)

    # Experiments and prompts (reloaded on change or SIGHUP).
    experiments_file: Path = EXPERIMENTS_FILE
    prompts_dir: Path = PROMPTS_DIR
    reload_interval_s: float = Field(default=1.0, gt=0)

    # Protection.
    api_key: SecretStr | None = Field(default=None, description="Required on write endpoints when set.")
    # a full batch (1,000 events, the schema's maxItems) fits: the body bound never contradicts the schema
    max_body_bytes: int = Field(default=512 * 1024, gt=0)
    # Admission (service.admission): 429 at the door; rules instead of the LLM when requests pile up.
    max_inflight: int = Field(default=64, gt=0, description="Requests beyond this many in flight: 429.")
    llm_inflight: int = Field(default=8, ge=0, description="Beyond this many in flight: no LLM call.")
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

    @field_validator("redis_url", "impressions_redis_url", mode="before")
    @classmethod
    def _empty_is_none(cls, v: Any) -> Any:
        return None if v == "" else v

    def store_config(self) -> AnyStoreConfig:
        """The online-store backend config these settings select."""
        if self.redis_url is None:
            return MemoryStoreConfig(session_ttl_s=float(self.session_ttl_s))
        config = RedisStoreConfig(
            url=self.redis_url,
            prefix=self.redis_prefix,
            socket_timeout_s=self.redis_socket_timeout_s,
            connect_timeout_s=self.redis_connect_timeout_s,
            session_ttl_s=self.session_ttl_s,
        )
        if not self.redis_cluster:
            return config
        return RedisClusterStoreConfig(
            **config.model_dump(exclude={"type"}),
            min_replicas=self.redis_min_replicas,
            replica_timeout_ms=self.redis_replica_timeout_ms,
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
