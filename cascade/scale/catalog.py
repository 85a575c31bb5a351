"""Synthetic items around a real catalog: each derives from a real "parent" item.

A synthetic item keeps its parent's genres, jitters its year and batch features, and gets a
two-tower vector near its parent's (parent + Gaussian noise, renormalized), so the catalog grows
in the parent's embedding neighbourhoods the way a real catalog's items cluster. Titles are
generated from word lists, so franchise detection sees mostly distinct names.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cascade.data.dataset import Catalog
from cascade.features.registry import ITEM_BATCH, index

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]
VECTOR_NOISE = 0.7  # noise norm relative to the unit parent vector: cosine to the parent about 0.8
_POP, _POP30 = index(ITEM_BATCH, "item_log_pop"), index(ITEM_BATCH, "item_log_pop_30d")
_RATING, _LIKE = index(ITEM_BATCH, "item_mean_rating"), index(ITEM_BATCH, "item_like_rate")
_YEAR = index(ITEM_BATCH, "item_year")

_ADJ: tuple[str, ...] = (
    "Silent", "Crimson", "Hidden", "Broken", "Golden", "Last", "Midnight", "Wild", "Electric",
    "Lonely", "Burning", "Frozen", "Secret", "Endless", "Savage", "Distant", "Bitter", "Velvet",
    "Iron", "Hollow", "Scarlet", "Restless", "Forgotten", "Shattered", "Quiet", "Brave", "Dark",
    "Bright", "Lost", "Sacred", "Violent", "Gentle", "Cold", "Crooked", "Falling", "Rising", "Wicked",
    "Hungry", "Pale", "Blue", "Black", "White", "Red", "Silver", "Little", "Final", "Northern",
    "Southern", "Eastern", "Western", "Strange", "Perfect",
)  # fmt: skip
_NOUN: tuple[str, ...] = (
    "Harbor", "River", "Empire", "Witness", "Garden", "Mirror", "Frontier", "Orchard", "Signal",
    "Kingdom", "Voyage", "Stranger", "Horizon", "Canyon", "Letter", "Promise", "Shadow", "Engine",
    "Lantern", "Citadel", "Island", "Winter", "Summer", "Station", "Circus", "Tide", "Bridge",
    "Forest", "Desert", "Machine", "Prophet", "Hunter", "Dancer", "Soldier", "Thief", "Widow",
    "Doctor", "Sheriff", "Ghost", "Dragon", "Planet", "Comet", "Storm", "Valley", "Crown",
    "Storyteller", "Carnival", "Orbit", "Lighthouse", "Republic",
)  # fmt: skip
_TAIL: tuple[str, ...] = (
    "of Glass", "of the North", "in Paris", "at Dawn", "of Fire", "in the Rain", "of Tomorrow",
    "of Venice", "at Sea", "in Winter", "of the Damned", "of Summer", "in Tokyo", "of Stone",
    "at Midnight", "of the West", "in Berlin", "of Gold", "of Silence", "in Havana", "of the Moon",
    "at the Edge", "of Echoes", "in Lisbon", "of Ashes", "at War", "of Secrets", "in Cairo",
    "of Smoke", "of Wolves", "in Rome", "of Thunder", "of Roses", "in Vienna", "of Salt", "of Bones",
    "in Oslo", "of Steel", "of Dreams", "in Mexico",
)  # fmt: skip


@dataclass(frozen=True)
class SyntheticItems:
    """New items: ids after the real catalog's largest, each with its parent's catalog row."""

    item_ids: I64
    parents: I64
    years: I64
    titles: list[str]

    def __len__(self) -> int:
        return int(self.item_ids.shape[0])


def _titles(n: int, rng: np.random.Generator) -> list[str]:
    a, b, c = (rng.integers(0, len(w), n).tolist() for w in (_ADJ, _NOUN, _TAIL))
    sequel = rng.integers(2, 5, n).tolist()
    is_sequel = (rng.random(n) < 0.03).tolist()  # a few numbered sequels: small franchises
    return [
        f"{_ADJ[i]} {_NOUN[j]} {_TAIL[k]}" + (f" {s}" if q else "")
        for i, j, k, s, q in zip(a, b, c, sequel, is_sequel, strict=True)
    ]


def synthetic_items(base: Catalog, n: int, seed: int) -> SyntheticItems:
    """n items, parents drawn uniformly from the real catalog, years within 3 of the parent's."""
    rng = np.random.default_rng(seed)
    parents = rng.integers(0, len(base), n).astype(np.int64)
    parent_years = base.years[parents]
    jitter = rng.integers(-3, 4, n)
    years = np.where(parent_years > 0, np.clip(parent_years + jitter, 1900, 2030), 0).astype(np.int64)
    first = int(base.item_ids.max()) + 1
    ids = np.arange(first, first + n, dtype=np.int64)
    return SyntheticItems(ids, parents, years, _titles(n, rng))


def extend_catalog(base: Catalog, items: SyntheticItems) -> Catalog:
    """The real catalog followed by the synthetic items (genres shared with their parents)."""
    genres = [base.genres[p] for p in items.parents.tolist()]
    return Catalog(
        np.concatenate([base.item_ids, items.item_ids]),
        [*base.titles, *items.titles],
        np.concatenate([base.years, items.years]),
        [*base.genres, *genres],
        base.genre_names,
    )


def synthetic_features(base_features: F32, items: SyntheticItems, seed: int) -> F32:
    """Item batch rows: the parent's, with a share of its popularity, jittered ratings, own year."""
    rng = np.random.default_rng(seed + 1)
    out = base_features[items.parents].copy()
    share = rng.random(len(items)) ** 2  # most synthetic items are less popular than their parent
    out[:, _POP] = np.log1p(np.expm1(out[:, _POP]) * share)
    out[:, _POP30] = np.log1p(np.expm1(out[:, _POP30]) * share)
    out[:, _RATING] = np.clip(out[:, _RATING] + rng.normal(0.0, 0.3, len(items)), 1.0, 5.0)
    out[:, _LIKE] = np.clip(out[:, _LIKE] + rng.normal(0.0, 0.05, len(items)), 0.0, 1.0)
    out[:, _YEAR] = items.years
    return out.astype(np.float32)


def synthetic_vectors(base_vectors: F32, parents: I64, seed: int, chunk: int = 200_000) -> F32:
    """Unit vectors near each parent's: parent + noise of norm about VECTOR_NOISE, renormalized."""
    rng = np.random.default_rng(seed + 2)
    dim = base_vectors.shape[1]
    out = np.empty((len(parents), dim), dtype=np.float32)
    for s in range(0, len(parents), chunk):
        p = parents[s : s + chunk]
        noise = rng.standard_normal((len(p), dim), dtype=np.float32) * (VECTOR_NOISE / np.sqrt(dim))
        block = base_vectors[p] + noise
        out[s : s + len(p)] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out
