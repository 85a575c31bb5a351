"""The one split every stage uses: per user, by time, last 10 test, 10 before validation, rest train."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cascade.data.dataset import Interactions

N_TEST = 10
N_VAL = 10


@dataclass(frozen=True)
class Split:
    train: Interactions
    val: Interactions
    test: Interactions

    def history_before(self, window: str) -> Interactions:
        """Everything a user did before the scored window ('val' or 'test')."""
        if window == "val":
            return self.train
        if window == "test":
            return Interactions.concat(self.train, self.val)
        raise ValueError(f"window must be 'val' or 'test', not {window!r}")

    def window(self, name: str) -> Interactions:
        if name == "val":
            return self.val
        if name == "test":
            return self.test
        raise ValueError(f"window must be 'val' or 'test', not {name!r}")


def split_by_user(inter: Interactions, n_test: int = N_TEST, n_val: int = N_VAL) -> Split:
    """Implicit feedback: every interaction counts; sort per user by timestamp, ties by item id."""
    order = np.lexsort((inter.item, inter.ts, inter.user))
    users = inter.user[order]
    # position from the end within each user's sorted run
    starts = np.r_[0, np.flatnonzero(np.diff(users)) + 1]
    ends = np.r_[starts[1:], len(users)]
    from_end = np.empty(len(users), dtype=np.int64)
    for s, e in zip(starts, ends, strict=True):
        from_end[s:e] = np.arange(e - s - 1, -1, -1)
    sorted_inter = inter.take(order)
    test = from_end < n_test
    val = (from_end >= n_test) & (from_end < n_test + n_val)
    return Split(
        train=sorted_inter.take(~(test | val)),
        val=sorted_inter.take(val),
        test=sorted_inter.take(test),
    )
