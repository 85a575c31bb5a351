"""The re-ranker interface, and the identity re-ranker (the ranker's order, a free baseline)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from cascade.types import RerankInput, RerankOutput


@runtime_checkable
class Reranker(Protocol):
    """Reorders the ranker's candidates; returns only ids drawn from them."""

    name: str

    async def rerank(self, inp: RerankInput) -> RerankOutput: ...


class IdentityReranker:
    """Keeps the ranker's order."""

    name = "none"

    async def rerank(self, inp: RerankInput) -> RerankOutput:
        return RerankOutput([c.item_id for c in inp.candidates], reranker=self.name)
