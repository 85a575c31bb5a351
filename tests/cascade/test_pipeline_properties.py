"""Properties of the one pipeline under random catalog growth, histories and sessions (hypothesis).

The models are the trained ones (training a model per example would take minutes); what is random is
the catalog grown around them (items with any genres, years and titles, added at any time), the events
users post (known and new items, every type) and the sessions requests name. Whatever they are, a
recommendation is k distinct catalog items the user has not consumed, with finite scores.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cascade.arms import Arm
from cascade.data.dataset import GENRES
from cascade.features.online import MemoryStoreConfig, create_store
from cascade.features.registry import EVENT_TYPES
from cascade.features.session import Event
from cascade.rerank.base import IdentityReranker
from cascade.rerank.rules import RulesReranker
from cascade.runtime import Runtime, load_runtime
from cascade.types import Context

N_KNOWN = 1682  # MovieLens-100k's items are 1..1682
NEW_BASE = 100_000

new_items = st.lists(
    st.tuples(
        st.text(min_size=1, max_size=40).filter(str.strip),
        st.integers(0, 2030),
        st.lists(st.sampled_from(GENRES), min_size=0, max_size=4, unique=True),
    ),
    max_size=6,
)
users = st.integers(1, 1200)  # 943 known users, the rest cold
# (by the request's user?, another user, item, type)
events = st.lists(
    st.tuples(st.booleans(), users, st.integers(0, 2 * N_KNOWN), st.sampled_from(sorted(EVENT_TYPES))),
    max_size=25,
)


@pytest.fixture(scope="module")
def runtime(trained_artifacts: Path) -> Runtime:
    return load_runtime(trained_artifacts)  # its own copy: the examples grow its catalog


@settings(
    max_examples=40, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)
@given(
    added=new_items,
    posted=events,
    user=users,
    session=st.lists(st.integers(0, 2 * N_KNOWN), max_size=8),
    k=st.integers(1, 50),
    title=st.none() | st.text(max_size=30),
    rules=st.booleans(),
)
def test_any_catalog_growth_history_and_session(
    runtime: Runtime,
    added: list[tuple[str, int, list[str]]],
    posted: list[tuple[bool, int, int, str]],
    user: int,
    session: list[int],
    k: int,
    title: str | None,
    rules: bool,
) -> None:
    catalog = runtime.dataset.catalog
    store = runtime.feature_store(create_store(MemoryStoreConfig()), materialize=False)
    store.materialize(runtime.batch, np.asarray([user]), runtime.as_of_end)
    pipe = runtime.online_pipeline(store)
    new_ids = []
    for t, year, genres in added:
        item_id = NEW_BASE + len(catalog)  # never taken: the catalog only grows
        assert runtime.add_item(store, item_id, t, year, tuple(genres))
        new_ids.append(item_id)
    # ids past the known range stand for items added now (wrapped onto them), or stay unknown
    pick = {i: (new_ids[i % len(new_ids)] if new_ids and i > N_KNOWN else i) for i in range(2 * N_KNOWN + 1)}
    good = [
        Event(user if mine else u, pick[i], kind, 1.9e9 + n)
        for n, (mine, u, i, kind) in enumerate(posted)
        if pick[i] in catalog
    ]
    store.ingest(good)
    arm = (
        Arm("rules", "rules", RulesReranker(catalog=catalog))
        if rules
        else Arm("none", "none", IdentityReranker())
    )
    ctx = Context(playlist_title=title, session_items=tuple(pick[i] for i in session))
    rec = pipe.recommend_sync(user, k, ctx, arm)

    ids = [it.item_id for it, _ in rec.items]
    assert len(ids) == len(set(ids)) == min(k, len(rec.ranker_order))
    assert len(ids) == k  # the catalog always holds k unseen items here
    assert all(i in catalog for i in ids)
    consumed = store.fetch_user(user)[1].session.consumed
    assert not consumed & set(ids)
    assert all(np.isfinite(s) for _, s in rec.items)
    assert set(ids) <= set(rec.ranker_order)
