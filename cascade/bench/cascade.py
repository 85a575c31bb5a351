"""`care bench cascade`: per-stage latency of the cascade without the LLM, against the raw floor."""

from __future__ import annotations

import time
from collections import defaultdict

import numpy as np
import numpy.typing as npt

from cascade.bench.timing import pct, print_table
from cascade.features.collab import CollabModel, UserSignals
from cascade.features.online import MemoryStoreConfig, create_store
from cascade.ranking.head import N_SCORE
from cascade.rerank.rules import RulesReranker
from cascade.retrieval.synthetic import scale_rows
from cascade.runtime import load_runtime
from cascade.types import Context

I64 = npt.NDArray[np.int64]
STAGES = (
    "features_user",
    "user_tower",
    "faiss_search",
    "item_item_source",
    "features_items",
    "assembly",
    "xgboost",
    "rules",
)
CASCADE = ("features_user", "retrieval", "features_items", "assembly", "ranking")


RECALL_USERS = 200  # users whose item-item source is compared with the exact one
WARM_UP = 50  # requests run before the timed ones


def exact_source(collab: CollabModel, sig: UserSignals, exclude: I64, n: int) -> I64:
    """What the item-item source would return scoring every item (a full-catalog pass: benches only)."""
    rows = np.arange(len(collab), dtype=np.int64)
    score = collab.source_score(sig, rows)
    score[exclude] = -np.inf
    top = np.argpartition(-score, min(n, len(score) - 1))[:n]
    out: I64 = top[np.isfinite(score[top])]
    return out


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000.0


def run(n: int, synthetic: int, score: int = N_SCORE) -> None:
    """score: candidates the ranker scores (the head, as served); 0: all of them."""
    rt = load_runtime()
    store = rt.feature_store(create_store(MemoryStoreConfig()))
    pipe = rt.online_pipeline(store, n_score=score)
    rules = RulesReranker(catalog=rt.dataset.catalog)
    rng = np.random.default_rng(0)
    users = rng.choice(rt.dataset.users.user_ids, n).tolist()
    stage: dict[str, list[float]] = defaultdict(list)
    floor: dict[str, list[float]] = defaultdict(list)
    ctx = Context(device="mobile")
    source_recall: list[float] = []
    scored: list[int] = []
    recall_cases: list[tuple[UserSignals, I64, I64]] = []
    for u in dict.fromkeys(users):  # untimed: each user's item-item list is then kept, as between two events
        pipe.rank(int(u), ctx)  # (the first request after an event computes it: the item_item_source row)
    warm = min(WARM_UP, n)
    for i, u in enumerate([*users[:warm], *users]):  # the first ones warm up
        t_all = time.perf_counter()
        ranked = pipe.rank(int(u), ctx)
        inp = pipe.rerank_input(int(u), ranked, ctx, 10)
        t0 = time.perf_counter()
        rules.rerank_sync(inp)
        t_rules = _ms(t0)
        total = _ms(t_all)
        # the retrieval stage split in two, and the raw floor on the same user and candidates
        view = ranked.user.view
        t0 = time.perf_counter()
        q = rt.retriever.user_vector(view)
        t_tower = _ms(t0)
        t0 = time.perf_counter()
        rt.retriever.index.search_unseen(q, pipe.n_retrieve, view.excluded())
        t_faiss = _ms(t0)
        t_cf = 0.0
        if rt.collab is not None:  # the item-item source (part of the retrieval stage)
            t0 = time.perf_counter()
            sig = rt.collab.signals(view.history, view.session_items)
            excl = rt.collab.rows(list(view.seen))
            got_cf = rt.collab.source(sig, excl, pipe.n_retrieve)
            t_cf = _ms(t0)
            if i < warm + RECALL_USERS:  # compared after the timed loop: a full-catalog pass here would
                recall_cases.append((sig, excl, got_cf))  # evict the caches the next request runs in
        t0 = time.perf_counter()
        rt.retriever.index.search(q[None, :], pipe.n_retrieve)
        f_faiss = _ms(t0)
        items, _ = pipe.features.items(int(u), ranked.scored.item_ids, time.time())
        x = pipe.assemble(ranked.user, ranked.scored, items, ctx, time.time())
        t0 = time.perf_counter()
        rt.ranker.score(x)  # the served call: XGBoost's in-place prediction
        f_xgb = _ms(t0)
        if i < warm:
            continue
        scored.append(len(ranked.scored))
        t = ranked.timings_ms
        for name, v in (
            ("features_user", t["features_user"]),
            ("user_tower", t_tower),
            ("faiss_search", t_faiss),
            ("item_item_source", t_cf),
            ("features_items", t["features_items"]),
            ("assembly", t["assembly"]),
            ("xgboost", t["ranking"]),
            ("rules", t_rules),
        ):
            stage[name].append(v)
        stage["retrieval+ranking"].append(sum(t[s] for s in CASCADE if s != "features_user"))
        stage["cascade total (no LLM)"].append(total)
        floor["faiss search alone"].append(f_faiss)
        floor["xgboost alone (in-place)"].append(f_xgb)
        floor["floor (sum)"].append(f_faiss + f_xgb)
        floor["floor + item-item source"].append(f_faiss + t_cf + f_xgb)
    for sig, excl, got_cf in recall_cases:
        assert rt.collab is not None  # cases exist only with an item-item source
        exact = exact_source(rt.collab, sig, excl, pipe.n_retrieve)
        source_recall.append(len(np.intersect1d(got_cf, exact)) / max(len(exact), 1))
    rows = [[k, pct(v, 50), pct(v, 99)] for k, v in (*stage.items(), *floor.items())]
    print_table(f"cascade on the embedded path, {n} requests (ms)", ["stage", "p50", "p99"], rows)
    print(
        f"the ranker scored {int(np.median(scored))} of {pipe.n_retrieve} candidates (median; "
        + (f"the head, --score {score})" if score else "all of them, --score 0)")
    )
    ratio = pct(stage["retrieval+ranking"], 50) / pct(floor["floor (sum)"], 50)
    total = pct(stage["cascade total (no LLM)"], 50)
    print(f"retrieval+ranking p50 / raw floor p50 = {ratio:.2f}x (target <= 1.5x)")
    if rt.collab is not None:  # the second source's own scoring is raw compute too, like the FAISS search
        ratio2 = pct(stage["retrieval+ranking"], 50) / pct(floor["floor + item-item source"], 50)
        print(f"retrieval+ranking p50 / (raw floor + item-item source) p50 = {ratio2:.2f}x")
    print(f"whole cascade without the LLM p50 = {total:.2f} ms (target <= 1.2 ms on MovieLens-100k)")
    print(
        "the item-item source and the user's signals are kept with the user (cascade.retrieval.kept_source): "
        "the timed requests read them; the first request after an event computes them, the item_item_source "
        "row more"
    )
    if source_recall:
        print(
            f"item-item source recall@{pipe.n_retrieve} against exact (the same score over all "
            f"{len(rt.collab or ())} items): {np.mean(source_recall):.3f} over {len(source_recall)} users"
        )
    if synthetic > 0:
        sizes = tuple(s for s in (10_000, 100_000, 1_000_000) if s <= synthetic)
        srows = [
            [r.n_items, r.kind, r.params, r.build_s, r.p50_ms, r.p99_ms, r.recall_at_k]
            for r in scale_rows(sizes=sizes, dim=rt.retriever.cfg.dim, structure="clustered")
        ]
        print_table(
            "retrieval on a synthetic catalog (clustered vectors, k=500)",
            ["items", "index", "params", "build s", "p50 ms", "p99 ms", "recall@500 vs exact"],
            srows,
        )
