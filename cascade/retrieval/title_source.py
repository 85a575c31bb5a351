"""The title-driven candidate source: the items whose text is nearest the playlist title (MiniLM).

A title can name a theme the user's history does not show ("feel-good family afternoon"); the
two-tower and item-item sources cannot reach those items. When a request has a title, this source's
top `TITLE_QUOTA` join the candidates, and every candidate's similarity to the title is a ranker
feature (the registry's TITLE block), so the ranker learns how far to trust a title.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from cascade.features.registry import TITLE

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]
TITLE_QUOTA = 50  # candidates the title source adds (before duplicates are dropped)


def nearest(sims: F32, item_ids: I64, n: int, exclude: set[int]) -> I64:
    """The n items outside `exclude` with the highest title similarity `sims` (aligned with item_ids)."""
    take = min(len(item_ids), n + len(exclude))
    top = np.argpartition(-sims, take - 1)[:take] if take < len(item_ids) else np.arange(len(item_ids))
    top = top[np.argsort(-sims[top], kind="stable")]
    ids = item_ids[top]
    if exclude:
        ids = ids[~np.isin(ids, np.fromiter(exclude, np.int64, len(exclude)))]
    return np.asarray(ids[:n], dtype=np.int64)


def title_block(sim: F32, from_source: F32) -> F32:
    """The TITLE block for candidates with title similarities `sim` (from_source: 1 if the source had it)."""
    out = np.empty((len(sim), len(TITLE)), dtype=np.float32)
    out[:, 0] = 1.0
    out[:, 1] = sim
    out[:, 2] = sim - (sim.max() if len(sim) else 0.0)
    out[:, 3] = from_source
    return out
