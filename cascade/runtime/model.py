"""The Runtime: trained artifacts wired into pipelines (serving: online store; offline: point in time)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypedDict

import numpy as np

from cascade.data.dataset import Catalog, Dataset, Interactions
from cascade.data.fetch import load_default
from cascade.data.split import Split
from cascade.features.batch import BatchFeatures, cold_item_features
from cascade.features.collab import CollabModel
from cascade.features.online.base import F32, CatalogEntry, OnlineStore
from cascade.features.source import OnlineFeatures, PointInTimeFeatures
from cascade.features.store import FeatureStore
from cascade.pipeline import N_RANK, N_RETRIEVE, Pipeline
from cascade.ranking.discount import Discount
from cascade.ranking.head import N_SCORE
from cascade.ranking.xgb import XGBRanker
from cascade.retrieval.blend import BlendedRetriever
from cascade.retrieval.retriever import TwoTowerRetriever

RETRIEVER_DIR = "retriever"
RANKER_FILE = "ranker.ubj"
MANIFEST = "manifest.json"


def window_start(inter: Interactions) -> dict[int, int]:
    """Each user's first timestamp in a window."""
    out: dict[int, int] = {}
    for u, t in zip(inter.user.tolist(), inter.ts.tolist(), strict=True):
        if u not in out or t < out[u]:
            out[u] = t
    return out


def point_in_time(split: Split, batch: BatchFeatures, catalog: Catalog, window: str) -> PointInTimeFeatures:
    """Features of each user as of the start of their `window` ("val" or "test")."""
    items, ts = split.history_before(window).by_user_with_time()
    return PointInTimeFeatures(batch, catalog, items, window_start(split.window(window)), ts)


class Sizes(TypedDict):
    n_retrieve: int
    n_rank: int


