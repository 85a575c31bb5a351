"""`care bench features`: fetch 1 user + 500 items from each online-store backend."""

from __future__ import annotations

import uuid

import numpy as np

from cascade.bench.timing import pct, print_table, sample_ms
from cascade.data.fetch import load_default
from cascade.features.batch import BatchFeatures
from cascade.features.online import (
    MemoryStoreConfig,
    OnlineStore,
    RedisStoreConfig,
    StoreUnavailable,
    create_store,
)
from cascade.features.online.redis_store import RedisStore
from cascade.features.store import FeatureStore


def _time_backend(store: OnlineStore, fs: FeatureStore, users: np.ndarray, n: int) -> list[float]:
    rng = np.random.default_rng(0)
    items = fs.catalog.item_ids
    queries = [(int(rng.choice(users)), rng.choice(items, 500, replace=False)) for _ in range(64)]
    state = {"i": 0}

    def one() -> None:
        u, it = queries[state["i"] % len(queries)]
        state["i"] += 1
        store.fetch(u, it)

    return sample_ms(one, n)


def run(redis_url: str, n: int) -> None:
    ds = load_default()
    bf = BatchFeatures(ds.interactions, ds.catalog, ds.users)
    as_of = int(ds.interactions.ts.max()) + 1
    rows: list[list[object]] = []
    configs: list[MemoryStoreConfig | RedisStoreConfig] = [
        MemoryStoreConfig(),
        RedisStoreConfig(url=redis_url, prefix=f"care-bench-{uuid.uuid4().hex[:8]}:"),
    ]
    for cfg in configs:
        store = create_store(cfg)
        try:
            fs = FeatureStore(store, ds.catalog, bf.occupations)
            fs.materialize(bf, ds.users.user_ids, as_of)
            ms = _time_backend(store, fs, ds.users.user_ids, n)
            target = 1.0 if cfg.type == "memory" else 2.0
            rows.append(
                [store.name, n, pct(ms, 50), pct(ms, 99), target, "yes" if pct(ms, 50) <= target else "NO"]
            )
        except StoreUnavailable as exc:
            rows.append([cfg.type, 0, "-", "-", "-", f"unavailable: {exc}"])
        finally:
            if isinstance(store, RedisStore):
                store.delete_prefix()
            store.close()
    print_table(
        "feature fetch: 1 user + 500 items (ms)",
        ["backend", "n", "p50", "p99", "target p50", "met"],
        rows,
    )
