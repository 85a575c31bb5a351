"""The one place that chains the stages; the service and the eval harness both call it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

from cascade.data.dataset import Catalog
from cascade.features.assembly import assemble, context_features
from cascade.features.source import FeatureSource, UserFeatures
from cascade.ranking.discount import Discount
from cascade.ranking.explore import explore_fresh
from cascade.ranking.head import N_SCORE
from cascade.rerank.title.term import shared_similarity
from cascade.retrieval.blend import BlendedRetriever, SourcedCandidates
from cascade.retrieval.intent_source import TitleQuota, item_fit, title_cut
from cascade.types import Candidates, Context, FallbackReason, ItemText, RerankInput, Retriever

if TYPE_CHECKING:
    from cascade.rerank.base import Arm

F32 = npt.NDArray[np.float32]
N_RETRIEVE = 500
N_RANK = 50
N_RECENT = 10


class Ranker(Protocol):
    """Scores assembled feature rows (higher is better)."""

    version: str

    def score(self, features: F32) -> F32: ...


@dataclass
class Ranked:
    """The cascade's output before re-ranking."""

    user: UserFeatures
    retrieved: Candidates
    ranked: Candidates
    scored: Candidates  # the head of `retrieved` the ranker scored (all of it without a head)
    degraded: bool
    timings_ms: dict[str, float] = field(default_factory=dict)


@dataclass
class Recommendation:
    items: list[tuple[ItemText, float]]
    arm: str
    reranker_used: str
    fallback_reason: FallbackReason | None
    degraded: bool
    timings_ms: dict[str, float]
    ranker_order: list[int]
    stats: dict[str, float] = field(default_factory=dict)
    prompt_version: str | None = None


@contextmanager
def _timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    t0 = time.perf_counter()
    try:
        yield
    finally:
        timings[stage] = (time.perf_counter() - t0) * 1000.0


