"""Backend configs (pydantic, extra keys rejected) and the registry that builds a store from one."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from cascade.features.online.base import OnlineStore
from cascade.features.online.memory import MemoryStore
from cascade.features.online.redis_cluster import RedisClusterStore
from cascade.features.online.redis_store import RedisStore


class MemoryStoreConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["memory"] = "memory"
    session_ttl_s: float = 86_400.0


class RedisStoreConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["redis"] = "redis"
    url: str = "redis://127.0.0.1:6379/0"
    prefix: str = "care:"
    socket_timeout_s: float = Field(default=0.25, gt=0, le=10)
    connect_timeout_s: float = Field(default=0.25, gt=0, le=10)
    session_ttl_s: int = Field(default=86_400, gt=0)


class RedisClusterStoreConfig(BaseModel):
    """A Redis Cluster; `url` names any one node (the client discovers the others)."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["redis_cluster"] = "redis_cluster"
    url: str = "redis://127.0.0.1:7000"
    prefix: str = "care:"
    socket_timeout_s: float = Field(default=0.25, gt=0, le=10)
    connect_timeout_s: float = Field(default=0.25, gt=0, le=10)
    session_ttl_s: int = Field(default=86_400, gt=0)
    min_replicas: int = Field(default=0, ge=0, description="Replicas that must hold an event (WAIT).")
    replica_timeout_ms: int = Field(default=100, gt=0, le=10_000)


AnyStoreConfig = MemoryStoreConfig | RedisStoreConfig | RedisClusterStoreConfig
StoreConfig = Annotated[AnyStoreConfig, Field(discriminator="type")]


def create_store(config: AnyStoreConfig) -> OnlineStore:
    if isinstance(config, RedisClusterStoreConfig):
        return RedisClusterStore(
            config.url,
            config.prefix,
            config.socket_timeout_s,
            config.connect_timeout_s,
            config.session_ttl_s,
            config.min_replicas,
            config.replica_timeout_ms,
        )
    if isinstance(config, RedisStoreConfig):
        return RedisStore(
            config.url, config.prefix, config.socket_timeout_s, config.connect_timeout_s, config.session_ttl_s
        )
    return MemoryStore(config.session_ttl_s)
