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
    """Items: title, release year (0 when unknown) and genres, row i describing item_ids[i].

    `version` counts the items added since load: every structure derived per catalog row (genre rows,
    franchise groups, title caches) keys on it, so "the catalog changed" is decided here alone.
    """

    item_ids: IntArray
    titles: list[str]
    years: IntArray
    genres: list[tuple[str, ...]]
    genre_names: tuple[str, ...] = GENRES
    _row: IdRows = field(default_factory=IdRows, repr=False)
    version: int = field(default=0, init=False)
    _genre_m: FloatArray | None = field(default=None, init=False, repr=False)
    _primary: IntArray | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self._row = IdRows(self.item_ids)

    def __len__(self) -> int:
        return int(self.item_ids.shape[0])

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._row

    def row(self, item_id: int) -> int:
        return self._row[item_id]

    def known(self, item_ids: IntArray) -> IntArray:
        """The ids this catalog has, in order (ids another process added and this one has not synced drop)."""
        return item_ids[self._row.rows(item_ids) >= 0]

    def rows(self, item_ids: IntArray) -> IntArray:
        """Rows of catalog items (KeyError naming the first unknown id)."""
        return self._row.all_rows(item_ids)

    def genre_matrix(self) -> FloatArray:
        """(n_items, n_genres) multi-hot rows, built once and grown with the catalog (read-only)."""
        m = self._genre_m
        if m is None or len(m) < len(self):
            start = 0 if m is None else len(m)
            grown = np.zeros((len(self), len(self.genre_names)), dtype=np.float32)
            if m is not None:
                grown[:start] = m
            index = {g: j for j, g in enumerate(self.genre_names)}
            for r in range(start, len(self)):
                for g in self.genres[r]:
                    grown[r, index[g]] = 1.0
            grown.flags.writeable = False
            self._genre_m = m = grown
        return m

    def primary_genres(self, item_ids: IntArray) -> IntArray:
        """Index of each item's first genre ("unknown", 0, for an item without one); grown like the rows."""
        p = self._primary
        if p is None or len(p) < len(self):
            start = 0 if p is None else len(p)
            new = [self.genre_names.index(gs[0]) if gs else 0 for gs in self.genres[start:]]
            p = np.concatenate([p if p is not None else np.empty(0, np.int64), np.asarray(new, np.int64)])
            self._primary = p
        return p[self.rows(item_ids)]

    def primary_genre(self, item_id: int) -> int:
        return int(self.primary_genres(np.asarray([item_id], dtype=np.int64))[0])

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
        row = self._row.append(item_id)
        self.version += 1
        return row


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
