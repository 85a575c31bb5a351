"""Loads synthetic artifacts (`cascade.runtime.grow`) as a Runtime; `load_runtime` delegates here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cascade.data.dataset import Dataset
from cascade.data.split import split_by_user
from cascade.features.batch import BatchFeatures
from cascade.features.collab import FILE as COLLAB_FILE
from cascade.features.collab import CollabModel
from cascade.ranking.xgb import XGBRanker
from cascade.retrieval.retriever import TwoTowerRetriever
from cascade.runtime.model import RANKER_FILE, RETRIEVER_DIR, Runtime, trained_dataset
from cascade.scale.catalog import extend_catalog
from cascade.scale.files import SCALE_DIR, load_features, load_index, load_items, load_vectors


def load_scaled(folder: Path, manifest: dict[str, Any]) -> Runtime:
    """The real users and events, the trained towers and ranker, the synthetic catalog's given item
    features, vectors and index, and the grown item-item model when the folder has one."""
    ds = trained_dataset(folder, manifest)
    scale = folder / SCALE_DIR
    catalog = extend_catalog(ds.catalog, load_items(scale))
    towers = TwoTowerRetriever.load(folder / RETRIEVER_DIR, ds.catalog)
    retriever = towers.with_items(catalog, catalog.item_ids, load_vectors(scale), load_index(scale))
    full = Dataset(ds.interactions, catalog, ds.users, ds.source)
    batch = BatchFeatures(ds.interactions, catalog, ds.users)
    ranker = XGBRanker.load(folder / RANKER_FILE)
    split = split_by_user(ds.interactions)
    collab = CollabModel.load(folder) if (folder / COLLAB_FILE).is_file() else None
    return Runtime(full, split, retriever, ranker, batch, manifest, folder, collab, load_features(scale))
