"""`care bench ranker-fit`: the ranker fitted on the same rows in this process and on an engine, per seed.

The rows are built once, as `care train` builds them, on the artifacts' own train-window two-tower;
each seed's ranker is then fitted by both engines and scored on the test window through the served
models. A ranker's test NDCG@10 moves with its seed (row and column sampling), so the engines are
compared by their mean over seeds, beside the spread of each.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import replace
from typing import Any

import numpy as np

from cascade.bench.timing import print_table
from cascade.cost import StageCosts
from cascade.engine import open_engine
from cascade.engine.base import LOCAL, Engine
from cascade.progress import progress
from cascade.retrieval.retriever import TwoTowerRetriever, catalog_text
from cascade.runtime import Runtime, load_runtime
from cascade.runtime.evaluate import evaluate_test
from cascade.train import RETRIEVER_TRAIN_DIR, SEED, RankerRows, fit_ranker, validation_rows

TARGET = 0.003  # issue 23: the engine's NDCG@10 within this of one process


def _test_ndcg(rt: Runtime, rows: RankerRows, seed: int, engine: Engine, users: list[int]) -> float:
    ranker, _ = fit_ranker(rows, seed, engine)
    served = replace(rt, ranker=ranker)  # the artifacts' models with this ranker
    with progress() as p:
        return evaluate_test(served, users, p)["two_tower+xgb"]["ndcg@10"]


def run(engine_spec: str, seeds: list[int]) -> dict[str, Any]:
    rt = load_runtime()
    ds, split = rt.dataset, rt.split
    tt_val = TwoTowerRetriever.load(rt.artifacts / RETRIEVER_TRAIN_DIR, ds.catalog)
    users = sorted(int(u) for u in np.unique(split.test.user))
    with progress() as p:
        _, rows = validation_rows(
            ds, split, rt.batch, SEED, catalog_text(ds.catalog), p, StageCosts(), tt_val
        )
    engine = open_engine(engine_spec)
    per_seed: list[tuple[int, float, float]] = []
    try:
        for seed in seeds:
            t0 = time.perf_counter()
            here, there = (_test_ndcg(rt, rows, seed, e, users) for e in (LOCAL, engine))
            per_seed.append((seed, here, there))
            print(f"seed {seed}: one process {here:.4f}, {engine_spec} {there:.4f} "
                  f"({time.perf_counter() - t0:.0f} s)", flush=True)  # fmt: skip
    finally:
        engine.close()
    here_all, there_all = [h for _, h, _ in per_seed], [t for _, _, t in per_seed]

    def spread(v: list[float]) -> str:
        sd = statistics.stdev(v) if len(v) > 1 else 0.0
        return f"{statistics.mean(v):.4f} +- {sd:.4f} ({min(v):.4f}-{max(v):.4f})"

    rows_out = [[s, f"{h:.4f}", f"{t:.4f}", f"{t - h:+.4f}"] for s, h, t in per_seed]
    rows_out.append(["mean +- sd (range)", spread(here_all), spread(there_all), ""])
    print_table(
        f"test NDCG@10 of the ranker fitted on the same rows, {len(users)} test users",
        ["seed", "one process", engine_spec, "difference"],
        rows_out,
    )
    gap = statistics.mean(here_all) - statistics.mean(there_all)
    met = "met" if gap <= TARGET else "missed"
    print(f"one process minus {engine_spec}, mean over {len(seeds)} seeds: {gap:+.4f} "
          f"(target <= {TARGET}: {met})")  # fmt: skip
    return {"engine": engine_spec, "per_seed": per_seed, "mean_gap": gap}
