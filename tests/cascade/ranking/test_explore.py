"""The exploration slot: a fresh item that fits the user's taste reaches the top 10; nothing else moves."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cascade.features.online import MemoryStoreConfig, create_store
from cascade.ranking.explore import FRESH_SLOT
from cascade.runtime import load_runtime
from cascade.types import Context


def test_a_new_sci_fi_item_reaches_a_sci_fi_fan_but_not_everyone(trained_artifacts: Path) -> None:
    rt = load_runtime(trained_artifacts)  # a private runtime: add_item changes its catalog
    store = rt.feature_store(create_store(MemoryStoreConfig()))
    pipe = rt.online_pipeline(store)
    catalog = rt.dataset.catalog
    sci = catalog.genre_names.index("Sci-Fi")
    genres = catalog.genre_matrix()
    hist = rt.split.history_before("test").by_user()
    share = {u: float(genres[catalog.rows(h), sci].mean()) for u, h in hist.items()}
    fan = max(share, key=lambda u: (share[u], len(hist[u])))
    before = pipe.rank(fan, Context(timestamp=2e9)).ranked.item_ids.tolist()
    new_id = int(catalog.item_ids.max()) + 1
    rt.add_item(store, new_id, "Starfall: The Orbit of Echoes", 1998, ("Sci-Fi", "Action"))
    after = pipe.rank(fan, Context(timestamp=2e9)).ranked.item_ids.tolist()
    assert after.index(new_id) <= FRESH_SLOT
    assert new_id not in before
    assert len(set(after) & set(before)) >= 45  # one exploration slot, not a different list
    shown = sum(new_id in pipe.rank(u, Context(timestamp=2e9)).ranked.item_ids[:10] for u in range(1, 201))
    assert 0 < shown < 200  # bounded: it is not pushed to everyone
    assert np.isfinite(pipe.rank(fan, Context(timestamp=2e9)).ranked.scores).all()
