"""Test-window metrics of a trained Runtime: popularity, two-tower, + XGBoost, + rules, retrieval recall."""

from __future__ import annotations

import numpy as np
from rich.progress import Progress

from cascade.metrics import accuracy
from cascade.progress import progress_over
from cascade.ranking.titles import intent_title
from cascade.rerank.rules import RulesReranker
from cascade.retrieval.blend import SourcedCandidates
from cascade.retrieval.evaluate import evaluate_popularity
from cascade.runtime.model import Runtime, window_start
from cascade.types import Context

K = 10


def evaluate_test(runtime: Runtime, users: list[int], p: Progress) -> dict[str, dict[str, float]]:
    """Test-window metrics of popularity, two-tower alone, + XGBoost, + rules, and retrieval recall@500.

    "+intent_title" is the ranker under a title phrased from the user's own test items (no noise):
    what a title that states the intent exactly is worth.
    """
    pipeline = runtime.offline_pipeline("test")
    relevant = runtime.split.test.by_user()
    as_of = window_start(runtime.split.test)
    catalog = runtime.dataset.catalog
    rules = RulesReranker(catalog=catalog)
    arms = ("two_tower", "two_tower+xgb", "+rules", "+intent_title")
    sums: dict[str, dict[str, float]] = {a: {} for a in arms}
    recall = {"recall@500": 0.0, "two_tower_recall@500": 0.0, "collab_recall@500": 0.0}
    for u in progress_over(p, "test-window metrics", users):
        rel = set(relevant[u].tolist())
        now = float(as_of[u])
        ranked = pipeline.rank(u, Context(timestamp=now))
        inp = pipeline.rerank_input(u, ranked, Context(), K)
        got = ranked.retrieved
        tt_rank = got.tt_rank if isinstance(got, SourcedCandidates) else np.arange(len(got))
        cf_rank = got.collab_rank if isinstance(got, SourcedCandidates) else np.full(len(got), len(got))
        by_tt = got.item_ids[np.argsort(tt_rank, kind="stable")]
        title = intent_title(rel, catalog, np.random.default_rng(u), noisy=False)
        titled = pipeline.rank(u, Context(playlist_title=title, timestamp=now)) if title else ranked
        lists = {
            "two_tower": by_tt[:K].tolist(),
            "two_tower+xgb": ranked.ranked.item_ids[:K].tolist(),
            "+rules": rules.rerank_sync(inp).item_ids[:K],
            "+intent_title": titled.ranked.item_ids[:K].tolist(),
        }
        for arm, items in lists.items():
            for name, v in accuracy(items, rel, K).items():
                sums[arm][name] = sums[arm].get(name, 0.0) + v
        n = len(got)
        for key, items in (
            ("recall@500", got.item_ids),
            ("two_tower_recall@500", got.item_ids[tt_rank < n]),
            ("collab_recall@500", got.item_ids[cf_rank < n]),
        ):
            recall[key] += len(rel & set(items.tolist())) / len(rel)
    out = {arm: {k: v / len(users) for k, v in m.items()} for arm, m in sums.items()}
    pop = evaluate_popularity(runtime.split, runtime.dataset.catalog.item_ids, "test")
    out = {"popularity": {k: v for k, v in pop.items() if k.endswith(f"@{K}")}, **out}
    out["retrieval"] = {k: v / len(users) for k, v in recall.items()}
    return out
