"""The item-item source and the user's signals kept with the user: keyed by everything they read, used
only while the key holds, and read back bit for bit."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from cascade.arms import arm_resolver
from cascade.experiments import ArmSpec
from cascade.features.collab import UserSignals
from cascade.features.online import MemoryStoreConfig, create_store
from cascade.features.session import Event
from cascade.pipeline import Pipeline
from cascade.retrieval.blend import BlendedRetriever
from cascade.retrieval.kept_source import KEY_BYTES, decode, encode, model_tag, source_key
from cascade.runtime import Runtime, load_runtime
from cascade.types import Context, UserView


@pytest.fixture(scope="module")
def runtime(trained_artifacts: Path) -> Runtime:
    return load_runtime(trained_artifacts)


def _key(tag: bytes, n: int, user: UserView) -> bytes:
    """The key as the retriever computes it: over the array of the user's exclusions."""
    return source_key(tag, n, user, np.fromiter(user.excluded(), dtype=np.int64))


def _pipeline(runtime: Runtime) -> Pipeline:
    return runtime.online_pipeline(runtime.feature_store(create_store(MemoryStoreConfig())))


def test_the_key_covers_every_input_and_decode_refuses_others(runtime: Runtime) -> None:
    pipe = _pipeline(runtime)
    assert isinstance(pipe.retriever, BlendedRetriever)
    tag = model_tag(pipe.retriever.collab)
    user = UserView(5, known=True, history=(1, 2, 3), session_items=(4,), seen=frozenset({1, 2, 3}))
    key = _key(tag, 500, user)
    changed = [
        _key(tag, 400, user),
        _key(tag, 500, replace(user, history=(1, 2, 3, 7))),
        _key(tag, 500, replace(user, session_items=(4, 8))),
        _key(tag, 500, replace(user, seen=frozenset({1, 2, 3, 9}))),
        _key(bytes(16), 500, user),  # another model
    ]
    assert all(k != key for k in changed) and len(set(changed)) == len(changed)
    rows = np.asarray([10, 3, 7], dtype=np.int64)
    sig = pipe.retriever.collab.signals(user.history, user.session_items)
    blob = encode(key, rows, sig)
    got = decode(blob, key)
    assert got is not None
    assert np.array_equal(got[0], rows) and got[0].dtype == np.int64
    _assert_same_signals(got[1], sig)
    assert decode(blob, changed[1]) is None and decode(None, key) is None
    assert decode(blob[:-1], key) is None and decode(blob[:8], key) is None
    assert decode(blob + b"\0\0\0\0", key) is None  # longer than its lengths say
    # the previous layout (the rows alone after the key) under the same inputs: its key differs
    assert decode(key + np.asarray(rows, dtype="<i4").tobytes(), key) is None
    assert blob[:KEY_BYTES] == key


def _assert_same_signals(a: UserSignals, b: UserSignals) -> None:
    """Bit for bit, field by field, with the computed dtypes."""
    for f in ("recent", "pool_from", "seen", "user_factor", "genre_recency", "recent_genres"):
        x, y = getattr(a, f), getattr(b, f)
        assert x.dtype == y.dtype and x.tobytes() == y.tobytes(), f


def test_a_kept_source_gives_the_computed_candidates_and_a_stale_one_is_recomputed(runtime: Runtime) -> None:
    pipe = _pipeline(runtime)
    retriever = pipe.retriever
    assert isinstance(retriever, BlendedRetriever)
    view = pipe.features.user(1, (), 1.8e9).view
    assert view.stored_source is None
    computed = retriever.retrieve(view, 500)
    assert computed.keep is not None
    kept = retriever.retrieve(replace(view, stored_source=computed.keep), 500)
    assert kept.keep is None  # read, not recomputed
    assert np.array_equal(kept.item_ids, computed.item_ids) and np.array_equal(kept.scores, computed.scores)
    assert np.array_equal(kept.collab_rank, computed.collab_rank)
    _assert_same_signals(kept.signals, computed.signals)  # read with the list, not recomputed
    assert np.array_equal(retriever.evidence(kept), retriever.evidence(computed))  # the ranker's columns
    other = pipe.features.user(2, (), 1.8e9).view
    stale = retriever.retrieve(replace(other, stored_source=computed.keep), 500)  # user 1's list
    fresh = retriever.retrieve(other, 500)
    assert stale.keep is not None and np.array_equal(stale.item_ids, fresh.item_ids)


def test_requests_and_events_keep_the_source_the_next_request_reads(runtime: Runtime) -> None:
    pipe = _pipeline(runtime)
    arm = arm_resolver(runtime.dataset.catalog, "serving").resolve(ArmSpec(name="rules", reranker="rules"))
    online = pipe.features.store.online  # type: ignore[attr-defined]
    empty = np.empty(0, dtype=np.int64)
    ctx = Context(timestamp=1.8e9)
    first = asyncio.run(pipe.recommend(3, 10, ctx, arm))
    blob = online.fetch(3, empty).source
    assert blob is not None  # the first request kept it
    again = asyncio.run(pipe.recommend(3, 10, ctx, arm))
    assert [i.item_id for i, _ in again.items] == [i.item_id for i, _ in first.items]
    assert online.fetch(3, empty).source == blob  # read, not rewritten
    asyncio.run(pipe.recommend(3, 10, Context(timestamp=1.8e9, session_items=(50,)), arm))
    assert online.fetch(3, empty).source == blob  # a request's own session items are not kept
    pipe.features.store.ingest([Event(3, 50, "play", 1.8e9)])  # type: ignore[attr-defined]
    assert pipe.refresh_source(3, 1.8e9)  # what /events does: the new state's list, kept
    view = pipe.features.user(3, (), 1.8e9).view
    assert view.stored_source != blob and view.stored_source is not None
    assert isinstance(pipe.retriever, BlendedRetriever)
    key = _key(model_tag(pipe.retriever.collab), pipe.n_retrieve, view)
    assert decode(view.stored_source, key) is not None
    assert not pipe.refresh_source(3, 1.8e9)  # nothing changed since: nothing recomputed
