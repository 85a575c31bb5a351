"""Batch features, point in time: a row as of time t sees only events with timestamp < t."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from cascade.data.dataset import Catalog, Interactions, Users
from cascade.features.registry import DAY, ITEM_BATCH, USER_BATCH, defaults

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]
_SHIFT = np.int64(1) << np.int64(33)  # key * 2**33 + ts orders events by (key, ts); ts < 2**33


class EventIndex:
    """Events grouped by a key and sorted by time, answering as-of aggregates by binary search."""

    def __init__(self, keys: I64, inter: Interactions, extra: F32 | None = None) -> None:
        order = np.lexsort((inter.ts, keys))
        self.composite = keys[order] * _SHIFT + inter.ts[order]
        self.ts = inter.ts[order]
        self.items = inter.item[order]
        r = inter.rating[order].astype(np.float64)
        self.cum_r = np.r_[0.0, np.cumsum(r)]
        self.cum_r2 = np.r_[0.0, np.cumsum(r * r)]
        self.cum_like = np.r_[0.0, np.cumsum(r >= 4.0)]
        self.cum_extra = (
            None if extra is None else np.vstack([np.zeros((1, extra.shape[1])), np.cumsum(extra[order], 0)])
        )

    def bounds(self, keys: I64, as_of: I64) -> tuple[I64, I64]:
        """[lo, hi) positions of each key's events with ts < as_of."""
        lo = np.searchsorted(self.composite, keys * _SHIFT, side="left")
        hi = np.searchsorted(self.composite, keys * _SHIFT + as_of, side="left")
        return lo.astype(np.int64), hi.astype(np.int64)

    def count_since(self, keys: I64, since: I64, as_of: I64) -> I64:
        lo = np.searchsorted(self.composite, keys * _SHIFT + np.maximum(since, 0), side="left")
        hi = np.searchsorted(self.composite, keys * _SHIFT + as_of, side="left")
        return (hi - lo).astype(np.int64)


def cold_item_features(year: int, genre_row: F32) -> F32:
    """Batch features of an item nobody has interacted with yet."""
    out = np.asarray(defaults(ITEM_BATCH), dtype=np.float32)
    out[6] = year
    out[7:] = genre_row
    return out


def occupation_vocab(users: Users) -> list[str]:
    """Occupation codes used by the user_occupation feature."""
    return sorted(set(users.occupation))


def _safe_div(
    a: npt.NDArray[np.float64], b: npt.NDArray[np.float64], default: float
) -> npt.NDArray[np.float64]:
    out = np.full_like(a, default, dtype=np.float64)
    np.divide(a, b, out=out, where=b > 0)
    return out


