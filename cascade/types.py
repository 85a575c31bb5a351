"""Value types shared by every stage of the cascade."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
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
class Shown:
    """Items served to a user and not played since: how often, and the request time of the last showing.

    Sorted by item id (lookups by binary search); kept in the online store with the user, bounded."""

    item_ids: npt.NDArray[np.int64]
    counts: npt.NDArray[np.int64]
    last: npt.NDArray[np.float64]  # unix seconds, the request's own clock (its context timestamp)

    def __len__(self) -> int:
        return int(self.item_ids.shape[0])

    @staticmethod
    def of(entries: dict[int, tuple[int, float]]) -> Shown:
        """From item id -> (times shown, last shown)."""
        ids = sorted(entries)
        return Shown(
            np.asarray(ids, dtype=np.int64),
            np.asarray([entries[i][0] for i in ids], dtype=np.int64),
            np.asarray([entries[i][1] for i in ids], dtype=np.float64),
        )

    def entries(self) -> dict[int, tuple[int, float]]:
        return {
            int(i): (int(n), float(t))
            for i, n, t in zip(self.item_ids.tolist(), self.counts.tolist(), self.last.tolist(), strict=True)
        }


NOTHING_SHOWN = Shown.of({})


@dataclass(frozen=True)
class ItemText:
    """What a re-ranker may read about an item."""

    item_id: int
    title: str
    year: int
    genres: tuple[str, ...]


class FallbackReason(StrEnum):
    """Why a response came from the fallback re-ranker (the guard, the service and the report share it)."""

    TIMEOUT = "timeout"  # no answer by the deadline; the call finishes in the background and is cached
    ERROR = "error"
    CIRCUIT_OPEN = "circuit_open"
    OVERLOADED = "overloaded"  # the LLM is saturated (service admission or the backend's call slots)
    INVALID_OUTPUT = "invalid_output"
    LLM_UNAVAILABLE = "llm_unavailable"  # the LLM stage could not be built (no model, bad settings)


@dataclass(frozen=True)
class RerankInput:
    """The ranker's top candidates (best first) with the context a re-ranker may use."""

    user_id: int
    context: Context
    candidates: tuple[ItemText, ...]
    scores: tuple[float, ...]
    recent: tuple[ItemText, ...]  # the session's / history's most recent items, newest first
    k: int
    # time.monotonic() by which an answer is due, computed once per request by Pipeline.recommend from
    # the arm's budget; None for arms without a deadline (identity, rules)
    deadline: float | None = None


@dataclass
class RerankOutput:
    """A permutation of (a prefix of) the candidates, and what happened on the way."""

    item_ids: list[int]
    reranker: str
    fallback_reason: FallbackReason | None = None
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
    # the item-item source and signals kept with the user (cascade.retrieval.kept_source); used only
    # if its key matches
    stored_source: bytes | None = field(default=None, repr=False, compare=False)
    # what the service showed the user and they did not play (cascade.ranking.discount)
    shown: Shown = field(default=NOTHING_SHOWN, repr=False, compare=False)

    def excluded(self) -> frozenset[int]:
        """Items no source may return: seen, the batch history and this session's items."""
        return self.seen | frozenset(self.history) | frozenset(self.session_items)


class Retriever(Protocol):
    """User -> about 500 candidates from the whole catalog, seen items excluded."""

    def retrieve(self, user: UserView, n: int, title: npt.NDArray[np.float32] | None = None) -> Candidates:
        """title: the playlist title's unit text embedding, for retrievers with a title source."""
        ...
