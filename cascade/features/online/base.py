"""The online-store interface every backend implements."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from cascade.features.registry import ITEM_BATCH, defaults
from cascade.features.session import Event, SessionState
from cascade.types import NOTHING_SHOWN, Shown

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]


class StoreUnavailable(RuntimeError):
    """The online store did not answer in time; callers degrade on this."""


class NotReplicated(RuntimeError):
    """A write applied but not confirmed by enough replicas in time: not to be acknowledged, as a failover
    could lose it. The store answered, so this is no sign of it being down (a breaker lets it pass)."""


@dataclass(frozen=True)
class Fetched:
    """One user's batch record and session, plus batch features of the asked items."""

    user_features: F32 | None  # None: unknown user (cold start)
    history: I64
    session: SessionState
    items: F32  # (n, len(ITEM_BATCH)); defaults where missing
    items_missing: npt.NDArray[np.bool_]
    source: bytes | None = None  # the stored item-item source and signals (cascade.retrieval.kept_source)
    shown: Shown = NOTHING_SHOWN  # served and not played since (cascade.ranking.discount)


# What the store keeps of the items shown to a user: the SHOWN_KEEP most recently recorded (older ones are
# forgotten: a bound per user), for SHOWN_TTL_S after the user's last answer (wall clock).
SHOWN_KEEP = 100
SHOWN_TTL_S = 30 * 86_400


@dataclass(frozen=True)
class ShownEntry:
    """One answer: the items served to a user at the request's time (unix seconds, its own clock)."""

    user_id: int
    item_ids: tuple[int, ...]
    ts: float


def clears_shown(event_type: str) -> bool:
    """Every reaction to an item but a view takes it out of the user's shown-and-not-played items."""
    return event_type != "view"


ITEM_DEFAULTS: F32 = np.asarray(defaults(ITEM_BATCH), dtype=np.float32)


@dataclass(frozen=True)
class CatalogEntry:
    """An item added at run time, as every process learns it from the shared catalog log."""

    item_id: int
    title: str
    year: int
    genres: tuple[str, ...]

    def encode(self) -> bytes:
        return json.dumps([self.item_id, self.title, self.year, list(self.genres)]).encode()

    @classmethod
    def decode(cls, raw: bytes | str) -> CatalogEntry:
        item_id, title, year, genres = json.loads(raw)
        return cls(int(item_id), str(title), int(year), tuple(str(g) for g in genres))


class OnlineStore(Protocol):
    """Batch features per user and item, and real-time session state per user."""

    name: str

    def write_users(self, user_ids: Sequence[int], features: F32, histories: Sequence[I64]) -> None: ...

    def write_items(self, item_ids: Sequence[int], features: F32) -> None: ...

    def fetch(self, user_id: int, item_ids: I64) -> Fetched:
        """User record, session and item features in one round trip."""
        ...

    def fetch_items(self, item_ids: I64) -> tuple[F32, npt.NDArray[np.bool_]]:
        """Item features (defaults where missing) and the missing mask, in one round trip."""
        ...

    def record_event(self, event: Event, genre_code: int, consuming: bool) -> None:
        """Apply one event to the user's session, durably, before returning."""
        ...

    def write_source(self, user_id: int, blob: bytes) -> None:
        """Keep the user's item-item source with the user (fetch returns it): derived, recomputable data."""
        ...

    def record_shown(self, entries: Sequence[ShownEntry]) -> None:
        """Per entry, atomically: each item's count + 1 and last time (the newest kept); the user's
        SHOWN_KEEP most recently recorded items kept (an answer's items in id order). fetch returns
        them; an event other than a view clears its item (record_event)."""
        ...

    def claim_item(self, entry: CatalogEntry) -> bool:
        """Append `entry` to the shared catalog log unless its id is there already (False), atomically."""
        ...

    def catalog_since(self, cursor: int) -> list[CatalogEntry]:
        """The catalog log's entries from position `cursor` on, in the order they were claimed."""
        ...

    def ping(self) -> None:
        """Raise StoreUnavailable if the store cannot be reached."""
        ...

    def close(self) -> None: ...
