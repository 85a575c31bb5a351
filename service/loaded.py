"""One loaded artifacts version: its runtime, feature store, pipeline and arms, built off the event loop."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cascade.arms import ArmResolver, arm_resolver
from cascade.features.online import OnlineStore, StoreUnavailable
from cascade.features.store import FeatureStore
from cascade.pipeline import Pipeline
from cascade.rerank.rules import DEFAULT_CONFIG as RULES_FILE
from cascade.rerank.rules import RulesReranker
from cascade.runtime import MANIFEST, Runtime, load_runtime
from cascade.types import Context
from service.settings import Settings

log = logging.getLogger("care.service")


@dataclass(frozen=True)
class ArtifactsKey:
    """What the artifacts pointer names now: the folder it resolves to and its manifest's identity."""

    folder: str
    manifest: tuple[int, int]  # (inode, mtime_ns): a retrain in place changes it

    @classmethod
    def of(cls, pointer: Path) -> ArtifactsKey | None:
        """None while nothing trained is there (a missing pointer, a folder without a manifest)."""
        folder = os.path.realpath(pointer)
        try:
            st = os.stat(os.path.join(folder, MANIFEST))
        except OSError:
            return None
        return cls(folder, (st.st_ino, st.st_mtime_ns))


@dataclass
class Loaded:
    """What exists once the artifacts are loaded (one version; a rollout builds another beside it)."""

    runtime: Runtime
    online: OnlineStore
    store: FeatureStore
    pipeline: Pipeline
    model_version: str
    ranker_version: str
    materialized: bool
    key: ArtifactsKey | None = None
    resolver: ArmResolver | None = None  # arms over this version's catalog come from it


def model_version(runtime: Runtime) -> str:
    """The manifest's version string (a hash of the manifest when it has none)."""
    m = runtime.manifest
    for key in ("model_version", "version", "created_at"):
        if isinstance(m.get(key), str):
            return str(m[key])
    return (
        hashlib.sha256(json.dumps(m, sort_keys=True, default=str).encode()).hexdigest()[:12]
        if m
        else "unknown"
    )


def service_resolver(settings: Settings, runtime: Runtime) -> ArmResolver:
    """Arms in serving mode; the LLM's result cache shares the online store's Redis when there is one."""
    return arm_resolver(
        runtime.dataset.catalog,
        "serving",
        settings.llm,
        redis_url=settings.redis_url,
        cache_prefix=settings.redis_prefix + "llm:",
        prompts_dir=settings.prompts_dir,
    )


def resolver_over(runtime: Runtime, old: ArmResolver) -> ArmResolver:
    """A resolver over `runtime`'s catalog sharing `old`'s LLM stage: a rollout never reloads the LLM."""
    rules = RulesReranker.from_yaml(RULES_FILE, catalog=runtime.dataset.catalog)
    return ArmResolver(rules, old.mode, old.llm, old.prompts_dir)


_preloaded: tuple[ArtifactsKey, Runtime] | None = None
_attempted: ArtifactsKey | None = None


def preload_runtime(pointer: Path) -> bool:
    """Load the version `pointer` names now, for the first `build` of this process (and of every process
    forked from it) to take instead of loading its own, if the pointer still names it then. Called again
    (the supervisor does, every second) it loads only when the pointer moved; True if it loaded."""
    global _preloaded, _attempted
    key = ArtifactsKey.of(pointer)
    if key is None or key == _attempted:
        return False
    _attempted, _preloaded = key, None  # a version that fails to load is not tried again
    _preloaded = key, load_runtime(Path(key.folder))
    return True


def _runtime(key: ArtifactsKey | None, pointer: Path) -> Runtime:
    global _preloaded
    ready, _preloaded = _preloaded, None
    if ready is not None and key is not None and ready[0] == key:
        return ready[1]
    return load_runtime(Path(key.folder) if key else pointer)


def build(
    settings: Settings,
    online: OnlineStore,
    pointer: Path,
    *,
    previous: Loaded | None = None,
) -> Loaded:
    """Load the version `pointer` names over `online` (blocking: call it in a thread).

    Batch features are written to the store unless it holds them already: `previous` was trained on the
    same data (a rollout then leaves what other workers read untouched), or a probe finds them (another
    worker wrote them: a worker restarted by the supervisor starts on half the CPU).
    """
    key = ArtifactsKey.of(pointer)
    runtime = _runtime(key, pointer)
    same_data = previous is not None and _fingerprint(previous.runtime) == _fingerprint(runtime)
    if same_data:
        assert previous is not None
        store, materialized = runtime.feature_store(online, materialize=False), previous.materialized
    else:
        try:
            write = not holds_batch_features(runtime, online, settings.users_as_of)
            store, materialized = runtime.feature_store(online, write, settings.users_as_of), True
        except StoreUnavailable:
            log.warning("online store unreachable at start; serving degraded until it answers")
            store, materialized = runtime.feature_store(online, materialize=False), False
    pipeline = runtime.online_pipeline(store, settings.discount.build(), settings.score_head)
    if materialized:  # items other workers (or an earlier run) added at run time
        runtime.sync_items(online)
    pipeline.title_vector(Context(playlist_title="warm-up"))  # MiniLM loads now, not on a titled request
    resolver = (
        resolver_over(runtime, previous.resolver)
        if previous is not None and previous.resolver is not None
        else service_resolver(settings, runtime)
    )
    return Loaded(
        runtime,
        online,
        store,
        pipeline,
        model_version(runtime),
        runtime.ranker.version,
        materialized,
        key,
        resolver,
    )


def holds_batch_features(runtime: Runtime, online: OnlineStore, users_as_of: str) -> bool:
    """True when `online` holds exactly what materializing `runtime` would write, for a probe of users and
    items (first, middle, last): the same values, byte for byte, so the data and its cut are the same."""
    if users_as_of != "end" or runtime.item_features is not None:
        return False  # per-user cuts (replays) and synthetic catalogs: always written
    users, items = runtime.dataset.users.user_ids, runtime.dataset.catalog.item_ids
    probe_users = users[[0, len(users) // 2, len(users) - 1]]
    probe_items = items[[0, len(items) // 2, len(items) - 1]]
    as_of = runtime.as_of_end
    want_items = runtime.batch.items(probe_items, np.full(len(probe_items), as_of))
    want_users = runtime.batch.users_block(probe_users, np.full(len(probe_users), as_of))
    for u, want in zip(probe_users.tolist(), want_users, strict=True):
        got = online.fetch(int(u), probe_items)
        if (
            got.user_features is None
            or got.items_missing.any()
            or not np.array_equal(got.user_features, want)
            or not np.array_equal(got.items, want_items)
            or not np.array_equal(got.history, runtime.batch.history(int(u), as_of))
        ):
            return False
    return True


def _fingerprint(runtime: Runtime) -> object:
    data = runtime.manifest.get("data", {})
    return data.get("fingerprint") if isinstance(data, dict) else None
