"""Loads trained artifacts into ready-to-call pipelines (serving: online store; offline: point in time)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cascade.data.dataset import Dataset
from cascade.data.split import Split
from cascade.features.batch import BatchFeatures
from cascade.features.online.base import OnlineStore
from cascade.features.store import FeatureStore
from cascade.pipeline import Pipeline
from cascade.ranking.xgb import XGBRanker


@dataclass
class Runtime:
    """Everything `care train` produced, loaded once per process."""

    dataset: Dataset
    split: Split
    retriever: Any  # cascade.retrieval.retriever.TwoTowerRetriever
    ranker: XGBRanker
    batch: BatchFeatures
    manifest: dict[str, Any] = field(default_factory=dict)
    artifacts: Path = Path()

    def feature_store(self, online: OnlineStore, materialize: bool = True) -> FeatureStore:
        """A feature store over `online`; materializes batch features as of the end of the data."""
        raise NotImplementedError

    def online_pipeline(self, store: FeatureStore) -> Pipeline:
        """The serving pipeline over the online store."""
        raise NotImplementedError

    def offline_pipeline(self, window: Literal["val", "test"]) -> Pipeline:
        """Point-in-time pipeline: each user's features and history as of the start of `window`."""
        raise NotImplementedError

    def add_item(self, store: FeatureStore, item_id: int, title: str, year: int, genres: tuple[str, ...]) -> None:
        """Cold start: catalog, item features and the retrieval index learn a new item at once."""
        raise NotImplementedError


def load_runtime(artifacts: Path | None = None) -> Runtime:
    """Load from `artifacts` (default $CARE_ARTIFACTS); raises FileNotFoundError if not trained."""
    raise NotImplementedError
