"""Rule re-ranker: greedy MMR over item similarity with franchise/genre caps and a recent-release slot."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cascade.data.dataset import GENRES
from cascade.rerank.franchise import FranchiseIndex, catalog_index
from cascade.types import ItemText, RerankInput, RerankOutput

if TYPE_CHECKING:
    from cascade.data.dataset import Catalog

DEFAULT_CONFIG = Path(__file__).with_name("rules.yaml")

FloatArray = npt.NDArray[np.float64]
SimilarityFn = Callable[[int, int], float]
ItemVectors = Mapping[int, npt.NDArray[np.floating]]


class PromoteRecent(BaseModel):
    """Promote one recent release into the top k when none is there."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    within_years: int = Field(default=1, ge=0)
    reference_year: int | None = None
    position: int | None = Field(default=None, ge=1)


class RulesConfig(BaseModel):
    """Settings of the rule re-ranker (see rules.yaml)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mmr_lambda: float = Field(default=0.7, ge=0.0, le=1.0)
    similarity: Literal["genre", "embedding"] = "genre"
    max_per_franchise: int | None = Field(default=2, ge=1)
    max_per_primary_genre: int | None = Field(default=4, ge=1)
    promote_recent_release: PromoteRecent = Field(default_factory=PromoteRecent)


class RulesConfigError(ValueError):
    """A rules config file that cannot be read or does not validate."""


def load_config(path: Path | str = DEFAULT_CONFIG) -> RulesConfig:
    """Read and validate a rules config; errors name the file."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise RulesConfigError(f"{path}: cannot read rules config: {exc}") from exc
    try:
        return RulesConfig.model_validate(raw if raw is not None else {})
    except ValidationError as exc:
        raise RulesConfigError(f"{path}: invalid rules config: {exc}") from exc


@dataclass(frozen=True, slots=True)
class _Item:
    """What the rules need of one item, computed once per item id."""

    franchise: int  # -1: none
    primary: int  # -1: no genre
    year: int
    genre_row: int  # row in the reranker's genre table


