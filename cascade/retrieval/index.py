"""FAISS inner-product index of item vectors: exact for small catalogs, HNSW or IVF above; GPU if present.

Searches run with one OpenMP thread (`faiss.omp_set_num_threads(1)`): a single 64-d query over a
small or approximate index takes microseconds, and OpenMP's thread wake-up and barrier cost more than
the scan itself while also competing with the web server's and XGBoost's threads on 2 cores. Bulk
builds (IVF training, adding 1M vectors) may raise the thread count temporarily via `build_threads`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal

import faiss
import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float32]
Kind = Literal["auto", "flat", "hnsw", "ivf"]


@dataclass(frozen=True)
class IndexConfig:
    """Which FAISS structure to build and its knobs."""

    kind: Kind = "auto"
    # 'auto': exact (flat) up to this many items, else `approx`. On the 50k-item synthetic catalog's
    # trained vectors, exact top-500 took 0.47-1.1 ms per query against IVF's 0.19-0.29 ms at recall@500
    # 0.934 (nprobe 64), with the same NDCG@10 (eval/RESULTS.md, "the 50k-item cascade"); at 20k items an
    # exact scan is about 0.2 ms, so below that IVF would trade recall for little.
    exact_max: int = 20_000
    approx: Literal["hnsw", "ivf"] = "ivf"
    hnsw_m: int = 32
    hnsw_ef_construction: int = 40
    hnsw_ef_search: int = 128
    ivf_nlist: int = 1024  # at most; and at least 39 training vectors per list
    ivf_nprobe: int = 64  # recall@500 0.934 at 50k items, 0.947 at 1M (32: 0.841 and 0.852)

    def resolve(self, n: int) -> Literal["flat", "hnsw", "ivf"]:
        """The concrete structure for a catalog of n items."""
        if self.kind != "auto":
            return self.kind
        return "flat" if n <= self.exact_max else self.approx


def gpu_enabled() -> bool:
    """faiss-gpu is used when a GPU is visible and CARE_FAISS_GPU is not '0'."""
    if os.environ.get("CARE_FAISS_GPU", "1") == "0":
        return False
    get = getattr(faiss, "get_num_gpus", None)
    return bool(get is not None and get() > 0)


@contextmanager
def build_threads(n: int) -> Iterator[None]:
    """Use n OpenMP threads inside the block (bulk work), then back to 1 for single queries."""
    faiss.omp_set_num_threads(n)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(1)


class VectorIndex:
    """Item vectors searchable by inner product, with our own row -> item id map and run-time adds."""

    def __init__(self, dim: int, config: IndexConfig | None = None) -> None:
        self.dim = dim
        self.config = config or IndexConfig()
        self.kind: Literal["flat", "hnsw", "ivf"] = "flat"
        self.ids: IntArray = np.zeros(0, dtype=np.int64)
        self._index: Any = faiss.IndexFlatIP(dim)
        self.on_gpu = False
        faiss.omp_set_num_threads(1)

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def build(self, ids: IntArray, vectors: FloatArray) -> VectorIndex:
        """Replace the contents with these vectors (structure chosen from their count)."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.kind = self.config.resolve(len(ids))
        self._index = self._empty(vectors)
        self.ids = np.zeros(0, dtype=np.int64)
        self.add(ids, vectors)
        return self

    def _empty(self, train: FloatArray) -> Any:
        c, d = self.config, self.dim
        index: Any
        if self.kind == "hnsw":
            index = faiss.IndexHNSWFlat(d, c.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = c.hnsw_ef_construction
            index.hnsw.efSearch = c.hnsw_ef_search
            return index  # no GPU HNSW in faiss: stays on CPU
        if self.kind == "ivf":
            nlist = max(1, min(c.ivf_nlist, len(train) // 39))
            index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist, faiss.METRIC_INNER_PRODUCT)
            index.train(train)
            index.nprobe = min(c.ivf_nprobe, nlist)
        else:
            index = faiss.IndexFlatIP(d)
        return self._to_gpu(index)

    def _to_gpu(self, index: Any) -> Any:
        self.on_gpu = gpu_enabled()
        if not self.on_gpu:
            return index
        return faiss.index_cpu_to_gpu(faiss.StandardGpuResources(), 0, index)  # pragma: no cover

    def add(self, ids: IntArray, vectors: FloatArray) -> None:
        """Append vectors at run time; their ids must be new."""
        ids = np.asarray(ids, dtype=np.int64)
        if np.intersect1d(ids, self.ids).size or len(np.unique(ids)) != len(ids):
            raise ValueError("item ids must be unique and not already indexed")
        self._index.add(np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dim))
        self.ids = np.concatenate([self.ids, ids])

    def set_nprobe(self, nprobe: int) -> None:
        """IVF: how many lists a query searches (recall against time); other kinds ignore it."""
        if self.kind == "ivf":
            self._index.nprobe = nprobe
            self.config = replace(self.config, ivf_nprobe=nprobe)

    def search(self, queries: FloatArray, k: int) -> tuple[FloatArray, IntArray]:
        """Top-k (scores, item ids) per query row; ids are -1 where fewer than k exist."""
        q = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        k = max(1, min(k, len(self)))
        if self.kind == "hnsw":
            self._index.hnsw.efSearch = max(self.config.hnsw_ef_search, k)
        scores, rows = self._index.search(q, k)
        ids = np.where(rows >= 0, self.ids[np.maximum(rows, 0)], -1)
        return scores.astype(np.float32), ids.astype(np.int64)

    def search_unseen(
        self, query: FloatArray, n: int, seen: Collection[int] | IntArray
    ) -> tuple[IntArray, FloatArray]:
        """About n best (ids, scores) for one query, over-fetching by len(seen) and dropping seen ids."""
        scores, ids = self.search(query, n + len(seen))
        keep = ids[0] >= 0
        if len(seen):
            excl = seen if isinstance(seen, np.ndarray) else np.fromiter(seen, np.int64, len(seen))
            keep &= ~np.isin(ids[0], excl)
        return ids[0][keep][:n], scores[0][keep][:n]

    def save(self, folder: Path) -> None:
        """index.faiss + ids.npy + index.json."""
        folder.mkdir(parents=True, exist_ok=True)
        cpu = faiss.index_gpu_to_cpu(self._index) if self.on_gpu else self._index
        faiss.write_index(cpu, str(folder / "index.faiss"))
        np.save(folder / "ids.npy", self.ids)
        meta = {"dim": self.dim, "kind": self.kind, "config": asdict(self.config)}
        (folder / "index.json").write_text(json.dumps(meta, indent=2))

    @staticmethod
    def load(folder: Path) -> VectorIndex:
        """Inverse of save (moved to the GPU when one is enabled)."""
        meta = json.loads((folder / "index.json").read_text())
        out = VectorIndex(int(meta["dim"]), IndexConfig(**meta["config"]))
        out.kind = meta["kind"]
        out.ids = np.load(folder / "ids.npy")
        index = faiss.read_index(str(folder / "index.faiss"))
        out._index = index if out.kind == "hnsw" else out._to_gpu(index)
        return out
