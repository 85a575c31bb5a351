"""A cascade click model (the dependent click model's form) for the simulated audience.

The user scans the list top-down. Position 1 is always examined. An examined item the user wants (it is
in their test window and not yet played) is played with probability `attract`; any other examined item
with probability `noise`. After a play the user stops with probability `satisfied`; after an item left
unplayed they go on to the next position with probability `patience`. Without plays, position i is
therefore examined with probability patience^(i-1). A played item is liked when the user rated it at
least `like_rating` (MovieLens ratings, 1..5).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Play:
    position: int  # 1-based
    item_id: int
    liked: bool


@dataclass(frozen=True)
class CascadeClickModel:
    attract: float = 0.9
    noise: float = 0.0
    patience: float = 0.85
    satisfied: float = 0.5
    like_rating: float = 4.0

    def __post_init__(self) -> None:
        for name in ("attract", "noise", "patience", "satisfied"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], not {v}")

    def examine(
        self, items: Sequence[int], wanted: Mapping[int, float], rng: np.random.Generator
    ) -> list[Play]:
        """The plays of one impression; `wanted` maps the items the user would play to their rating."""
        plays: list[Play] = []
        for pos, item in enumerate(items, start=1):
            p = self.attract if item in wanted else self.noise
            if rng.random() < p:
                rating = wanted.get(item, 0.0)
                plays.append(Play(pos, item, rating >= self.like_rating))
                if rng.random() < self.satisfied:
                    break
            elif rng.random() >= self.patience:
                break
        return plays

    def examination(self, k: int) -> list[float]:
        """P(position i is examined) for i = 1..k when nothing is played (what the parameters imply)."""
        return [self.patience**i for i in range(k)]
