"""A bounded exploration slot for fresh items (added after the models were fitted).

The ranker never saw a fresh item in training and its collaborative evidence is empty, so it ranks
one low even when the content fits. One slot of the ranked list (the 10th place) goes to the fresh
candidate whose genres best fit the user's recent items (the content source of
cascade.retrieval.blend, which admits a fresh item only above a minimum fit): a fresh item reaches
users whose taste fits it, and at most one place per list is spent on exploration.
"""

from __future__ import annotations

import numpy as np

from cascade.retrieval.blend import SourcedCandidates
from cascade.types import Candidates

FRESH_SLOT = 9  # 0-based: the 10th place


def explore_fresh(ranked: Candidates, retrieved: Candidates, slot: int = FRESH_SLOT) -> Candidates:
    """`ranked` with the best-fitting fresh candidate moved up to `slot` (unchanged when none fits)."""
    if not isinstance(retrieved, SourcedCandidates) or len(ranked) <= slot:
        return ranked
    if not (retrieved.fresh_fit > 0).any():
        return ranked
    pick = int(retrieved.item_ids[np.argmax(retrieved.fresh_fit)])
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
