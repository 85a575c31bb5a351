"""A DELIBERATELY BAD re-ranker, for simulations only: it serves the ranker's top k in reverse.

With `depth: D` it reverses the ranker's top D candidates instead, so it serves ranks D, D-1, ...
(depth 50: the worst 10 of the ranker's 50, worst first), an unmistakably bad arm.

`care ab simulate --aa` serves it as a known effect that the A/B report must detect, with the right
sign. It is not in the kind registry: `registered()` adds it for the duration of a block, and only two
places enter that block: the server `python -m service.bench.reversed_server --port P` (which the
simulation starts on a loopback port) and the tests. `care serve` never registers it, so an
experiments file that names `reranker: reversed_bad` fails to load there ("unknown reranker").
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pydantic import Field

from cascade.rerank.kinds import BuildContext, Built, Kind, KindConfig
from cascade.rerank.registry import KINDS
from cascade.types import RerankInput, RerankOutput

KIND_NAME = "reversed_bad"
SERVER_MODULE = "service.bench.reversed_server"  # python -m: a service worker with this kind


class ReversedConfig(KindConfig):
    depth: int | None = Field(default=None, ge=2)  # how many of the ranker's candidates; None: k


class ReversedTopK:
    """The ranker's top `depth` (default k), worst first; the rest after them, in the ranker's order."""

    name = KIND_NAME

    def __init__(self, depth: int | None = None) -> None:
        self.depth = depth

    async def rerank(self, inp: RerankInput) -> RerankOutput:
        ids = [c.item_id for c in inp.candidates]
        d = self.depth or inp.k
        return RerankOutput(ids[:d][::-1] + ids[d:], reranker=self.name)


def _build(cfg: ReversedConfig, _ctx: BuildContext) -> Built:
    return Built(ReversedTopK(cfg.depth))


KIND = Kind(KIND_NAME, ReversedConfig, _build)


@contextmanager
def registered() -> Iterator[Kind]:
    """The bad kind in the registry inside the block only (removed after, unless it was there before)."""
    added = KIND_NAME not in KINDS
    KINDS.setdefault(KIND_NAME, KIND)
    try:
        yield KINDS[KIND_NAME]
    finally:
        if added:
            KINDS.pop(KIND_NAME, None)
