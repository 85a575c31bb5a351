"""Attributes an event to the impression that showed the item to that user: by request id, else by window."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cascade.impressions import Impression

CLOCK_SKEW_S = 5.0  # impressions stamped by another replica may be slightly "in the future"


@dataclass(frozen=True)
class Match:
    impression: Impression
    position: int  # 1-based
    how: str  # "request_id" | "window"


def attribute(
    user_id: int,
    item_id: int,
    request_id: str | None,
    recent: Sequence[Impression],
    now: float,
    window_s: float,
) -> Match | None:
    """The impression named by `request_id` if it showed the item to this user; else the most recent one
    within `window_s` before `now` that showed it; else None. `recent` is the user's, newest first."""
    if request_id is not None:
        for imp in recent:
            if imp.request_id == request_id and imp.user_id == user_id and item_id in imp.items:
                return Match(imp, imp.items.index(item_id) + 1, "request_id")
    lo = now - window_s
    for imp in recent:
        if imp.user_id == user_id and lo <= imp.ts <= now + CLOCK_SKEW_S and item_id in imp.items:
            return Match(imp, imp.items.index(item_id) + 1, "window")
    return None
