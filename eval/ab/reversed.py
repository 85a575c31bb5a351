"""A DELIBERATELY BAD re-ranker, for simulations only: it serves the ranker's top k in reverse.

`care ab simulate --aa` serves it as a known effect that the A/B report must detect, with the right
sign. It is not in the kind registry: `registered()` adds it for the duration of a block, and only two
places enter that block: this module run as a server (`python -m eval.ab.reversed serve ...`, which
the simulation starts on a loopback port) and the tests. `care serve` never registers it, so an
experiments file that names `reranker: reversed_bad` fails to load there ("unknown reranker").
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from cascade.rerank.kinds import BuildContext, Built, Kind, KindConfig
from cascade.rerank.registry import KINDS
from cascade.types import RerankInput, RerankOutput

KIND_NAME = "reversed_bad"
SERVER_MODULE = "eval.ab.reversed"


class ReversedTopK:
    """The ranker's top k, worst first; the rest of the candidates after them, in the ranker's order."""

    name = KIND_NAME

    async def rerank(self, inp: RerankInput) -> RerankOutput:
        ids = [c.item_id for c in inp.candidates]
        return RerankOutput(ids[: inp.k][::-1] + ids[inp.k :], reranker=self.name)


def _build(_cfg: KindConfig, _ctx: BuildContext) -> Built:
    return Built(ReversedTopK())


KIND = Kind(KIND_NAME, KindConfig, _build)


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


def main() -> None:
    """`python -m eval.ab.reversed serve ...`: the service's command line with the bad kind registered."""
    from service.cli import app

    with registered():
        app()


if __name__ == "__main__":
    main()
