"""The LLM result cache: one small interface, in-process and Redis backends."""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import redis.asyncio as aioredis


@dataclass
class CachedRanking:
    """A finished LLM ordering and its stats."""

    item_ids: list[int]
    stats: dict[str, float] = field(default_factory=dict)

    def dumps(self) -> str:
        return json.dumps({"item_ids": self.item_ids, "stats": self.stats})

    @staticmethod
    def loads(raw: str | bytes) -> CachedRanking:
        doc = json.loads(raw)
        return CachedRanking(
            [int(i) for i in doc["item_ids"]], {k: float(v) for k, v in doc["stats"].items()}
        )


class ResultCache(Protocol):
    """Key -> CachedRanking with a time-to-live."""

    async def get(self, key: str) -> CachedRanking | None: ...

    async def put(self, key: str, value: CachedRanking, ttl_s: float) -> None: ...


class MemoryCache:
    """In-process LRU with per-entry expiry (the embedded default)."""

    def __init__(self, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic):
        self.max_entries = max_entries
        self.clock = clock
        self._data: OrderedDict[str, tuple[float, str]] = OrderedDict()

    async def get(self, key: str) -> CachedRanking | None:
        entry = self._data.get(key)
        if entry is None:
            return None
        expires, raw = entry
        if self.clock() >= expires:
            del self._data[key]
            return None
        self._data.move_to_end(key)
        return CachedRanking.loads(raw)

    async def put(self, key: str, value: CachedRanking, ttl_s: float) -> None:
        self._data[key] = (self.clock() + ttl_s, value.dumps())
        self._data.move_to_end(key)
        while len(self._data) > self.max_entries:
            self._data.popitem(last=False)


class RedisCache:
    """Redis-backed cache: JSON values under a key prefix, expiry by PX."""

    def __init__(self, client: aioredis.Redis[bytes], prefix: str = "care:llm:"):
        self.client = client
        self.prefix = prefix

    @classmethod
    def from_url(cls, url: str, prefix: str = "care:llm:", timeout_s: float = 0.05) -> RedisCache:
        """A cache on its own connection pool with short socket timeouts."""
        client = aioredis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
        return cls(client, prefix)

    async def get(self, key: str) -> CachedRanking | None:
        raw = await self.client.get(self.prefix + key)
        return None if raw is None else CachedRanking.loads(raw)

    async def put(self, key: str, value: CachedRanking, ttl_s: float) -> None:
        await self.client.set(self.prefix + key, value.dumps(), px=max(1, int(ttl_s * 1000)))
