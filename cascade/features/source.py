"""Where the pipeline reads features: the online store when serving, point-in-time when offline."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from cascade.data.dataset import Catalog
from cascade.features.assembly import USER_DEFAULTS
from cascade.features.batch import BatchFeatures
from cascade.features.online.base import F32, I64, ITEM_DEFAULTS, StoreUnavailable
from cascade.features.session import SessionState, session_from_events
from cascade.features.store import FeatureStore, demographics
from cascade.types import UserView


@dataclass(frozen=True)
class UserFeatures:
    view: UserView
    batch: F32  # USER_BATCH block (defaults for cold start)
    session: SessionState
    degraded: bool = False  # the online store was unreachable; defaults were used


class FeatureSource(Protocol):
    """Features for one request: the user first, then the retrieved candidates."""

    def user(self, user_id: int, session_items: Sequence[int], now: float) -> UserFeatures: ...

    def items(self, user_id: int, item_ids: I64, now: float) -> tuple[F32, bool]:
        """Item batch features, and whether they are degraded defaults."""
        ...

    def keep_source(self, user_id: int, blob: bytes) -> None:
        """Keep the user's item-item source and signals, best effort (cascade.retrieval.kept_source)."""
        ...


class OnlineFeatures:
    """Serving: the online store, degrading to cold-start defaults when it is down."""

    def __init__(self, store: FeatureStore) -> None:
        self.store = store

    def user(self, user_id: int, session_items: Sequence[int], now: float) -> UserFeatures:
        try:
            view, fetched = self.store.fetch_user(user_id, session_items)
        except StoreUnavailable:
            items = tuple(i for i in session_items if i in self.store.catalog)
            view = UserView(user_id, known=False, session_items=items)
            return UserFeatures(view, USER_DEFAULTS, SessionState(), degraded=True)
        batch = USER_DEFAULTS if fetched.user_features is None else fetched.user_features
        return UserFeatures(view, batch, fetched.session)

    def items(self, user_id: int, item_ids: I64, now: float) -> tuple[F32, bool]:
        try:
            return self.store.items(item_ids), False
        except StoreUnavailable:
            return np.tile(ITEM_DEFAULTS, (len(item_ids), 1)), True

    def keep_source(self, user_id: int, blob: bytes) -> None:
        with contextlib.suppress(StoreUnavailable):  # derived data: the next request computes it again
            self.store.online.write_source(user_id, blob)


class PointInTimeFeatures:
    """Offline: each user's features as of the start of the window being scored."""

    def __init__(
        self,
        batch: BatchFeatures,
        catalog: Catalog,
        histories: Mapping[int, I64],
        as_of: Mapping[int, int],
        history_ts: Mapping[int, I64],
    ) -> None:
        self.batch, self.catalog = batch, catalog
        self.histories, self.as_of, self.history_ts = histories, as_of, history_ts
        self._occupations = batch.occupations

    def user(self, user_id: int, session_items: Sequence[int], now: float) -> UserFeatures:
        t = self.as_of.get(user_id, int(now))
        hist = self.histories.get(user_id, np.empty(0, dtype=np.int64))
        ts = self.history_ts.get(user_id, np.empty(0, dtype=np.int64))
        session = session_from_events(hist, ts, self.catalog.primary_genres(hist), t)
        block = self.batch.users_block(np.asarray([user_id]), np.asarray([t]))[0]
        recent = tuple(dict.fromkeys((*session_items, *session.recent)))
        known = user_id in self.histories
        age, gender, occupation = demographics(block, self._occupations) if known else (None, None, None)
        view = UserView(
            user_id,
            known=known,
            age=age,
            gender=gender,
            occupation=occupation,
            history=tuple(hist.tolist()),
            session_items=recent,
            seen=frozenset(hist.tolist()),
        )
        return UserFeatures(view, block if known else USER_DEFAULTS, session)

    def items(self, user_id: int, item_ids: I64, now: float) -> tuple[F32, bool]:
        t = self.as_of.get(user_id, int(now))
        return self.batch.items(item_ids, np.full(len(item_ids), t)), False

    def keep_source(self, user_id: int, blob: bytes) -> None:
        """Offline every user is scored as of its own time: nothing is kept between rows."""
