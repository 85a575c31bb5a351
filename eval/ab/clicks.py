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


RETURN_STREAM = 1  # the return draws' own random stream (independent of the clicks')


@dataclass(frozen=True)
class ReturnModel:
    """Whether a user comes back for their next visit, given how the last one went.

    The cascade model above describes one visit: a user who examines positions without finding anything
    leaves the list (abandonment). Across visits the same user was assumed to come back every time, so
    a worse order could only delay plays, never lose them. Here a visit with a play is followed by
    another with probability `after_play`, a visit without one with probability `after_empty`: users
    whose experience is poor come back less (absence time grows after unsatisfying sessions, Dupret and
    Lalmas 2013; users learn from the quality they were shown and act less, Hohnhold et al. 2015; in
    RecSim, Ie et al. 2019, a slate without a choice spends the user's session budget). A user stops at
    their first visit not followed by a return. `after_empty = after_play = 1` is the old audience.
    """

    after_empty: float = 0.85
    after_play: float = 1.0

    def __post_init__(self) -> None:
        for name in ("after_empty", "after_play"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], not {v}")

    def comes_back(self, played: bool, u: float) -> bool:
        """Whether the user makes another visit; `u` is the visit's own uniform draw in [0, 1)."""
        return u < (self.after_play if played else self.after_empty)

    def visits(self, played: Sequence[bool], draws: Sequence[float]) -> int:
        """How many of the offered visits the user makes (`played[j]`: visit j had a play)."""
        for j, (p, u) in enumerate(zip(played, draws, strict=False)):
            if j + 1 < len(played) and not self.comes_back(p, u):
                return j + 1
        return len(played)


def return_draws(seed: int, user: int, n: int) -> list[float]:
    """The uniform draws deciding a user's returns after each of their n visits (seeded per user)."""
    return [float(x) for x in np.random.default_rng([seed, user, RETURN_STREAM]).random(n)]