class Pipeline:
    """features -> retrieval -> assembly -> ranking (-> impression discount) -> re-ranking."""

    def __init__(
        self,
        features: FeatureSource,
        retriever: Retriever,
        ranker: Ranker,
        catalog: Catalog,
        n_retrieve: int = N_RETRIEVE,
        n_rank: int = N_RANK,
        discount: Discount | None = None,
        n_score: int | None = N_SCORE,
    ) -> None:
        self.features, self.retriever, self.ranker, self.catalog = features, retriever, ranker, catalog
        self.n_retrieve, self.n_rank, self.n_score = n_retrieve, n_rank, n_score
        self.discount = discount  # items the user was shown and skipped fall (None: off)
        self._texts: list[ItemText] = []  # by catalog row, built once: a request reads about 60

    def title_vector(self, context: Context) -> F32 | None:
        """The playlist title's unit MiniLM embedding; None without a title.

        MiniLM loads on the first title; its per-title cache is shared with the rules' title term.
        """
        title = (context.playlist_title or "").strip()
        return shared_similarity().title_vector(title) if title else None

    def item_text(self, item_id: int) -> ItemText:
        r = self.catalog.row(item_id)
        if r >= len(self._texts):  # first use, or items added at run time
            c = self.catalog
            self._texts += [
                ItemText(int(c.item_ids[j]), c.titles[j], int(c.years[j]), c.genres[j])
                for j in range(len(self._texts), len(c))
            ]
        return self._texts[r]

    def rank(
        self, user_id: int, context: Context, n_rank: int | None = None, quota: TitleQuota | None = None
    ) -> Ranked:
        """The classic cascade: the ranker's top `n_rank` (default 50) for this user and context.

        quota: under a playlist title, the re-ranker that asks for on-theme candidates among them
        (cascade.retrieval.intent_source)."""
        timings: dict[str, float] = {}
        now = context.timestamp if context.timestamp is not None else time.time()
        with _timed(timings, "features_user"):
            user = self.features.user(user_id, context.session_items, now)
        retrieved = self.retrieve(user, context, timings)
        if (
            isinstance(retrieved, SourcedCandidates)
            and retrieved.keep is not None
            and not context.session_items  # a request's own session items: not kept
            and not user.degraded
        ):
            self.features.keep_source(user_id, retrieved.keep)  # the user's next request reads it
        scored = retrieved
        n = n_rank or self.n_rank
        if isinstance(retrieved, SourcedCandidates) and self.n_score is not None:
            scored = retrieved.scored_head(max(self.n_score, n))  # never fewer than the list it ranks
        x, items_degraded = self.features_of(user, scored, context, now, timings)
        with _timed(timings, "ranking"):
            scores = self.ranker.score(x)
            if self.discount is not None:  # identity when nothing was shown (offline: never)
                scores = self.discount.apply(scored.item_ids, scores, user.view.shown, now)
            fit_of = self._title_fit(context, scored, quota)
            top = title_cut(scores, n, quota.title_candidates if quota else 0, fit_of)
            ranked = explore_fresh(Candidates(scored.item_ids[top], scores[top].astype(np.float32)), scored)
        return Ranked(user, retrieved, ranked, scored, user.degraded or items_degraded, timings)

    def _title_fit(
        self, context: Context, retrieved: Candidates, quota: TitleQuota | None
    ) -> Callable[[npt.NDArray[np.int64]], npt.NDArray[np.float64]] | None:
        """Rows -> the title intent's fit with those candidates; None without a title or a quota."""
        title = (context.playlist_title or "").strip()
        weights = quota.genre_weights(title, self.catalog.genre_names) if quota and title else None
        if weights is None:
            return None
        return lambda rows: item_fit(weights, self.catalog, retrieved.item_ids[rows])

    def candidate_features(
        self, user: UserFeatures, context: Context, now: float, timings: dict[str, float]
    ) -> tuple[Candidates, F32, bool]:
        """Retrieve candidates and assemble all of their ranker features (the training rows)."""
        retrieved = self.retrieve(user, context, timings)
        x, degraded = self.features_of(user, retrieved, context, now, timings)
        return retrieved, x, degraded

    def retrieve(self, user: UserFeatures, context: Context, timings: dict[str, float]) -> Candidates:
        """The merged candidates of every source, for the request's title when it has one."""
        title = None
        if context.playlist_title:
            with _timed(timings, "title"):
                title = self.title_vector(context)
        with _timed(timings, "retrieval"):
            return self.retriever.retrieve(user.view, self.n_retrieve, title)

    def features_of(
        self,
        user: UserFeatures,
        candidates: Candidates,
        context: Context,
        now: float,
        timings: dict[str, float],
    ) -> tuple[F32, bool]:
        """The ranker's rows for `candidates`, and whether their features were degraded."""
        with _timed(timings, "features_items"):
            items, degraded = self.features.items(user.view.user_id, candidates.item_ids, now)
        with _timed(timings, "assembly"):
            x = self.assemble(user, candidates, items, context, now)
        return x, degraded

    def assemble(
        self, user: UserFeatures, retrieved: Candidates, items: F32, context: Context, now: float
    ) -> F32:
        recent = [i for i in user.view.session_items if i in self.catalog]
        if recent:
            genres = self.catalog.genre_matrix()
            g = genres[self.catalog.rows(np.asarray(recent, dtype=np.int64))].sum(axis=0)
            session_genres = (g / max(float(g.sum()), 1.0)).astype(np.float32)
        else:
            session_genres = np.zeros(len(self.catalog.genre_names), dtype=np.float32)
        rank = np.arange(len(retrieved), dtype=np.float32)
        collab = title = None
        if isinstance(retrieved, SourcedCandidates) and isinstance(self.retriever, BlendedRetriever):
            rank, collab = retrieved.tt_rank, self.retriever.evidence(retrieved)
            title = self.retriever.title_features(retrieved)
        return assemble(
            user.batch,
            user.session.features(now),
            session_genres,
            items,
            retrieved.scores,
            rank,
            context_features(now, context.device),
            collab,
            title,
        )

    def rerank_input(
        self, user_id: int, ranked: Ranked, context: Context, k: int, deadline: float | None = None
    ) -> RerankInput:
        """What a re-ranker reads: the ranked candidates with text, the recent history, the deadline."""
        cands = tuple(self.item_text(int(i)) for i in ranked.ranked.item_ids)
        history = ranked.user.view.session_items or tuple(reversed(ranked.user.view.history))
        recent = tuple(self.item_text(i) for i in history[:N_RECENT] if i in self.catalog)
        scores = tuple(float(s) for s in ranked.ranked.scores)
        return RerankInput(user_id, context, cands, scores, recent, k, deadline)

    def refresh_source(self, user_id: int, now: float) -> bool:
        """After the user's events: recompute and keep their item-item source; False if the kept one holds."""
        if not isinstance(self.retriever, BlendedRetriever):
            return False
        user = self.features.user(user_id, (), now)
        blob = self.retriever.source_blob(user.view, self.n_retrieve)
        if blob is not None:
            self.features.keep_source(user_id, blob)
        return blob is not None

    def training_rows(
        self, user_id: int, now: float, relevant: npt.NDArray[np.int64], title: str | None = None
    ) -> tuple[F32, F32] | None:
        """The ranker's rows for one user as of `now`, labelled by `relevant`; None without a positive."""
        user = self.features.user(user_id, (), now)
        ctx = Context(playlist_title=title, timestamp=now)
        retrieved, x, _ = self.candidate_features(user, ctx, now, {})
        y = np.isin(retrieved.item_ids, relevant).astype(np.float32)
        return (x, y) if y.sum() > 0 else None

    async def recommend(self, user_id: int, k: int, context: Context, arm: Arm) -> Recommendation:
        """The whole request: cascade, then the arm's re-ranker by the request's deadline."""
        start = time.monotonic()
        quota = arm.reranker if isinstance(arm.reranker, TitleQuota) else None
        ranked = self.rank(user_id, context, quota=quota)
        timings = ranked.timings_ms
        deadline = None if arm.budget_ms is None else start + arm.budget_ms / 1000.0
        inp = self.rerank_input(user_id, ranked, context, k, deadline)
        with _timed(timings, "rerank"):
            out = await arm.reranker.rerank(inp)
        score = {int(i): float(s) for i, s in zip(ranked.ranked.item_ids, ranked.ranked.scores, strict=True)}
        allowed = set(score)
        chosen = [i for i in dict.fromkeys(out.item_ids) if i in allowed][:k]
        if len(chosen) < k:  # a re-ranker returned too few: top up in ranker order
            taken = set(chosen)
            chosen += [i for i in score if i not in taken][: k - len(chosen)]
        timings["total"] = (time.monotonic() - start) * 1000.0
        return Recommendation(
            items=[(self.item_text(i), score[i]) for i in chosen],
            arm=arm.name,
            reranker_used=out.reranker,
            fallback_reason=out.fallback_reason,
            degraded=ranked.degraded,
            timings_ms=timings,
            ranker_order=[int(i) for i in ranked.ranked.item_ids],
            stats=out.stats,
            prompt_version=arm.version,
        )

    def recommend_sync(self, user_id: int, k: int, context: Context, arm: Arm) -> Recommendation:
        return asyncio.run(self.recommend(user_id, k, context, arm))
