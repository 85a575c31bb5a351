"""`care bench cascade --against DIR`: two trained catalogs timed in one process, in alternating blocks.

Two benches run one after the other see different machines whenever anything else shares the cores:
on 2 cores with another job, back-to-back pairs of runs gave 50k-to-MovieLens ratios from 0.73x to
1.47x. Here both runtimes are loaded side by side and timed in alternating blocks of requests (each
block keeps its own catalog's caches warm, as a serving process would), so drift hits both alike.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cascade.bench.timing import pct, print_table
from cascade.features.online import MemoryStoreConfig, create_store
from cascade.pipeline import Pipeline
from cascade.rerank.rules import RulesReranker
from cascade.runtime import load_runtime
from cascade.types import Context

CTX = Context(device="mobile")


@dataclass
class Side:
    """One catalog's serving pipeline, its rules re-ranker and the users it is asked for."""

    name: str
    pipe: Pipeline
    rules: RulesReranker
    users: list[int]
    ms: list[list[float]]  # per round

    @classmethod
    def load(cls, name: str, folder: Path | None, n: int, rounds: int) -> Side:
        rt = load_runtime(folder)
        pipe = rt.online_pipeline(rt.feature_store(create_store(MemoryStoreConfig())))
        users = np.random.default_rng(0).choice(rt.dataset.users.user_ids, n).tolist()
        side = cls(name, pipe, RulesReranker(catalog=rt.dataset.catalog), users, [[] for _ in range(rounds)])
        for u in dict.fromkeys(users):  # untimed: each user's item-item list is then kept (as in `cascade`)
            side.request(int(u))
        return side

    def request(self, user: int) -> float:
        """Milliseconds of one request: the cascade and the rules re-ranker, as `cascade` times it."""
        t0 = time.perf_counter()
        ranked = self.pipe.rank(user, CTX)
        self.rules.rerank_sync(self.pipe.rerank_input(user, ranked, CTX, 10))
        return (time.perf_counter() - t0) * 1000.0


def run(against: Path, n: int, rounds: int = 3, block: int = 25) -> list[float]:
    """Print each round's p50 on both catalogs and their ratio (against / default); return the ratios."""
    base = Side.load("default artifacts", None, n, rounds)
    other = Side.load(str(against), against, n, rounds)
    for r in range(rounds):
        for start in range(0, n, block):
            for side in (base, other) if (start // block) % 2 == 0 else (other, base):
                side.ms[r].extend(side.request(int(u)) for u in side.users[start : start + block])
    ratios = [pct(other.ms[r], 50) / pct(base.ms[r], 50) for r in range(rounds)]
    rows = [[r + 1, pct(base.ms[r], 50), pct(other.ms[r], 50), ratios[r]] for r in range(rounds)]
    print_table(
        f"the cascade on two catalogs, {n} requests each per round, alternating blocks of {block} (ms)",
        [
            "round",
            f"p50 default ({len(base.pipe.catalog)} items)",
            f"p50 against ({len(other.pipe.catalog)} items)",
            "ratio",
        ],
        rows,
    )
    print(
        f"p50 ratio against / default: median {float(np.median(ratios)):.2f}x "
        f"(range {min(ratios):.2f}-{max(ratios):.2f}) over {rounds} rounds"
    )
    return ratios
