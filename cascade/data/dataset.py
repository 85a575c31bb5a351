"""In-memory dataset: interactions, catalog and users, keyed by integer ids."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from cascade.data.idrows import IdRows

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float32]

GENRES: tuple[str, ...] = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
    "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
    "War", "Western",
)  # fmt: skip


@dataclass(frozen=True)
class Interactions:
    """Parallel arrays of (user id, item id, rating, unix timestamp)."""

    user: IntArray
    item: IntArray
    rating: FloatArray
    ts: IntArray

    def __len__(self) -> int:
        return int(self.user.shape[0])

    def take(self, mask_or_index: npt.NDArray[np.bool_] | IntArray) -> Interactions:
        return Interactions(
            self.user[mask_or_index],
            self.item[mask_or_index],
            self.rating[mask_or_index],
            self.ts[mask_or_index],
        )

    @staticmethod
    def concat(*parts: Interactions) -> Interactions:
        return Interactions(
            np.concatenate([p.user for p in parts]),
            np.concatenate([p.item for p in parts]),
            np.concatenate([p.rating for p in parts]),
            np.concatenate([p.ts for p in parts]),
        )

    def by_user(self) -> dict[int, IntArray]:
        """Item ids per user, in time order (ties by item id)."""
        return self.by_user_with_time()[0]

    def by_user_with_time(self) -> tuple[dict[int, IntArray], dict[int, IntArray]]:
        """Item ids and their timestamps per user, in time order (ties by item id)."""
        order = np.lexsort((self.item, self.ts, self.user))
        users, items, ts = self.user[order], self.item[order], self.ts[order]
        cuts = np.flatnonzero(np.diff(users)) + 1
        keys = [int(u) for u in users[np.r_[0, cuts]]] if len(users) else []
        return dict(zip(keys, np.split(items, cuts), strict=True)), dict(
            zip(keys, np.split(ts, cuts), strict=True)
        )


@dataclass
class Catalog:
    """Items: title, release year (0 when unknown) and genres, row i describing item_ids[i]."""

    item_ids: IntArray
    titles: list[str]
    years: IntArray
    genres: list[tuple[str, ...]]
    genre_names: tuple[str, ...] = GENRES
    _row: IdRows = field(default_factory=IdRows, repr=False)

    def __post_init__(self) -> None:
        self._row = IdRows(self.item_ids)

    def __len__(self) -> int:
        return int(self.item_ids.shape[0])

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._row

    def row(self, item_id: int) -> int:
        return self._row[item_id]

    def rows(self, item_ids: IntArray) -> IntArray:
        """Rows of catalog items (KeyError naming the first unknown id)."""
        return self._row.all_rows(item_ids)

    def genre_matrix(self) -> FloatArray:
        index = {g: j for j, g in enumerate(self.genre_names)}
        m = np.zeros((len(self), len(self.genre_names)), dtype=np.float32)
        for r, gs in enumerate(self.genres):
            for g in gs:
                m[r, index[g]] = 1.0
        return m

    def add(self, item_id: int, title: str, year: int, genres: tuple[str, ...]) -> int:
        """Append a new item; returns its row."""
        if item_id in self._row:
            raise ValueError(f"item {item_id} already exists")
        unknown = [g for g in genres if g not in self.genre_names]
        if unknown:
            raise ValueError(f"unknown genres {unknown}; known: {list(self.genre_names)}")
        self.item_ids = np.append(self.item_ids, np.int64(item_id))
        self.titles.append(title)
        self.years = np.append(self.years, np.int64(year))
        self.genres.append(tuple(genres))
        return self._row.append(item_id)


@dataclass(frozen=True)
class Users:
    """User demographics, row i describing user_ids[i]."""

    user_ids: IntArray
    age: IntArray
    gender: list[str]
    occupation: list[str]


@dataclass
class Dataset:
    interactions: Interactions
    catalog: Catalog
    users: Users
    source: str = ""

    def fingerprint(self) -> str:
        """A stable hash of the interactions and catalog, for artifact manifests."""
        h = hashlib.sha256()
        for arr in (
            self.interactions.user,
            self.interactions.item,
            self.interactions.ts,
            self.catalog.item_ids,
        ):
            h.update(np.ascontiguousarray(arr).tobytes())
        h.update(np.ascontiguousarray(self.interactions.rating).tobytes())
        h.update("\n".join(self.catalog.titles).encode())
        return h.hexdigest()[:16]
