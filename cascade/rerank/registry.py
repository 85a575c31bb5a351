"""Every re-ranker kind an arm may name, by the name it is given in prompts/experiments.yaml."""

from __future__ import annotations

from cascade.rerank import identity_kind, rules_kind, title_kind
from cascade.rerank.kinds import Kind
from cascade.rerank.llm import fused_kind
from cascade.rerank.llm import kind as llm_kind

KINDS: dict[str, Kind] = {
    k.name: k for k in (identity_kind.KIND, rules_kind.KIND, title_kind.KIND, llm_kind.KIND, fused_kind.KIND)
}


def get_kind(name: str) -> Kind:
    """The kind called `name`; ValueError naming the known kinds otherwise."""
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(f"unknown reranker {name!r}; kinds are {sorted(KINDS)}") from None
