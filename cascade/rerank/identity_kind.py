"""The `none` kind: the ranker's order, unchanged (a free baseline)."""

from __future__ import annotations

from cascade.rerank.base import IdentityReranker
from cascade.rerank.kinds import BuildContext, Built, Kind, KindConfig


def _build(_cfg: KindConfig, _ctx: BuildContext) -> Built:
    return Built(IdentityReranker())


KIND = Kind("none", KindConfig, _build)
