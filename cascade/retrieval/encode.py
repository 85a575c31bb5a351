"""Integer and multi-hot encodings of item content and user demographics, shared by training and serving."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from cascade.data.dataset import Catalog
from cascade.data.idrows import IdRows

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float32]

YEAR_EDGES: tuple[int, ...] = (1930, 1940, 1950, 1960, 1970, 1980, 1985, 1990, 1993, 1995, 1996, 1997, 1998)
N_YEAR_BUCKETS = len(YEAR_EDGES) + 2  # 0 = unknown year
AGE_EDGES: tuple[int, ...] = (18, 25, 35, 45, 50, 56)
N_AGE_BUCKETS = len(AGE_EDGES) + 2  # 0 = unknown age
GENDERS: tuple[str, ...] = ("M", "F")
N_GENDERS = len(GENDERS) + 1  # 0 = unknown


def year_bucket(year: int) -> int:
    """0 for an unknown year (0 or negative), else 1 + the number of edges at or below it."""
    return 0 if year <= 0 else 1 + int(np.searchsorted(YEAR_EDGES, year, side="right"))


def age_bucket(age: int | None) -> int:
    """0 for an unknown age, else 1 + the number of edges at or below it."""
    return 0 if age is None or age <= 0 else 1 + int(np.searchsorted(AGE_EDGES, age, side="right"))


def gender_index(gender: str | None) -> int:
    """0 unknown, 1 'M', 2 'F'."""
    return GENDERS.index(gender) + 1 if gender in GENDERS else 0


@dataclass(frozen=True)
class Vocab:
    """Id -> embedding-row lookups; row 0 always means 'absent' (new item, unknown user or value)."""

    item_ids: IntArray  # items with an id embedding, row r+1
    user_ids: IntArray  # users with an id embedding, row r+1
    occupations: tuple[str, ...]
    _items: IdRows = field(init=False, repr=False, compare=False)
    _users: IdRows = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_items", IdRows(self.item_ids))
        object.__setattr__(self, "_users", IdRows(self.user_ids))

    def item_index(self, item_ids: Sequence[int] | IntArray) -> IntArray:
        """Id-embedding rows of items; 0 for items unseen at training."""
        rows: IntArray = self._items.rows(np.asarray(item_ids, dtype=np.int64)) + 1
        return rows

    def user_index(self, user_id: int) -> int:
        return self._users.get(int(user_id)) + 1

    def occupation_index(self, occupation: str | None) -> int:
        return self.occupations.index(occupation) + 1 if occupation in self.occupations else 0


@dataclass(frozen=True)
class ItemContent:
    """Inputs of the item tower for a list of items, row-aligned."""

    id_index: IntArray  # (n,) id-embedding row, 0 for items without one
    genres: FloatArray  # (n, n_genres) multi-hot
    year: IntArray  # (n,) year bucket
    text: FloatArray  # (n, 384) MiniLM title embedding

    def __len__(self) -> int:
        return int(self.year.shape[0])


def genre_multi_hot(genres: Sequence[Sequence[str]], names: Sequence[str]) -> FloatArray:
    """(n, len(names)) multi-hot rows; unknown genre names are ignored."""
    col = {g: j for j, g in enumerate(names)}
    m = np.zeros((len(genres), len(names)), dtype=np.float32)
    for r, gs in enumerate(genres):
        for g in gs:
            if g in col:
                m[r, col[g]] = 1.0
    return m


def catalog_content(catalog: Catalog, text: FloatArray, vocab: Vocab) -> ItemContent:
    """Tower inputs of every catalog row, with precomputed text embeddings in catalog order."""
    years = np.fromiter((year_bucket(int(y)) for y in catalog.years), dtype=np.int64, count=len(catalog))
    genres = genre_multi_hot(catalog.genres, catalog.genre_names)
    return ItemContent(vocab.item_index(catalog.item_ids), genres, years, text.astype(np.float32))
