"""Fixtures: served logs of simulated users whose plays cluster by user, as the real ones do."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from cascade.impressions import Impression, Outcome

Rows = tuple[list[list[Any]], list[list[Any]]]


def _rows(name: str, users: int, seed: int, lift: float = 0.0, per_user: int = 10) -> Rows:
    propensity = np.random.default_rng(0).beta(0.5, 1.5, size=users)  # the users: the same in every log
    rng = np.random.default_rng(seed)  # the clicks
    imps, outs = [], []
    for u in range(users):
        p = float(np.clip(propensity[u] + lift, 0.0, 1.0))
        for j in range(per_user):
            rid = f"{u}-{j}"
            items = (1, 2, 3) if lift >= 0 else (3, 2, 1)
            imps.append(
                Impression(1.0 + j, rid, u, "x", name, "rules", None, None, items, 2.0, 0.5, False).row()
            )
            if rng.random() < p:
                pos = int(rng.integers(1, 4))
                outs.append(Outcome(2.0, u, pos, "play", rid, "x", name, pos, "request_id").row())
                if rng.random() < 0.5:
                    outs.append(Outcome(2.0, u, pos, "like", rid, "x", name, pos, "request_id").row())
    outs.append(Outcome(2.0, 0, 1, "play", None, None, None, None, None).row())  # unattributed
    return imps, outs


@pytest.fixture
def clustered_rows() -> Callable[..., Rows]:
    """(name, users, seed, lift=0, per_user=10) -> impression and outcome rows of one served condition.

    Each user has their own play propensity (Beta(0.5, 1.5), the same user in every log; `lift` moves it);
    `seed` draws the clicks. Lifted-down logs serve items 3, 2, 1 instead of 1, 2, 3.
    """
    return _rows
