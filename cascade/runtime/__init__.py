"""Trained artifacts loaded into ready-to-call pipelines: `load_runtime` and what it returns."""

from __future__ import annotations

import json
from pathlib import Path

from cascade import paths
from cascade.data.split import split_by_user
from cascade.features.batch import BatchFeatures
from cascade.features.collab import FILE as COLLAB_FILE
from cascade.features.collab import CollabModel
from cascade.ranking.xgb import XGBRanker
from cascade.retrieval.retriever import TwoTowerRetriever
from cascade.runtime.model import (
    MANIFEST,
    RANKER_FILE,
    RETRIEVER_DIR,
    Runtime,
    point_in_time,
    trained_dataset,
    window_start,
)
from cascade.runtime.scaled import load_scaled

__all__ = [
    "MANIFEST",
    "RANKER_FILE",
    "RETRIEVER_DIR",
    "Runtime",
    "load_runtime",
    "point_in_time",
    "trained_dataset",
    "window_start",
]


def load_runtime(artifacts: Path | None = None) -> Runtime:
    """Load from `artifacts` (default $CARE_ARTIFACTS); raises FileNotFoundError if not trained."""
    folder = artifacts or paths.artifacts_dir()
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        raise FileNotFoundError(f"{folder}: no trained artifacts (run `care train`)")
    manifest = json.loads(manifest_path.read_text())
    if "synthetic" in manifest:  # `care bench service --items`: a catalog grown around trained models
        return load_scaled(folder, manifest)
    ds = trained_dataset(folder, manifest)
    retriever = TwoTowerRetriever.load(folder / RETRIEVER_DIR, ds.catalog)
    ranker = XGBRanker.load(folder / RANKER_FILE)
    batch = BatchFeatures(ds.interactions, ds.catalog, ds.users)
    collab = CollabModel.load(folder) if (folder / COLLAB_FILE).is_file() else None
    split = split_by_user(ds.interactions)
    return Runtime(ds, split, retriever, ranker, batch, manifest, folder, collab)
