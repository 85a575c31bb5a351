"""MiniLM cosine between a playlist title and each candidate's item text, with per-item caching."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from cascade.types import ItemText

FloatArray = npt.NDArray[np.float64]
Embedder = Callable[[Sequence[str]], npt.NDArray[np.float32]]


def _minilm(texts: Sequence[str]) -> npt.NDArray[np.float32]:
    from cascade.retrieval.text import embed_texts  # loads torch + MiniLM only when first used

    return embed_texts(texts)


class TitleSimilarity:
    """cos(title, item text) per candidate; item and title embeddings are computed once each."""

    def __init__(self, embed: Embedder = _minilm, max_titles: int = 4096) -> None:
        self._embed = embed
        self._items: dict[int, npt.NDArray[np.float32]] = {}
        self._titles: dict[str, npt.NDArray[np.float32]] = {}
        self._max_titles = max_titles

    def title_vector(self, title: str) -> npt.NDArray[np.float32]:
        """The title's unit embedding (cached)."""
        vec = self._titles.get(title)
        if vec is None:
            if len(self._titles) >= self._max_titles:
                self._titles.clear()
            vec = self._titles[title] = self._embed([title])[0]
        return vec

    def item_vectors(self, items: Sequence[ItemText]) -> npt.NDArray[np.float32]:
        """Unit embeddings of the items' text, shape (len(items), dim)."""
        from cascade.retrieval.text import item_text

        missing = [c for c in items if c.item_id not in self._items]
        if missing:
            vecs = self._embed([item_text(c.title, c.year, c.genres) for c in missing])
            for c, v in zip(missing, vecs, strict=True):
                self._items[c.item_id] = v
        return np.stack([self._items[c.item_id] for c in items]) if items else np.zeros((0, 1), np.float32)

    def __call__(self, title: str, items: Sequence[ItemText]) -> FloatArray:
        """Cosine of the title with each item's text (row by row: the same for an item in any batch,
        which a BLAS matrix-vector product does not promise)."""
        if not items:
            return np.zeros(0)
        cos: FloatArray = (self.item_vectors(items) * self.title_vector(title)).sum(axis=1).astype(np.float64)
        return cos


_SHARED: TitleSimilarity | None = None


def shared_similarity() -> TitleSimilarity:
    """One MiniLM similarity (and its title and item-embedding caches) per process."""
    global _SHARED
    if _SHARED is None:
        _SHARED = TitleSimilarity()
    return _SHARED
