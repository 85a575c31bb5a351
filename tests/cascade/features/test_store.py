from __future__ import annotations

import numpy as np
import pytest

from cascade.data.dataset import Dataset
from cascade.features.batch import BatchFeatures
from cascade.features.online import MemoryStoreConfig, create_store
from cascade.features.session import Event
from cascade.features.store import FeatureStore, UnknownItemError


@pytest.fixture(scope="module")
def fstore(ml100k: Dataset) -> FeatureStore:
    bf = BatchFeatures(ml100k.interactions, ml100k.catalog, ml100k.users)
    fs = FeatureStore(create_store(MemoryStoreConfig()), ml100k.catalog, bf.occupations)
    fs.materialize(bf, ml100k.users.user_ids[:20], int(ml100k.interactions.ts.max()) + 1)
    return fs


def test_known_user_view(fstore: FeatureStore, ml100k: Dataset) -> None:
    view, _ = fstore.fetch_user(1)
    assert view.known and view.gender == "M" and view.age == 24 and view.occupation == "technician"
    assert len(view.history) == int((ml100k.interactions.user == 1).sum())
    assert set(view.history) == view.seen


def test_unknown_user_takes_cold_start(fstore: FeatureStore) -> None:
    view, fetched = fstore.fetch_user(424242, session_items=[1, 2, 99999])
    assert not view.known and view.history == () and fetched.user_features is None
    assert view.session_items == (1, 2)  # unknown ids in a request's session are ignored


def test_event_with_unknown_item_is_rejected_and_nothing_applied(fstore: FeatureStore) -> None:
    with pytest.raises(UnknownItemError, match=r"unknown item id 99999"):
        fstore.ingest([Event(3, 1, "play", 1.0), Event(3, 99999, "play", 2.0)])
    assert fstore.fetch_user(3)[1].session.recent == ()


def test_played_item_is_seen_next_time(fstore: FeatureStore) -> None:
    fstore.ingest([Event(2, 1, "play", 5.0), Event(2, 50, "view", 6.0)])
    view, fetched = fstore.fetch_user(2)
    assert 1 in view.seen and 50 not in view.seen - set(view.history)
    assert view.session_items[:2] == (50, 1)
    assert fetched.session.last_genre == fstore.primary_genre(50)


def test_items_materialized_as_of_end(fstore: FeatureStore, ml100k: Dataset) -> None:
    items = fstore.items(np.asarray([1, 2], dtype=np.int64))
    assert items.shape[0] == 2 and items[0, 0] > 0
