"""Online tier of the feature store: one interface, backends in a registry."""

from cascade.features.online.base import Fetched, OnlineStore, StoreUnavailable
from cascade.features.online.config import (
    AnyStoreConfig,
    MemoryStoreConfig,
    RedisClusterStoreConfig,
    RedisStoreConfig,
    StoreConfig,
    create_store,
)

__all__ = [
    "AnyStoreConfig",
    "Fetched",
    "MemoryStoreConfig",
    "OnlineStore",
    "RedisClusterStoreConfig",
    "RedisStoreConfig",
    "StoreConfig",
    "StoreUnavailable",
    "create_store",
]
