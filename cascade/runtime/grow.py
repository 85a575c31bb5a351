"""Synthetic artifacts of N items around the trained models, built once per key and cached.

The folder is a normal artifacts folder (`CARE_ARTIFACTS` can name it; `care serve` loads it): the
trained ranker and two-tower (user tower unchanged), the real users and their histories, and a
catalog of N items (the real ones, then synthetic ones: `cascade.scale.catalog`) with item
features, item vectors and a FAISS index chosen by `IndexConfig.resolve(N)`. The key covers the
size, seed, index config, query count, the trained models' hash and this module's SCHEMA.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cascade import paths
from cascade.features.online.memory import MemoryStore
from cascade.retrieval.index import IndexConfig, VectorIndex, build_threads
from cascade.retrieval.synthetic import index_params
from cascade.runtime import MANIFEST, RANKER_FILE, RETRIEVER_DIR, Runtime, load_runtime
from cascade.scale.catalog import (
    VECTOR_NOISE,
    extend_catalog,
    synthetic_features,
    synthetic_items,
    synthetic_vectors,
)
from cascade.scale.collab import grow_collab
from cascade.scale.files import INDEX_DIR, SCALE_DIR, Queries, save_arrays, save_items

SCHEMA = "care-scale-2"  # bump when the generator or the folder layout changes
Log = Callable[[str], None]
NO_COLLAB = "off: the base artifacts have no item-item model (two-tower retrieval only)"
COLLAB_GROWN = "on: the trained item-item model grown to the catalog (cascade.scale.collab)"


@dataclass(frozen=True)
class ScaleSpec:
    """What to build: catalog size (real items included), seed, index, recall queries."""

    items: int
    seed: int = 0
    index: IndexConfig = field(default_factory=IndexConfig)
    queries: int = 200
    collab_rank: int = 128  # EASE factors kept for the grown item-item model (cascade.scale.collab)
    collab_neighbours: int = 100  # neighbours per item kept for it (1M items: 100 x 12 bytes each)
    threads: int = 2  # FAISS build threads (not part of the key)

    def key(self, base_manifest: dict[str, Any]) -> str:
        payload = {
            "schema": SCHEMA,
            "items": self.items,
            "seed": self.seed,
            "index": asdict(self.index),
            "queries": self.queries,
            "collab_rank": self.collab_rank,
            "collab_neighbours": self.collab_neighbours,
            "models": base_manifest.get("model_hash") or base_manifest.get("version"),
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:10]


@dataclass(frozen=True)
class Built:
    folder: Path
    reused: bool
    seconds: float  # the build's wall time (or the cache lookup's, when reused)
    manifest: dict[str, Any]


def scaled_artifacts(
    spec: ScaleSpec,
    base: Path | None = None,
    root: Path | None = None,
    rebuild: bool = False,
    log: Log = print,
) -> Built:
    """The folder for `spec` around the trained artifacts `base` (default $CARE_ARTIFACTS), built if absent.

    Folders live under `root` (default $CARE_HOME/artifacts) as synthetic-<items>-s<seed>-<key>.
    """
    t0 = time.perf_counter()
    base = base or paths.artifacts_dir()
    if not (base / MANIFEST).is_file():
        raise FileNotFoundError(f"{base}: no trained artifacts (run `care train`)")
    base_manifest = json.loads((base / MANIFEST).read_text())
    name = f"synthetic-{spec.items}-s{spec.seed}-{spec.key(base_manifest)}"
    out = (root or paths.care_home() / "artifacts") / name
    if (out / MANIFEST).is_file() and not rebuild:
        return Built(out, True, time.perf_counter() - t0, json.loads((out / MANIFEST).read_text()))
    manifest = build(spec, base, out, log)
    return Built(out, False, time.perf_counter() - t0, manifest)


@contextmanager
def _step(timings: dict[str, float], name: str, log: Log) -> Iterator[None]:
    t0 = time.perf_counter()
    yield
    timings[name] = round(time.perf_counter() - t0, 2)
    log(f"  {name}: {timings[name]:.1f} s")


def user_queries(rt: Runtime, n: int, seed: int) -> Queries:
    """User vectors of n sampled users, computed as the service does (no session)."""
    store = rt.feature_store(MemoryStore())
    all_users = rt.dataset.users.user_ids
    users = np.random.default_rng(seed).choice(all_users, min(n, len(all_users)), replace=False)
    vectors = [rt.retriever.user_vector(store.fetch_user(int(u))[0]) for u in users.tolist()]
    return Queries(users.astype(np.int64), np.stack(vectors).astype(np.float32))


def build(spec: ScaleSpec, base: Path, out: Path, log: Log = print) -> dict[str, Any]:
    """Generate, index and write the folder (atomically: `<out>.partial` renamed); returns the manifest."""
    t_start = time.perf_counter()
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    timings: dict[str, float] = {}
    log(f"building a synthetic catalog of {spec.items:,} items into {out}")
    with _step(timings, "load trained artifacts", log):
        rt = load_runtime(base)
    if "synthetic" in rt.manifest:
        raise ValueError(f"{base}: the base must be trained artifacts, not a synthetic folder")
    real = rt.dataset.catalog
    if spec.items < len(real):
        raise ValueError(f"items must be at least the real catalog's {len(real):,}")
    with _step(timings, "items, titles, features, vectors", log):
        items = synthetic_items(real, spec.items - len(real), spec.seed)
        real_features = rt.batch.items(real.item_ids, np.full(len(real), rt.as_of_end))
        features = np.vstack([real_features, synthetic_features(real_features, items, spec.seed)])
        real_vectors = rt.retriever.vectors_of(real.item_ids)
        vectors = np.vstack([real_vectors, synthetic_vectors(real_vectors, items.parents, spec.seed)])
        ids = np.concatenate([real.item_ids, items.item_ids])
    with _step(timings, "index", log), build_threads(spec.threads):
        index = VectorIndex(rt.retriever.cfg.dim, spec.index).build(ids, vectors)
    log(f"  index: {index.kind} ({index_params(spec.index, index.kind, len(ids), 500)})")
    collab = None
    if rt.collab is not None:
        with _step(timings, "item-item model", log):
            catalog = extend_catalog(real, items)
            collab = grow_collab(
                rt.collab, catalog, items.parents, spec.seed, spec.collab_rank, spec.collab_neighbours
            )
    with _step(timings, "recall queries", log):
        queries = user_queries(rt, spec.queries, spec.seed)
    with _step(timings, "write", log):
        scale = tmp / SCALE_DIR
        save_items(scale, items)
        save_arrays(scale, features, vectors, queries)
        index.save(scale / INDEX_DIR)
        if collab is not None:
            collab.save(tmp)
        shutil.copy2(base / RANKER_FILE, tmp / RANKER_FILE)
        shutil.copytree(base / RETRIEVER_DIR, tmp / RETRIEVER_DIR)
    key = spec.key(rt.manifest)
    manifest: dict[str, Any] = {
        **{k: rt.manifest[k] for k in ("schema", "data", "seed", "config", "ranker") if k in rt.manifest},
        "version": f"synthetic-{spec.items}-{key}",
        "synthetic": {
            "schema": SCHEMA,
            "key": key,
            "items": spec.items,
            "real_items": len(real),
            "first_id": int(real.item_ids.max()) + 1,  # synthetic ids start here
            "seed": spec.seed,
            "vector_noise": VECTOR_NOISE,
            "index": {"kind": index.kind, "params": index_params(spec.index, index.kind, len(ids), 500)},
            "index_config": asdict(spec.index),
            "queries": len(queries.user_ids),
            "collab": COLLAB_GROWN if collab is not None else NO_COLLAB,
            "base": str(base),
            "base_version": rt.manifest.get("version"),
            "timings": {**timings, "total_s": round(time.perf_counter() - t_start, 2)},
        },
    }
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    log(f"  built in {manifest['synthetic']['timings']['total_s']:.1f} s")
    return manifest
