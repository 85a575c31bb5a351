"""The title-driven candidate source: the items whose text is nearest the playlist title (MiniLM).

A title can name a theme the user's history does not show ("feel-good family afternoon"); the
two-tower and item-item sources cannot reach those items. When a request has a title, this source's
top `TITLE_QUOTA` join the candidates, and every candidate's similarity to the title is a ranker
feature (the registry's TITLE block), so the ranker learns how far to trust a title.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cascade.features.registry import TITLE

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]
TITLE_QUOTA = 50  # candidates the title source adds (before duplicates are dropped)
HEAD = 2048  # rows kept sorted per title: the quota plus what a user has seen, nearly always
CACHE_BYTES = 32 << 20  # per-title scores kept (playlist titles repeat; a product costs ~0.2 ms)


def _best(sims: F32, k: int) -> I64:
    """The k rows with the highest sims, best first (ties: lower row first)."""
    k = min(len(sims), k)
    top = np.argpartition(-sims, k - 1)[:k] if k < len(sims) else np.arange(len(sims))
    return np.asarray(top[np.argsort(-sims[top], kind="stable")], dtype=np.int64)


@dataclass(frozen=True)
class TitleScores:
    """One title's cosine with every indexed item's text, and its best HEAD rows, best first."""

    sims: F32
    head: I64

    @classmethod
    def of(cls, text: F32, title: F32) -> TitleScores:
        sims = (text @ title).astype(np.float32)
        return cls(sims, _best(sims, HEAD))


class TitleScoresCache:
    """TitleScores per title vector; the least recently used go past `max_bytes`; reset on new items."""

    def __init__(self, max_bytes: int = CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[bytes, TitleScores] = OrderedDict()
        self._n_items = -1
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, int]:
        """A copy (a pickle sent to a training worker) starts empty: entries are recomputed on demand."""
        return {"max_bytes": self.max_bytes}

    def __setstate__(self, state: dict[str, int]) -> None:
        self.__init__(state["max_bytes"])  # type: ignore[misc]

    def get(self, text: F32, title: F32) -> TitleScores:
        key = title.tobytes()
        with self._lock:
            if self._n_items != len(text):
                self._items.clear()
                self._n_items = len(text)
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                return hit
        scores = TitleScores.of(text, title)
        with self._lock:
            self._items[key] = scores
            size = scores.sims.nbytes + scores.head.nbytes
            while len(self._items) > 1 and len(self._items) * size > self.max_bytes:
                self._items.popitem(last=False)
        return scores


def nearest(scores: TitleScores, item_ids: I64, n: int, exclude: I64) -> I64:
    """The n items outside `exclude` most similar to the title (`scores` aligned with item_ids)."""
    take = n + len(exclude)
    rows = scores.head if take <= len(scores.head) else _best(scores.sims, take)
    ids = item_ids[rows[:take]]
    if len(exclude):
        ids = ids[~np.isin(ids, exclude)]
    return np.asarray(ids[:n], dtype=np.int64)


def title_block(sim: F32, from_source: F32) -> F32:
    """The TITLE block for candidates with title similarities `sim` (from_source: 1 if the source had it)."""
    out = np.empty((len(sim), len(TITLE)), dtype=np.float32)
    out[:, 0] = 1.0
    out[:, 1] = sim
    out[:, 2] = sim - (sim.max() if len(sim) else 0.0)
    out[:, 3] = from_source
    return out
