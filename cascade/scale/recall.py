"""Recall@k of a synthetic folder's index against exact (flat) search over the same item vectors."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cascade.retrieval.index import IndexConfig, VectorIndex
from cascade.retrieval.synthetic import index_params, recall_at_k, timed_search
from cascade.scale.files import SCALE_DIR, load_index, load_queries, load_vectors


@dataclass(frozen=True)
class IndexRecall:
    kind: str
    params: str
    k: int
    queries: int
    recall: float
    ann_p50_ms: float  # one query at a time, one thread
    exact_p50_ms: float


def index_recall(folder: Path, k: int = 500) -> IndexRecall:
    """The served index's top-k vs exact top-k for the folder's sampled user queries."""
    scale = folder / SCALE_DIR
    index, queries = load_index(scale), load_queries(scale)
    exact = VectorIndex(index.dim, IndexConfig(kind="flat")).build(index.ids, load_vectors(scale, mmap=True))
    found, ann_ms = timed_search(index, queries.vectors, k)
    truth, exact_ms = timed_search(exact, queries.vectors, k)
    return IndexRecall(
        index.kind,
        index_params(index.config, index.kind, len(index), k),
        k,
        len(queries.user_ids),
        recall_at_k(found, truth, k),
        float(np.percentile(ann_ms, 50)),
        float(np.percentile(exact_ms, 50)),
    )