@dataclass
class Runtime:
    """Everything `care train` produced, loaded once per process."""

    dataset: Dataset
    split: Split
    retriever: TwoTowerRetriever
    ranker: XGBRanker
    batch: BatchFeatures
    manifest: dict[str, Any] = field(default_factory=dict)
    artifacts: Path = Path()
    collab: CollabModel | None = None  # the item-item source and features (fitted on train + validation)
    item_features: F32 | None = None  # item batch rows per catalog item, given (synthetic catalogs)
    _blended: BlendedRetriever | None = field(default=None, init=False, repr=False)
    _catalog_cursor: int = field(default=0, init=False, repr=False)  # entries of the catalog log read

    @property
    def candidates(self) -> TwoTowerRetriever | BlendedRetriever:
        """The pipeline's retriever: both sources merged when the collab model is present."""
        if self.collab is None:
            return self.retriever
        if self._blended is None:
            self._blended = BlendedRetriever(self.retriever, self.collab, self.dataset.catalog)
        return self._blended

    @property
    def as_of_end(self) -> int:
        return int(self.dataset.interactions.ts.max()) + 1

    def feature_store(
        self, online: OnlineStore, materialize: bool = True, users_as_of: Literal["end", "test"] = "end"
    ) -> FeatureStore:
        """A feature store over `online`; materializes batch features as of the end of the data, or with
        each user's features and history as of the start of their test window (`users_as_of="test"`: a
        replay of the test window as live traffic, `care ab simulate`)."""
        fs = FeatureStore(online, self.dataset.catalog, self.batch.occupations)
        if materialize:
            users = self.dataset.users.user_ids
            per_user = None
            if users_as_of == "test":
                starts = window_start(self.split.test)
                per_user = np.asarray([starts.get(int(u), self.as_of_end) for u in users], dtype=np.int64)
            fs.materialize(self.batch, users, self.as_of_end, per_user, self.item_features)
        return fs

    @property
    def sizes(self) -> Sizes:
        """Retrieve and rank counts the artifacts were trained with (the manifest's config)."""
        cfg = self.manifest.get("config", {})
        return {
            "n_retrieve": int(cfg.get("n_retrieve", N_RETRIEVE)),
            "n_rank": int(cfg.get("n_rank", N_RANK)),
        }

    def online_pipeline(
        self, store: FeatureStore, discount: Discount | None = None, n_score: int = N_SCORE
    ) -> Pipeline:
        """The serving pipeline over the online store (`discount`: items shown and skipped fall;
        `n_score`: the ranker scores the candidates' head, 0: all of them, as CARE_SCORE_HEAD)."""
        return Pipeline(
            OnlineFeatures(store),
            self.candidates,
            self.ranker,
            self.dataset.catalog,
            **self.sizes,
            discount=discount,
            n_score=n_score or None,
        )

    def offline_pipeline(self, window: Literal["val", "test"]) -> Pipeline:
        """Point-in-time pipeline: each user's features and history as of the start of `window`.

        The retrieval and collab models are the served ones (fitted on train + validation): they are
        point in time for the test window only; "val" is for inspection, not for metrics.
        """
        source = point_in_time(self.split, self.batch, self.dataset.catalog, window)
        return Pipeline(source, self.candidates, self.ranker, self.dataset.catalog, **self.sizes)

    def add_item(
        self, store: FeatureStore, item_id: int, title: str, year: int, genres: tuple[str, ...]
    ) -> bool:
        """Cold start: `publish_item`, then this process learns the item at once (others on their next
        `sync_items`). False: another process claimed the id."""
        entry = CatalogEntry(item_id, title, year, tuple(genres))
        if not self.publish_item(store, entry):
            return False
        self.learn_item(entry)
        return True

    def publish_item(self, store: FeatureStore, entry: CatalogEntry) -> bool:
        """The store I/O of a new item: its cold-start features, then its id claimed in the shared catalog
        log (False: claimed already). Changes nothing in this process."""
        names = self.dataset.catalog.genre_names
        genres = entry.genres
        unknown = [g for g in genres if g not in names]
        if unknown:
            raise ValueError(f"unknown genres {unknown}; known: {list(names)}")
        genre_row = np.asarray([g in genres for g in names], dtype=np.float32)
        store.online.write_items([entry.item_id], cold_item_features(entry.year, genre_row)[None, :])
        return store.online.claim_item(entry)

    def learn_item(self, entry: CatalogEntry) -> None:
        """This process's catalog and retrieval index take an item (every other structure follows the
        catalog's version: see README, "Items added at run time")."""
        self.dataset.catalog.add(entry.item_id, entry.title, entry.year, entry.genres)
        self.retriever.add_item(entry.item_id, entry.title, entry.year, entry.genres)

    def pending_items(self, online: OnlineStore) -> tuple[int, list[CatalogEntry]]:
        """The catalog log past what this process has read: (its position, the entries); store I/O only."""
        return self._catalog_cursor, online.catalog_since(self._catalog_cursor)

    def learn_items(self, start: int, entries: list[CatalogEntry]) -> int:
        """Learn `pending_items`' entries this process lacks; returns how many it learned."""
        fresh = [e for e in entries if e.item_id not in self.dataset.catalog]
        for e in fresh:
            self.learn_item(e)
        self._catalog_cursor = max(self._catalog_cursor, start + len(entries))
        return len(fresh)

    def sync_items(self, online: OnlineStore) -> int:
        """Learn the items other processes added since the last sync (one read of the catalog log)."""
        return self.learn_items(*self.pending_items(online))


def trained_dataset(folder: Path, manifest: dict[str, Any]) -> Dataset:
    """The dataset the manifest's models were trained on; ValueError if the data changed since."""
    source = manifest.get("data", {}).get("source_arg")
    ds = load_default(Path(source) if source else None)
    if ds.fingerprint() != manifest["data"]["fingerprint"]:
        raise ValueError(f"{folder}: artifacts were trained on other data (fingerprint mismatch)")
    return ds
