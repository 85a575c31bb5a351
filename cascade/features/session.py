"""Real-time session state written by event ingestion, and the session features derived from it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from cascade.features.registry import EVENT_TYPES, SESSION

RECENT_MAX = 20


@dataclass(frozen=True)
class Event:
    user_id: int
    item_id: int
    type: str
    timestamp: float

    def __post_init__(self) -> None:
        if self.type not in EVENT_TYPES:
            raise ValueError(f"event type must be one of {list(EVENT_TYPES)}, not {self.type!r}")


@dataclass(frozen=True)
class SessionState:
    """A user's session: recent items newest first, counts per event type, last genre and time."""

    recent: tuple[int, ...] = ()
    counts: dict[str, int] = field(default_factory=dict)
    last_genre: int = -1
    last_ts: float | None = None
    consumed: frozenset[int] = frozenset()

    def features(self, now: float) -> npt.NDArray[np.float32]:
        """The SESSION block of the registry, as of `now`."""
        total = sum(self.counts.values())
        since = -1.0 if self.last_ts is None else math.log1p(max(now - self.last_ts, 0.0))
        values = [
            math.log1p(total),
            *(float(self.counts.get(t, 0)) for t in EVENT_TYPES),
            since,
            float(self.last_genre),
        ]
        assert len(values) == len(SESSION)
        return np.asarray(values, dtype=np.float32)


def session_from_events(
    items: npt.NDArray[np.int64],
    ts: npt.NDArray[np.int64],
    genre_codes: npt.NDArray[np.int64],
    as_of: float,
    ttl_s: float = 86_400.0,
) -> SessionState:
    """The session a user had at `as_of`: their events (oldest first) in the TTL before it, read as plays."""
    live = (ts < as_of) & (ts >= as_of - ttl_s)
    if not live.any():
        return SessionState()
    it, t, g = items[live][::-1], ts[live][::-1], genre_codes[live][::-1]
    return SessionState(
        recent=tuple(int(x) for x in it[:RECENT_MAX]),
        counts={"play": int(live.sum())},
        last_genre=int(g[0]),
        last_ts=float(t[0]),
        consumed=frozenset(int(x) for x in it),
    )
