"""`care bench collab`: the collaborative block's settings compared on the trained artifacts' two-towers.

Per configuration: the collaborative model refit on train (the ranker's rows) and on train +
validation (the test window), the ranker retrained, then test-window NDCG@10 and recall@500 over
every test user. The two-towers are the artifacts' own (`retriever_train/` and `retriever/`), so
the rows differ only by the block's settings and the ranker's seed.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, replace
from typing import Any

import numpy as np

from cascade.cost import StageCosts
from cascade.features.collab import CollabConfig, CollabModel
from cascade.progress import progress
from cascade.retrieval.retriever import TwoTowerRetriever, catalog_text
from cascade.runtime import load_runtime
from cascade.runtime.evaluate import evaluate_test
from cascade.train import RETRIEVER_TRAIN_DIR, fit_ranker, validation_rows


def parse(config: str) -> tuple[CollabConfig, int]:
    """A JSON object of CollabConfig fields, plus an optional "seed" (the ranker's; default 7)."""
    try:
        raw: dict[str, Any] = json.loads(config)
    except json.JSONDecodeError as e:
        raise ValueError(f"{config!r}: not JSON ({e.msg})") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{config!r}: expected a JSON object")
    seed = int(raw.pop("seed", 7))
    known = set(asdict(CollabConfig()))
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ValueError(f"{config!r}: unknown fields {unknown}; known: {sorted(known)}")
    return replace(CollabConfig(), **raw), seed


def run(configs: list[str]) -> list[dict[str, Any]]:
    parsed = [parse(c) for c in configs]
    rt = load_runtime()
    ds, split = rt.dataset, rt.split
    tt_val = TwoTowerRetriever.load(rt.artifacts / RETRIEVER_TRAIN_DIR, ds.catalog)
    text = catalog_text(ds.catalog)
    users = sorted(int(u) for u in np.unique(split.test.user))
    out = []
    for (cfg, seed), label in zip(parsed, configs, strict=True):
        t0 = time.perf_counter()
        with progress() as p:
            _, rows = validation_rows(
                ds, split, rt.batch, seed, text, p, StageCosts(), tt_val, collab_cfg=cfg
            )
            ranker, _ = fit_ranker(rows, seed)
            collab = CollabModel.fit(split.history_before("test"), ds.catalog, cfg, seed)
            served = replace(rt, ranker=ranker, collab=collab)
            m = evaluate_test(served, users, p)
        row = {
            "config": label,
            "ndcg@10": m["two_tower+xgb"]["ndcg@10"],
            "recall@500": m["retrieval"]["recall@500"],
            "collab_recall@500": m["retrieval"]["collab_recall@500"],
            "seconds": time.perf_counter() - t0,
        }
        out.append(row)
        print(
            f"{label:60s} NDCG@10 {row['ndcg@10']:.4f}  recall@500 {row['recall@500']:.4f}  "
            f"item-item recall@500 {row['collab_recall@500']:.4f}  ({row['seconds']:.0f} s)",
            flush=True,
        )
    return out
