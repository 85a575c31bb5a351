"""Synthetic catalog scale check: exact vs approximate FAISS latency and recall@k as the catalog grows."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from cascade.retrieval.index import IndexConfig, VectorIndex, build_threads

FloatArray = npt.NDArray[np.float32]
Structure = Literal["uniform", "clustered"]


@dataclass(frozen=True)
class ScaleRow:
    """One (catalog size, index kind) measurement; recall is against exact search on the same queries."""

    n_items: int
    kind: str
    params: str
    build_s: float
    p50_ms: float
    p99_ms: float
    recall_at_k: float
    k: int


def unit_vectors(
    n: int, dim: int, seed: int, structure: Structure = "uniform", chunk: int = 200_000
) -> FloatArray:
    """n unit vectors: uniform on the sphere, or around 1,000 random centres (embedding-like clusters)."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, dim), dtype=np.float32)
    centres = rng.standard_normal((1000, dim)).astype(np.float32) / np.sqrt(dim)
    for s in range(0, n, chunk):
        block = rng.standard_normal((min(chunk, n - s), dim)).astype(np.float32)
        if structure == "clustered":
            block = centres[rng.integers(0, len(centres), len(block))] + 0.5 * block / np.sqrt(dim)
        out[s : s + len(block)] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def timed_search(
    index: VectorIndex, queries: FloatArray, k: int
) -> tuple[npt.NDArray[np.int64], list[float]]:
    """Single-query searches (one thread), returning ids and per-query milliseconds."""
    ids, times = [], []
    index.search(queries[:1], k)  # warm-up
    for q in queries:
        t = time.perf_counter()
        _, found = index.search(q[None, :], k)
        times.append((time.perf_counter() - t) * 1000.0)
        ids.append(found[0])
    return np.stack(ids), times


def recall_at_k(found: npt.NDArray[np.int64], truth: npt.NDArray[np.int64], k: int) -> float:
    """Mean share of each query's exact top-k that the approximate top-k found (one row per query)."""
    return float(np.mean([len(np.intersect1d(a, b)) / k for a, b in zip(found, truth, strict=True)]))


def index_params(cfg: IndexConfig, kind: str, n: int, k: int) -> str:
    """Human-readable knobs of one index kind."""
    if kind == "ivf":
        return f"nlist={max(1, min(cfg.ivf_nlist, n // 39))} nprobe={cfg.ivf_nprobe}"
    if kind == "hnsw":
        return f"M={cfg.hnsw_m} efC={cfg.hnsw_ef_construction} efS={max(cfg.hnsw_ef_search, k)}"
    return "exact"


def scale_rows(
    sizes: Sequence[int] = (10_000, 100_000, 1_000_000),
    dim: int = 64,
    k: int = 500,
    n_queries: int = 50,
    config: IndexConfig | None = None,
    hnsw_max: int = 100_000,
    structure: Structure = "uniform",
    seed: int = 0,
    threads: int = 2,
) -> list[ScaleRow]:
    """For each size: exact flat, IVF-Flat, and (up to hnsw_max items) HNSW; latency p50/p99 and recall@k."""
    cfg = config or IndexConfig()
    data = unit_vectors(max(sizes), dim, seed, structure)
    queries = unit_vectors(n_queries, dim, seed + 1, structure)
    rows: list[ScaleRow] = []
    for n in sorted(sizes):
        ids = np.arange(n, dtype=np.int64)
        truth: npt.NDArray[np.int64] | None = None
        kinds: list[Literal["flat", "ivf", "hnsw"]] = ["flat", "ivf"]
        if n <= hnsw_max:
            kinds.append("hnsw")
        for kind in kinds:
            icfg = IndexConfig(**{**cfg.__dict__, "kind": kind})
            t = time.perf_counter()
            with build_threads(threads):
                index = VectorIndex(dim, icfg).build(ids, data[:n])
            build_s = time.perf_counter() - t
            found, times = timed_search(index, queries, k)
            if truth is None:
                truth = found
            recall = recall_at_k(found, truth, k)
            params = index_params(icfg, kind, n, k)
            p50, p99 = np.percentile(times, [50, 99])
            rows.append(ScaleRow(n, kind, params, round(build_s, 3), float(p50), float(p99), recall, k))
            del index
    return rows
