"""The feature store facade: materializes batch features, ingests events, serves user views and items."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cascade.data.dataset import Catalog
from cascade.features.batch import BatchFeatures
from cascade.features.online.base import F32, I64, Fetched, OnlineStore
from cascade.features.registry import CONSUMING_EVENTS, USER_BATCH, index
from cascade.features.session import Event
from cascade.types import UserView

_AGE, _GENDER, _OCC = (index(USER_BATCH, n) for n in ("user_age", "user_gender_m", "user_occupation"))


def demographics(f: F32, occupations: Sequence[str]) -> tuple[int | None, str | None, str | None]:
    """Age, gender and occupation decoded from a USER_BATCH vector."""
    occ = int(f[_OCC])
    gender = "M" if f[_GENDER] == 1.0 else "F" if f[_GENDER] == 0.0 else None
    return int(f[_AGE]) or None, gender, occupations[occ] if 0 <= occ < len(occupations) else None


class UnknownItemError(ValueError):
    """An event or request names an item the catalog does not have."""


class FeatureStore:
    """One place that knows the catalog, the online store and the feature definitions."""

    def __init__(self, online: OnlineStore, catalog: Catalog, occupations: Sequence[str]) -> None:
        self.online = online
        self.catalog = catalog
        self.occupations = list(occupations)

    def materialize(
        self,
        batch: BatchFeatures,
        user_ids: I64,
        as_of: int,
        user_as_of: I64 | None = None,
        item_features: F32 | None = None,
    ) -> None:
        """Compute every user and item batch feature as of `as_of` and write them online; `user_as_of`
        (one time per user) moves each user's features and history to their own time (replays);
        `item_features` (one row per catalog item) replaces the items' computed rows (synthetic catalogs)."""
        items = self.catalog.item_ids
        if item_features is None:
            item_features = batch.items(items, np.full(len(items), as_of))
        self.online.write_items(items.tolist(), item_features)
        when = np.full(len(user_ids), as_of) if user_as_of is None else np.asarray(user_as_of, dtype=np.int64)
        feats = batch.users_block(user_ids, when)
        histories = [batch.history(int(u), int(t)) for u, t in zip(user_ids, when, strict=True)]
        self.online.write_users(user_ids.tolist(), feats, histories)

    def primary_genre(self, item_id: int) -> int:
        return self.catalog.primary_genre(item_id)

    def ingest(self, events: Sequence[Event]) -> None:
        """Validate every event first, then apply them in order; nothing is applied if one is bad."""
        for e in events:
            if e.item_id not in self.catalog:
                raise UnknownItemError(f"unknown item id {e.item_id}")
        for e in events:
            self.online.record_event(e, self.primary_genre(e.item_id), e.type in CONSUMING_EVENTS)

    def fetch_user(self, user_id: int, session_items: Sequence[int] = ()) -> tuple[UserView, Fetched]:
        """The user's view (batch + session, request session items first) in one round trip."""
        fetched = self.online.fetch(user_id, np.empty(0, dtype=np.int64))
        return self.view(user_id, fetched, session_items), fetched

    def view(self, user_id: int, fetched: Fetched, session_items: Sequence[int] = ()) -> UserView:
        recent = fetched.session.recent
        extra = tuple(i for i in (*session_items, *recent) if i in self.catalog)
        session = tuple(dict.fromkeys(extra))
        seen = frozenset(fetched.history.tolist()) | fetched.session.consumed
        f = fetched.user_features
        if f is None:
            return UserView(user_id, known=False, session_items=session, seen=seen, shown=fetched.shown)
        age, gender, occupation = demographics(f, self.occupations)
        return UserView(
            user_id,
            known=True,
            age=age,
            gender=gender,
            occupation=occupation,
            history=tuple(self.catalog.known(fetched.history).tolist()),
            session_items=session,
            seen=seen,
            stored_source=fetched.source,
            shown=fetched.shown,
        )

    def items(self, item_ids: I64) -> F32:
        return self.online.fetch_items(item_ids)[0]
