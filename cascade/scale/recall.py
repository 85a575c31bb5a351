"""Recall@k of a synthetic folder's index against exact (flat) search over the same item vectors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
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
    sweep: dict[int, tuple[float, float]] = field(default_factory=dict)  # IVF nprobe -> (recall, p50 ms)


def index_recall(folder: Path, k: int = 500, nprobes: Sequence[int] = ()) -> IndexRecall:
    """The served index's top-k vs exact top-k for the folder's sampled user queries; for an IVF
    index, the same at each of `nprobes` too (the served setting is left as built)."""
    scale = folder / SCALE_DIR
    index, queries = load_index(scale), load_queries(scale)
    exact = VectorIndex(index.dim, IndexConfig(kind="flat")).build(index.ids, load_vectors(scale, mmap=True))
    truth, exact_ms = timed_search(exact, queries.vectors, k)
    served = index.config.ivf_nprobe
    sweep: dict[int, tuple[float, float]] = {}
    for nprobe in nprobes if index.kind == "ivf" else ():
        index.set_nprobe(nprobe)
        found, ms = timed_search(index, queries.vectors, k)
        sweep[nprobe] = (recall_at_k(found, truth, k), float(np.percentile(ms, 50)))
    index.set_nprobe(served)
    found, ann_ms = timed_search(index, queries.vectors, k)
    return IndexRecall(
        index.kind,
        index_params(index.config, index.kind, len(index), k),
        k,
        len(queries.user_ids),
        recall_at_k(found, truth, k),
        float(np.percentile(ann_ms, 50)),
        float(np.percentile(exact_ms, 50)),
        sweep,
    )