class RulesReranker:
    """Deterministic diversity and business rules; also the LLM stage's fallback."""

    name = "rules"

    def __init__(
        self,
        config: RulesConfig | None = None,
        *,
        catalog: Catalog | None = None,
        item_vectors: ItemVectors | SimilarityFn | None = None,
    ) -> None:
        self.config = config if config is not None else RulesConfig()
        if self.config.similarity == "embedding" and item_vectors is None:
            raise ValueError("similarity 'embedding' needs item_vectors (a mapping or a callable)")
        self._vectors = item_vectors if self.config.similarity == "embedding" else None
        self._franchises = catalog_index(catalog) if catalog is not None else FranchiseIndex()
        self._newest_year = int(catalog.years.max()) if catalog is not None and len(catalog) else None
        self._genre_ids: dict[str, int] = {g: j for j, g in enumerate(GENRES)}
        self._genre_rows: dict[tuple[str, ...], int] = {}
        self._genre_table = np.zeros((0, len(GENRES)), dtype=np.float64)
        self._items: dict[int, _Item] = {}

    @classmethod
    def from_yaml(
        cls,
        path: Path | str = DEFAULT_CONFIG,
        *,
        catalog: Catalog | None = None,
        item_vectors: ItemVectors | SimilarityFn | None = None,
    ) -> RulesReranker:
        """A reranker configured from a YAML file."""
        return cls(load_config(path), catalog=catalog, item_vectors=item_vectors)

    def with_mmr_lambda(self, mmr_lambda: float | None) -> RulesReranker:
        """These rules with another MMR lambda (self when None or equal); catalog data shared."""
        if mmr_lambda is None or mmr_lambda == self.config.mmr_lambda:
            return self
        twin = RulesReranker(
            self.config.model_copy(update={"mmr_lambda": mmr_lambda}), item_vectors=self._vectors
        )
        twin._franchises, twin._newest_year = self._franchises, self._newest_year
        return twin

    async def rerank(self, inp: RerankInput) -> RerankOutput:
        """The Protocol's entry point; the rules never wait, so this is rerank_sync."""
        return self.rerank_sync(inp)

    def rerank_sync(
        self, inp: RerankInput, *, uncapped: frozenset[str] = frozenset(), keep: int = 0
    ) -> RerankOutput:
        """A full permutation of the candidates: the top k obeys the rules, the rest keeps ranker order.

        uncapped: primary genres exempt from the primary-genre cap (the genres a playlist title asks
        for). keep: at least this many of the input's first k stay in the top k (a title may replace
        the rest); both default to the plain rules.
        """
        t0 = time.perf_counter()
        cands = inp.candidates
        n = len(cands)
        k = max(0, min(inp.k, n))
        items = [self._item(c) for c in cands]
        exempt = {self._genre_ids[g] for g in uncapped if g in self._genre_ids}
        top, fallbacks = self._select(inp, items, k, exempt, min(keep, k))
        promoted = self._promote(items, top) if self.config.promote_recent_release.enabled and k else False
        in_top = set(top)
        order = top + [i for i in range(n) if i not in in_top]
        stats = {
            "cap_fallbacks": float(fallbacks),
            "promoted": float(promoted),
            "moved_in_top_k": float(sum(1 for p, i in enumerate(top) if p != i)),
            "elapsed_ms": (time.perf_counter() - t0) * 1e3,
        }
        return RerankOutput([cands[i].item_id for i in order], reranker=self.name, stats=stats)

    def _item(self, c: ItemText) -> _Item:
        """The cached rule features of one item."""
        hit = self._items.get(c.item_id)
        if hit is not None:
            return hit
        key = self._franchises.key(c.title)
        franchise = self._franchises.group_id(c.title) if key else -1
        primary = self._genre_id(c.genres[0]) if c.genres else -1
        item = _Item(franchise, primary, int(c.year), self._genre_row(c.genres))
        self._items[c.item_id] = item
        return item

    def _genre_id(self, genre: str) -> int:
        """Column of a genre, growing the vocabulary for genres added at run time."""
        j = self._genre_ids.get(genre)
        if j is None:
            j = self._genre_ids[genre] = len(self._genre_ids)
            pad = np.zeros((self._genre_table.shape[0], 1), dtype=np.float64)
            self._genre_table = np.hstack([self._genre_table, pad])
        return j

    def _genre_row(self, genres: tuple[str, ...]) -> int:
        """Row of a genre set in the genre table (shared by items with the same genres)."""
        row = self._genre_rows.get(genres)
        if row is None:
            cols = [self._genre_id(g) for g in genres]  # may widen the table first
            vec = np.zeros((1, self._genre_table.shape[1]), dtype=np.float64)
            vec[0, cols] = 1.0
            row = self._genre_rows[genres] = self._genre_table.shape[0]
            self._genre_table = np.vstack([self._genre_table, vec])
        return row

    def _relevance(self, inp: RerankInput, n: int) -> FloatArray:
        """Ranker scores min-max normalised to [0, 1]; by position when scores are missing or invalid."""
        s = np.asarray(inp.scores[:n], dtype=np.float64)
        if s.shape[0] != n or not np.isfinite(s).all():
            return 1.0 - np.arange(n, dtype=np.float64) / max(n - 1, 1)
        lo, hi = s.min(initial=0.0), s.max(initial=0.0)
        return (s - lo) / (hi - lo) if hi > lo else np.zeros(n)

    def _similarity(self, cands: tuple[ItemText, ...], items: list[_Item]) -> Callable[[int], FloatArray]:
        """Row i of the candidates' similarity matrix, as a function."""
        vectors = self._vectors
        if callable(vectors):
            fn = vectors
            ids = [c.item_id for c in cands]
            return lambda i: np.fromiter((fn(ids[i], b) for b in ids), dtype=np.float64, count=len(ids))
        if vectors is not None:
            dim = len(next(iter(vectors.values()))) if vectors else 0
            zero = np.zeros(dim)
            v = np.stack([np.asarray(vectors.get(c.item_id, zero), dtype=np.float64) for c in cands])
            v /= np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
            cos = v @ v.T
            return lambda i: cos[i]
        g = self._genre_table[[it.genre_row for it in items]]
        inter = g @ g.T
        size = g.sum(axis=1)
        jac = inter / np.maximum(size[:, None] + size[None, :] - inter, 1.0)
        return lambda i: jac[i]

    def _select(
        self, inp: RerankInput, items: list[_Item], k: int, exempt: set[int] | None = None, keep: int = 0
    ) -> tuple[list[int], int]:
        """Greedy MMR under the caps: (positions of the top k, slots filled in ranker order).

        exempt: primary-genre ids the primary cap skips; keep: positions past k are a group capped at
        k - keep (so at least `keep` of the first k are chosen whenever the other caps allow).
        """
        n = len(items)
        if k == 0:
            return [], 0
        cfg = self.config
        lam = cfg.mmr_lambda
        rel = self._relevance(inp, n)
        sim_row = self._similarity(inp.candidates, items) if lam < 1.0 else None
        fr = np.fromiter((it.franchise for it in items), dtype=np.int64, count=n)
        pg = np.fromiter((it.primary for it in items), dtype=np.int64, count=n)
        if exempt:
            pg = np.where(np.isin(pg, list(exempt)), -1, pg)
        outside = np.where(np.arange(n) >= k, 0, -1) if keep > 0 else np.full(n, -1)
        caps = (
            (fr, cfg.max_per_franchise),
            (pg, cfg.max_per_primary_genre),
            (outside, k - keep if keep > 0 else None),
        )
        counts: tuple[dict[int, int], ...] = ({}, {}, {})
        max_sim = np.zeros(n)
        open_ = np.ones(n, dtype=bool) if keep < k else outside < 0  # not chosen, not blocked by a cap
        remaining = np.ones(n, dtype=bool)
        top: list[int] = []
        fallbacks = 0
        for _ in range(k):
            score = rel if sim_row is None else lam * rel - (1.0 - lam) * max_sim
            if open_.any():
                i = int(np.argmax(np.where(open_, score, -np.inf)))  # ties: earliest ranker position
            else:
                i = int(np.argmax(remaining))  # caps cannot be met: ranker order
                fallbacks += 1
            top.append(i)
            remaining[i] = open_[i] = False
            for (group, cap), count in zip(caps, counts, strict=True):
                g = int(group[i])
                if cap is None or g < 0:
                    continue
                count[g] = count.get(g, 0) + 1
                if count[g] >= cap:
                    open_ &= group != g
            if sim_row is not None:
                np.maximum(max_sim, sim_row(i), out=max_sim)
        return top, fallbacks

    def _promote(self, items: list[_Item], top: list[int]) -> bool:
        """Put the best recent release into the top k (in place) when none is there; True if moved."""
        promo = self.config.promote_recent_release
        years = [it.year for it in items]
        ref = promo.reference_year or self._newest_year or max(years, default=0)

        def recent(i: int) -> bool:
            return years[i] > 0 and ref - years[i] <= promo.within_years

        if any(recent(i) for i in top):
            return False
        kept = top[:-1]
        chosen = set(top)
        for j in range(len(items)):
            if j in chosen or not recent(j) or not self._fits(items, kept, j):
                continue
            slot = min(promo.position or len(top), len(top)) - 1
            top[:] = [*kept[:slot], j, *kept[slot:]]
            return True
        return False

    def _fits(self, items: list[_Item], kept: list[int], j: int) -> bool:
        """Whether adding item j to the kept items keeps its franchise and genre within the caps."""
        cfg = self.config
        f, p = items[j].franchise, items[j].primary
        cap_f = cfg.max_per_franchise
        if cap_f is not None and f >= 0 and sum(1 for i in kept if items[i].franchise == f) >= cap_f:
            return False
        if cfg.max_per_primary_genre is not None and p >= 0:
            return sum(1 for i in kept if items[i].primary == p) < cfg.max_per_primary_genre
        return True