class BatchFeatures:
    """Computes the user and item batch blocks of the registry from an event log, as of given times."""

    def __init__(self, events: Interactions, catalog: Catalog, users: Users) -> None:
        self.catalog, self.users = catalog, users
        rows, genre = catalog.rows(events.item), catalog.genre_matrix()
        years = catalog.years[rows].astype(np.float32)
        extra = np.hstack([genre[rows], (years > 0)[:, None], years[:, None]]).astype(np.float32)
        self.by_item = EventIndex(events.item, events)
        self.by_user = EventIndex(events.user, events, extra)
        self._user_row = {int(u): r for r, u in enumerate(users.user_ids)}
        self.occupations = occupation_vocab(users)
        self.occupation_code = {o: float(i) for i, o in enumerate(self.occupations)}

    def items(self, item_ids: I64, as_of: I64) -> F32:
        """Item block (n, len(ITEM_BATCH)) for each (item, as_of) pair."""
        ix = self.by_item
        lo, hi = ix.bounds(item_ids, as_of)
        n = (hi - lo).astype(np.float64)
        s = ix.cum_r[hi] - ix.cum_r[lo]
        likes = ix.cum_like[hi] - ix.cum_like[lo]
        n30 = ix.count_since(item_ids, as_of - 30 * DAY, as_of).astype(np.float64)
        has = hi > lo
        first = np.where(has, ix.ts[np.minimum(lo, len(ix.ts) - 1)], as_of)
        last = np.where(has, ix.ts[np.maximum(hi - 1, 0)], as_of)
        rows = self.catalog.rows(item_ids)
        out = np.empty((len(item_ids), len(ITEM_BATCH)), dtype=np.float32)
        out[:, 0] = np.log1p(n)
        out[:, 1] = np.log1p(n30)
        out[:, 2] = _safe_div(s, n, 3.5)
        out[:, 3] = _safe_div(likes, n, 0.5)
        out[:, 4] = np.where(has, (as_of - first) / DAY, -1.0)
        out[:, 5] = np.where(has, (as_of - last) / DAY, -1.0)
        out[:, 6] = self.catalog.years[rows]
        out[:, 7:] = self.catalog.genre_matrix()[rows]
        return out

    def users_block(self, user_ids: I64, as_of: I64) -> F32:
        """User block (n, len(USER_BATCH)) for each (user, as_of) pair; unknown users get defaults."""
        ix = self.by_user
        assert ix.cum_extra is not None
        lo, hi = ix.bounds(user_ids, as_of)
        n = (hi - lo).astype(np.float64)
        s, s2 = ix.cum_r[hi] - ix.cum_r[lo], ix.cum_r2[hi] - ix.cum_r2[lo]
        extra = ix.cum_extra[hi] - ix.cum_extra[lo]
        n_genres = len(self.catalog.genre_names)
        genre_counts, n_year, sum_year = extra[:, :n_genres], extra[:, n_genres], extra[:, n_genres + 1]
        has = hi > lo
        first = np.where(has, ix.ts[np.minimum(lo, len(ix.ts) - 1)], as_of)
        last = np.where(has, ix.ts[np.maximum(hi - 1, 0)], as_of)
        mean = _safe_div(s, n, 3.5)
        var = np.maximum(_safe_div(s2, n, 1.0) - np.where(n > 0, mean * mean, 0.0), 0.0)
        out = np.tile(np.asarray(defaults(USER_BATCH), dtype=np.float32), (len(user_ids), 1))
        out[:, 0] = np.log1p(n)
        out[:, 1] = mean
        out[:, 2] = np.where(n > 1, np.sqrt(var), 1.0)
        out[:, 3] = np.where(has, (as_of - first) / DAY, 0.0)
        out[:, 4] = np.where(has, (as_of - last) / DAY, -1.0)
        out[:, 5] = _safe_div(sum_year, n_year, 1990.0)
        out[:, 6] = self._mean_item_pop(lo, hi, as_of)
        for r, u in enumerate(user_ids.tolist()):
            row = self._user_row.get(u)
            if row is not None:
                out[r, 7] = self.users.age[row]
                out[r, 8] = 1.0 if self.users.gender[row] == "M" else 0.0
                out[r, 9] = self.occupation_code.get(self.users.occupation[row], -1.0)
        total = genre_counts.sum(axis=1, keepdims=True)
        out[:, 10:] = np.divide(genre_counts, total, out=np.zeros_like(genre_counts), where=total > 0)
        return out

    def _mean_item_pop(self, lo: I64, hi: I64, as_of: I64) -> npt.NDArray[np.float64]:
        """Mean log1p popularity (as of the user's as-of time) of the items the user consumed."""
        lengths = hi - lo
        if lengths.sum() == 0:
            return np.zeros(len(lo))
        pos = np.concatenate([np.arange(a, b) for a, b in zip(lo.tolist(), hi.tolist(), strict=True)])
        owner = np.repeat(np.arange(len(lo)), lengths)
        items = self.by_user.items[pos]
        ilo, ihi = self.by_item.bounds(items, as_of[owner])
        pops = np.log1p(ihi - ilo)
        sums = np.bincount(owner, weights=pops, minlength=len(lo))
        return _safe_div(sums.astype(np.float64), lengths.astype(np.float64), 0.0)

    def history(self, user_id: int, as_of: int) -> I64:
        """The user's item ids before as_of, oldest first."""
        lo, hi = self.by_user.bounds(np.asarray([user_id]), np.asarray([as_of]))
        return self.by_user.items[int(lo[0]) : int(hi[0])]
