"""A bounded exploration slot for fresh items (added after the models were fitted).

The ranker never saw a fresh item in training and its collaborative evidence is empty, so it ranks
one low even when the content fits. One slot of the ranked list (the 10th place) goes to the fresh
candidate the two-tower (content + user) ranks best for this user, when that rank is within the
two-tower's first `FRESH_TT_TOP`: a fresh item reaches users whose taste fits its genres and text,
and at most one place per list is spent on exploration.
"""

from __future__ import annotations

import numpy as np

from cascade.retrieval.blend import SourcedCandidates
from cascade.types import Candidates

FRESH_SLOT = 9  # 0-based: the 10th place
FRESH_TT_TOP = 100


def explore_fresh(ranked: Candidates, retrieved: Candidates, slot: int = FRESH_SLOT) -> Candidates:
    """`ranked` with the best-fitting fresh candidate moved up to `slot` (unchanged when none fits)."""
    if not isinstance(retrieved, SourcedCandidates) or len(ranked) <= slot:
        return ranked
    fresh = (retrieved.rows < 0) & (retrieved.tt_rank < FRESH_TT_TOP)
    if not fresh.any():
        return ranked
    pick = int(retrieved.item_ids[fresh][np.argmin(retrieved.tt_rank[fresh])])
    ids = ranked.item_ids.tolist()
    if pick in ids[: slot + 1]:
        return ranked
    scores = ranked.scores.tolist()
    if pick in ids:
        at = ids.index(pick)
        del ids[at], scores[at]
    ids.insert(slot, pick)
    scores.insert(slot, scores[slot])  # the displaced item's score: the list stays sorted
    n = len(ranked)
    return Candidates(np.asarray(ids[:n], dtype=np.int64), np.asarray(scores[:n], dtype=np.float32))
