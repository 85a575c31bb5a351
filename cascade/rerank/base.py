"""The re-ranker interface, an arm (a re-ranker and its budget), and the identity re-ranker."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from cascade.types import FallbackReason, RerankInput, RerankOutput

# serving: deadlines, late-result cache, overload fallback; quality: the model's own answer, no deadline
Mode = Literal["serving", "quality"]


@runtime_checkable
class Reranker(Protocol):
    """Reorders the ranker's candidates; returns only ids drawn from them."""

    name: str

    async def rerank(self, inp: RerankInput) -> RerankOutput: ...


@dataclass(frozen=True)
class Arm:
    """A runnable arm: its re-ranker and the budget its requests get (None: no deadline)."""

    name: str
    kind: str
    reranker: Reranker
    budget_ms: float | None = None
    version: str | None = None  # of what decides its answers (a prompt), reported with each response
    uses_llm: bool = False


class IdentityReranker:
    """Keeps the ranker's order."""

    name = "none"

    async def rerank(self, inp: RerankInput) -> RerankOutput:
        return RerankOutput([c.item_id for c in inp.candidates], reranker=self.name)


class FallbackOnly:
    """Stands in for a re-ranker that could not be built: answers with the fallback and says why."""

    def __init__(self, fallback: Reranker, reason: FallbackReason) -> None:
        self.name = fallback.name
        self._fallback, self._reason = fallback, reason

    async def rerank(self, inp: RerankInput) -> RerankOutput:
        out = await self._fallback.rerank(inp)
        out.fallback_reason = self._reason
        return out
