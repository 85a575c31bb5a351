"""Session fixtures for the LLM tests: the real GGUF, one in-process model, one real llama.cpp server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis

from cascade.rerank.llm.backend import ListResult, ScoreResult
from cascade.rerank.llm.cache import MemoryCache, RedisCache, ResultCache
from cascade.rerank.llm.inproc_backend import LlamaCppBackend
from cascade.rerank.llm.models import pull_smollm2
from cascade.rerank.llm.prompts import ChatPrompt, PromptTemplate, load_prompt, prompt_path
from cascade.rerank.llm.server import LocalServer
from cascade.types import Context, ItemText, RerankInput

REDIS_URL = "redis://127.0.0.1:6379/14"

MOVIES: tuple[tuple[str, int, tuple[str, ...]], ...] = (
    ("Toy Story", 1995, ("Animation", "Children's", "Comedy")),
    ("GoldenEye", 1995, ("Action", "Adventure", "Thriller")),
    ("Heat", 1995, ("Action", "Crime", "Thriller")),
    ("Fargo", 1996, ("Crime", "Drama", "Thriller")),
    ("Babe", 1995, ("Children's", "Comedy", "Drama")),
    ("Se7en", 1995, ("Crime", "Thriller")),
    ("Clueless", 1995, ("Comedy", "Romance")),
    ("Braveheart", 1995, ("Action", "Drama", "War")),
    ("Apollo 13", 1995, ("Action", "Drama", "Thriller")),
    ("Casablanca", 1942, ("Drama", "Romance", "War")),
    ("Star Wars", 1977, ("Action", "Adventure", "Sci-Fi")),
    ("Pulp Fiction", 1994, ("Crime", "Drama")),
    ("The Lion King", 1994, ("Animation", "Children's", "Musical")),
    ("Alien", 1979, ("Action", "Horror", "Sci-Fi")),
    ("Groundhog Day", 1993, ("Comedy", "Romance")),
    ("Vertigo", 1958, ("Mystery", "Thriller")),
    ("Twister", 1996, ("Action", "Adventure", "Thriller")),
    ("Scream", 1996, ("Horror", "Thriller")),
    ("Sabrina", 1995, ("Comedy", "Romance")),
    ("Jumanji", 1995, ("Adventure", "Children's", "Fantasy")),
)


def items(n: int = 10, offset: int = 0) -> tuple[ItemText, ...]:
    """`n` real MovieLens titles as ItemTexts with ids 100+i."""
    return tuple(ItemText(100 + i, *MOVIES[i % len(MOVIES)]) for i in range(offset, offset + n))


def make_input(
    n: int = 10,
    *,
    k: int = 5,
    user_id: int = 1,
    playlist: str | None = "Friday night",
    deadline: float | None = None,
    cold: bool = False,
) -> RerankInput:
    """A RerankInput over the first `n` test movies, with two recent items.

    `cold` tags the first title uniquely, so the prompt shares almost nothing with earlier ones in
    the in-process KV cache (a call that must take real time, e.g. to miss a deadline).
    """
    cands = items(n)
    if cold:
        c = cands[0]
        cands = (ItemText(c.item_id, f"{c.title} [{uuid.uuid4().hex[:8]}]", c.year, c.genres), *cands[1:])
    return RerankInput(
        user_id=user_id,
        context=Context(playlist_title=playlist),
        candidates=cands,
        scores=tuple(float(n - i) for i in range(n)),
        recent=items(2, offset=n % len(MOVIES)),
        k=k,
        deadline=deadline,
    )


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def gguf() -> Path:
    return pull_smollm2()


@pytest.fixture(scope="session")
def inproc(gguf: Path) -> Iterator[LlamaCppBackend]:
    backend = LlamaCppBackend(gguf, n_ctx=3072, n_threads=2)
    yield backend
    backend._executor.shutdown(wait=True)
    backend._close()


@pytest.fixture(scope="session")
def llama_server(gguf: Path) -> Iterator[LocalServer]:
    with LocalServer(gguf, n_ctx=2048) as server:
        yield server


@pytest.fixture(scope="session")
def prompts(inproc: LlamaCppBackend) -> dict[str, PromptTemplate]:
    names = ("listwise", "single_pass", "single_pass_nocontext")
    return {n: load_prompt(prompt_path(n), inproc.tokenizer) for n in names}


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    prefix = f"care-test:{uuid.uuid4().hex}:"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=prefix + "*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(params=["memory", "redis"])
async def cache(request: pytest.FixtureRequest, redis_prefix: str) -> AsyncIterator[ResultCache]:
    """Every ResultCache backend: in process, and a real Redis (db 14, this test's prefix)."""
    if request.param == "memory":
        yield MemoryCache()
        return
    client: aioredis.Redis[bytes] = aioredis.Redis.from_url(REDIS_URL)
    yield RedisCache(client, prefix=redis_prefix)
    await client.aclose()  # type: ignore[attr-defined]


class Held:
    """A backend whose calls wait until released: a call in flight, deterministically."""

    name = "held"

    def __init__(self) -> None:
        self.release = asyncio.Event()

    async def score(self, prompt: ChatPrompt) -> ScoreResult:
        await self.release.wait()
        return ScoreResult({prompt.labels[0]: -0.1}, prompt_tokens=5)

    async def rank(self, prompt: ChatPrompt) -> ListResult:
        await self.release.wait()
        return ListResult(list(prompt.labels[: prompt.rank_depth]), 5, 5)

    async def aclose(self) -> None:
        return None
