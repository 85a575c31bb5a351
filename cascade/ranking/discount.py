"""Impression discounting: items a user was shown and did not play fall in the ranker's order.

Without it a user's later visits show the same top items again, already passed over (a visit changes
the candidates only through what was played). Impression discounting (Lee et al., "Modeling impression
discounting in large-scale recommender systems", KDD 2014) multiplies an item's predicted preference
by a factor that falls with the times it was shown without a response and recovers as those showings
age. The ranker (LambdaMART, pairwise logistic loss) scores so that sigmoid(s_i - s_j) is the
probability that i beats j: multiplying i's odds by a factor is adding its log to s_i. So each showing
adds log(factor), weighted by 2^(-age / half_life); with nothing shown, scores are left untouched (the
offline evaluation has no impressions, so its rankings are exactly the undiscounted ones).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from cascade.types import Shown

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]


class Discount(Protocol):
    """Ranker scores -> scores with what the user was shown and skipped taken into account."""

    def apply(self, item_ids: I64, scores: F32, shown: Shown, now: float) -> F32: ...


@dataclass(frozen=True)
class ImpressionDiscount:
    """score + log(factor) * sum over the item's showings of 2^(-age / half_life_s) (one term per
    showing, the stored count sharing the last showing's age)."""

    factor: float = 0.5
    half_life_s: float = 7 * 86_400.0

    def __post_init__(self) -> None:
        if not 0.0 < self.factor <= 1.0:
            raise ValueError(f"factor must be in (0, 1], not {self.factor}")
        if not self.half_life_s > 0.0:
            raise ValueError(f"half_life_s must be > 0, not {self.half_life_s}")

    def penalty(self, item_ids: I64, shown: Shown, now: float) -> F32:
        """What each item's score loses (<= 0; 0 for items never shown)."""
        out = np.zeros(len(item_ids), dtype=np.float32)
        if not len(shown) or self.factor == 1.0:
            return out
        pos = np.minimum(np.searchsorted(shown.item_ids, item_ids), len(shown) - 1)
        hit = shown.item_ids[pos] == item_ids
        age = np.maximum(now - shown.last[pos[hit]], 0.0)
        weight = shown.counts[pos[hit]] * np.exp2(-age / self.half_life_s)
        out[hit] = (math.log(self.factor) * weight).astype(np.float32)
        return out

    def apply(self, item_ids: I64, scores: F32, shown: Shown, now: float) -> F32:
        """`scores` itself when nothing is shown; else a discounted copy."""
        if not len(shown) or self.factor == 1.0:
            return scores
        return (scores + self.penalty(item_ids, shown, now)).astype(np.float32)


class DiscountSettings(BaseModel):
    """CARE_DISCOUNT__*: impression discounting in the service (the eval harness never has impressions)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(default=True, description="Discount items shown and not played; false: off.")
    factor: float = Field(
        default=0.5, gt=0, le=1, description="Each showing without a play multiplies the item's odds by this."
    )
    half_life_s: float = Field(default=7 * 86_400.0, gt=0, description="A showing's weight halves in this.")

    def build(self) -> ImpressionDiscount | None:
        """The discount these settings select (None when off)."""
        return ImpressionDiscount(self.factor, self.half_life_s) if self.enabled else None
