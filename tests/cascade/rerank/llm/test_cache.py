"""One contract for every ResultCache backend: in-process and real Redis (db 14, unique prefix)."""

from __future__ import annotations

import asyncio

import pytest

from cascade.rerank.llm.cache import CachedRanking, MemoryCache, ResultCache

pytestmark = pytest.mark.anyio


async def test_missing_key_is_none(cache: ResultCache) -> None:
    assert await cache.get("absent") is None


async def test_put_then_get_round_trips(cache: ResultCache) -> None:
    value = CachedRanking([3, 1, 2], {"valid_before_repair": 1.0, "llm_ms": 12.5})
    await cache.put("k", value, ttl_s=30)
    assert await cache.get("k") == value
    assert await cache.get("other") is None


async def test_entries_expire_after_their_ttl(cache: ResultCache) -> None:
    await cache.put("short", CachedRanking([1]), ttl_s=0.05)
    await cache.put("long", CachedRanking([2]), ttl_s=30)
    await asyncio.sleep(0.12)
    assert await cache.get("short") is None
    assert await cache.get("long") == CachedRanking([2])


async def test_memory_cache_evicts_least_recently_used() -> None:
    cache = MemoryCache(max_entries=2)
    for key in ("a", "b"):
        await cache.put(key, CachedRanking([1]), ttl_s=30)
    assert await cache.get("a") is not None  # "b" is now the least recently used
    await cache.put("c", CachedRanking([3]), ttl_s=30)
    assert await cache.get("b") is None and await cache.get("a") is not None
