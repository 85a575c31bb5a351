"""Value types shared by every stage of the cascade."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class Context:
    """What a request says about its situation."""

    playlist_title: str | None = None
    device: str | None = None  # "mobile" | "desktop" | "tv" | None
    timestamp: float | None = None  # unix seconds; None means now
    session_items: tuple[int, ...] = ()


@dataclass(frozen=True)
class Candidates:
    """Item ids with scores, best first."""

    item_ids: npt.NDArray[np.int64]
    scores: npt.NDArray[np.float32]

    def __len__(self) -> int:
        return int(self.item_ids.shape[0])

    def head(self, n: int) -> Candidates:
        return Candidates(self.item_ids[:n], self.scores[:n])


@dataclass(frozen=True)
class ItemText:
    """What a re-ranker may read about an item."""

    item_id: int
    title: str
    year: int
    genres: tuple[str, ...]


@dataclass(frozen=True)
class RerankInput:
    """The ranker's top candidates (best first) with the context a re-ranker may use."""

    user_id: int
    context: Context
    candidates: tuple[ItemText, ...]
    scores: tuple[float, ...]
    recent: tuple[ItemText, ...]  # the session's / history's most recent items, newest first
    k: int
    deadline: float | None = None  # time.monotonic() by which an answer is due; None = no deadline


@dataclass
class RerankOutput:
    """A permutation of (a prefix of) the candidates, and what happened on the way."""

    item_ids: list[int]
    reranker: str
    fallback_reason: str | None = None
    stats: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class UserView:
    """Everything the cascade knows about a user at request time (batch + real-time)."""

    user_id: int
    known: bool  # False: cold start (no batch record); documented defaults apply
    age: int | None = None
    gender: str | None = None
    occupation: str | None = None
    history: tuple[int, ...] = ()  # batch history, oldest first
    session_items: tuple[int, ...] = ()  # real-time, newest first
    seen: frozenset[int] = frozenset()  # never recommended again (history + played/rated in session)


class Retriever(Protocol):
    """User -> about 500 candidates from the whole catalog, seen items excluded."""

    def retrieve(self, user: UserView, n: int) -> Candidates: ...
