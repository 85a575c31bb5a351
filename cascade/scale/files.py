"""The `scale/` folder of synthetic artifacts: items, item features and vectors, index, recall queries."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cascade.retrieval.index import VectorIndex
from cascade.scale.catalog import F32, I64, SyntheticItems

SCALE_DIR = "scale"
INDEX_DIR = "index"


@dataclass(frozen=True)
class Queries:
    """User vectors as the service computes them (batch features and history, no session)."""

    user_ids: I64
    vectors: F32


def save_items(folder: Path, items: SyntheticItems) -> None:
    """items.npz (ids, parents, years) and titles.txt (one per line)."""
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / "items.npz", item_ids=items.item_ids, parents=items.parents, years=items.years)
    (folder / "titles.txt").write_text("\n".join(items.titles))


def load_items(folder: Path) -> SyntheticItems:
    with np.load(folder / "items.npz") as a:
        ids, parents, years = a["item_ids"], a["parents"], a["years"]
    titles = (folder / "titles.txt").read_text().split("\n") if len(ids) else []
    return SyntheticItems(ids, parents, years, titles)


def save_arrays(folder: Path, features: F32, vectors: F32, queries: Queries) -> None:
    """Item features and two-tower vectors of the whole catalog (real items first), and the queries."""
    np.save(folder / "features.npy", features)
    np.save(folder / "vectors.npy", vectors)
    np.savez(folder / "queries.npz", user_ids=queries.user_ids, vectors=queries.vectors)


def load_features(folder: Path) -> F32:
    features: F32 = np.load(folder / "features.npy")
    return features


def load_vectors(folder: Path, mmap: bool = False) -> F32:
    vectors: F32 = np.load(folder / "vectors.npy", mmap_mode="r" if mmap else None)
    return vectors


def load_queries(folder: Path) -> Queries:
    with np.load(folder / "queries.npz") as a:
        return Queries(a["user_ids"], a["vectors"])


def load_index(folder: Path) -> VectorIndex:
    return VectorIndex.load(folder / INDEX_DIR)
