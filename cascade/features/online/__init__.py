"""Online tier of the feature store: one interface, backends in a registry."""

from cascade.features.online.base import Fetched, OnlineStore, StoreUnavailable
from cascade.features.online.config import MemoryStoreConfig, RedisStoreConfig, StoreConfig, create_store

__all__ = [
    "Fetched",
    "MemoryStoreConfig",
    "OnlineStore",
    "RedisStoreConfig",
    "StoreConfig",
    "StoreUnavailable",
    "create_store",
]
