"""`care train`: data -> features -> two-tower -> index -> ranker -> metrics, with a manifest."""

from __future__ import annotations

import hashlib
import json
import platform
import random
import shutil
import sys
import time
from collections.abc import Collection, Iterable, Mapping
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import torch
import typer
from rich.progress import Progress

from cascade import paths
from cascade.cost import StageCosts
from cascade.data.dataset import Dataset, Interactions
from cascade.data.fetch import load_default
from cascade.data.split import Split, split_by_user
from cascade.engine import LOCAL, Engine, chunks, open_engine
from cascade.features.batch import BatchFeatures
from cascade.features.collab import CollabConfig, CollabModel
from cascade.features.registry import RANKER_FEATURES, names
from cascade.pipeline import N_RANK, N_RETRIEVE, Pipeline
from cascade.progress import progress, progress_over
from cascade.ranking.titles import training_titles
from cascade.ranking.xgb import XGBRanker
from cascade.retrieval.blend import BlendedRetriever
from cascade.retrieval.retriever import TwoTowerRetriever, catalog_text
from cascade.retrieval.two_tower import TwoTowerConfig
from cascade.runtime import MANIFEST, RANKER_FILE, RETRIEVER_DIR, Runtime, point_in_time, window_start
from cascade.runtime.evaluate import K, evaluate_test
from cascade.runtime.versions import finish_training, training_folder

F32 = npt.NDArray[np.float32]
SEED = 7  # the default seed of `care train`
RETRIEVER_TRAIN_DIR = "retriever_train"  # the two-tower fitted on the train window (validation rows)
# per-user stages (ranker rows, test metrics) run on a seeded sample above these counts: their cost
# and the rows' memory (500 candidates x 96 features per group) grow with users; MovieLens-100k's
# 943 users are all kept
MAX_RANKER_USERS = 3_000
MAX_EVAL_USERS = 2_000
# bump when a change to the code makes older artifacts unusable; `--if-missing` retrains then
SCHEMA = hashlib.sha256(("care-artifacts-3:" + ",".join(names(RANKER_FEATURES))).encode()).hexdigest()[:12]


def sample_users(users: npt.NDArray[np.int64], cap: int, seed: int) -> list[int]:
    """At most `cap` of `users` (a seeded sample when there are more), ascending."""
    if len(users) > cap:
        users = np.random.default_rng(seed).choice(users, cap, replace=False)
    return sorted(int(u) for u in users)


class _Unfitted:
    """Stands in for the ranker while its own training rows are built (only features are read)."""

    version = "unfitted"

    def score(self, features: F32) -> F32:
        raise RuntimeError("the ranker is not trained yet")


class RankerRows(NamedTuple):
    """The ranker's training rows: features, labels, group sizes, and the user of each group."""

    x: F32
    y: F32
    groups: npt.NDArray[np.int64]
    users: npt.NDArray[np.int64]


def ranker_rows(
    pipeline: Pipeline,
    split: Split,
    window: str,
    users: list[int],
    p: Progress,
    titles: Mapping[int, str] | None = None,
    engine: Engine = LOCAL,
) -> RankerRows:
    """One group per user (the retrieved candidates' features, labelled by the window's items), and a
    second one under the user's title in `titles`. On a cluster, chunks of users per worker."""
    if engine.workers == 1:
        return _rows_of(progress_over(p, f"ranker rows ({window})", users), pipeline, split, window, titles)
    parts = [users[a:b] for a, b in chunks(len(users), 4 * engine.workers)]
    done = engine.map(_rows_of, parts, pipeline, split, window, titles)
    return RankerRows(
        np.vstack([r.x for r in done]),
        np.concatenate([r.y for r in done]),
        np.concatenate([r.groups for r in done]),
        np.concatenate([r.users for r in done]),
    )


def _rows_of(
    users: Iterable[int], pipeline: Pipeline, split: Split, window: str, titles: Mapping[int, str] | None
) -> RankerRows:
    relevant = split.window(window).by_user()
    as_of = window_start(split.window(window))
    xs, ys, groups, owners = [], [], [], []
    for u in users:
        rel = relevant.get(u, np.empty(0, np.int64))
        for title in (None, *([titles[u]] if titles and u in titles else [])):
            rows = pipeline.training_rows(u, float(as_of[u]), rel, title)
            if rows is None:
                continue  # no positive retrieved: the group carries no ranking signal
            xs.append(rows[0])
            ys.append(rows[1])
            groups.append(len(rows[1]))
            owners.append(u)
    n_features = len(RANKER_FEATURES)
    return RankerRows(
        np.vstack(xs) if xs else np.empty((0, n_features), np.float32),
        np.concatenate(ys) if ys else np.empty(0, np.float32),
        np.asarray(groups, dtype=np.int64),
        np.asarray(owners, dtype=np.int64),
    )


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("torch", "faiss-cpu", "xgboost", "numpy", "transformers"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "absent"
    return out


def train(
    out: Path,
    seed: int = SEED,
    source: Path | None = None,
    forbidden_titles: Collection[str] = (),
    engine: Engine = LOCAL,
) -> dict[str, Any]:
    """Train every stage into `out` (written atomically) and return the manifest.

    engine: where the collaborative model, the ranker rows and the ranker fit run (cascade.engine).
    """
    random.seed(seed)
    np.random.seed(seed)
    t_start = time.time()
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    cost = StageCosts(log=lambda line: print(f"  stage {line}", file=sys.stderr, flush=True))
    with cost.stage("data"):
        ds: Dataset = load_default(source)
        split = split_by_user(ds.interactions)
    with progress() as p:
        # validation window: every model fitted on train; the ranker learns from these rows
        with cost.stage("text_embeddings"):
            text = catalog_text(ds.catalog)
        with cost.stage("batch_features"):
            batch = BatchFeatures(ds.interactions, ds.catalog, ds.users)
        retriever_val, rows = validation_rows(
            ds, split, batch, seed, text, p, cost, forbidden_titles=forbidden_titles, engine=engine
        )
        with cost.stage("ranker_fit"):
            ranker, fit = fit_ranker(rows, seed, engine)
        ranker.save(tmp / RANKER_FILE)
        retriever_val.save(tmp / RETRIEVER_TRAIN_DIR)  # for `care ablation`
        # test window and serving: two-tower and collab refit on train + validation
        history = split.history_before("test")
        with cost.stage("two_tower"):
            retriever = _two_tower(p, ds, history, seed, text, "two-tower epochs (train+val)")
        with cost.stage("collab"):
            collab = CollabModel.fit(history, ds.catalog, seed=seed, engine=engine)
        retriever.save(tmp / RETRIEVER_DIR)
        collab.save(tmp)
        runtime = Runtime(ds, split, retriever, ranker, batch, artifacts=tmp, collab=collab)
        with cost.stage("evaluate"):
            test_users = sample_users(np.unique(split.test.user), MAX_EVAL_USERS, seed)
            metrics = evaluate_test(runtime, test_users, p)
    manifest: dict[str, Any] = {
        "schema": SCHEMA,
        "version": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()),
        "data": {
            "fingerprint": ds.fingerprint(),
            "source": ds.source,
            "source_arg": str(source) if source else None,
            "users": len(ds.users.user_ids),
            "items": len(ds.catalog),
            "interactions": len(ds.interactions),
            "split": {"train": len(split.train), "val": len(split.val), "test": len(split.test)},
        },
        "seed": seed,
        "engine": {"name": engine.name, "workers": engine.workers},
        "config": {
            "two_tower": {**retriever.cfg.to_dict(), **retriever.meta},
            "ranker_features": names(RANKER_FEATURES),
            "n_retrieve": N_RETRIEVE,  # the Pipeline's counts, read back by Runtime.sizes
            "n_rank": N_RANK,
        },
        "ranker": {"version": ranker.version, **fit, "rows": len(rows[1]), "groups": len(rows[2])},
        "stages": {
            "two_tower": {"train": retriever_val.meta, "refit_train_val": retriever.meta},
            "collab": {**asdict(collab.cfg), "items": len(collab)},
            "ranker_rows": {"positives": float(rows[1].sum()), "rows": len(rows[1])},
        },
        "model_hash": _model_hash(tmp),
        "metrics": {"window": "test", "k": K, "users": len(test_users), **metrics},
        "caps": {"ranker_users": MAX_RANKER_USERS, "eval_users": MAX_EVAL_USERS},
        "feature_importance_top10": dict(list(ranker.importance().items())[:10]),
        "feature_importance": ranker.importance(),
        "cost": cost.stages,  # per stage: seconds and peak RSS (two_tower and collab: both fits)
        "timings": {"total_s": time.time() - t_start},
        "versions": _versions(),
    }
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    return manifest


def validation_rows(
    ds: Dataset,
    split: Split,
    batch: BatchFeatures,
    seed: int,
    text: F32,
    p: Progress,
    cost: StageCosts,
    retriever_val: TwoTowerRetriever | None = None,
    forbidden_titles: Collection[str] = (),
    engine: Engine = LOCAL,
    collab_cfg: CollabConfig | None = None,
) -> tuple[TwoTowerRetriever, RankerRows]:
    """The ranker's training rows: validation window, two-tower and collab fitted on train only.

    retriever_val: a two-tower already fitted on the train window with this seed (else trained here).
    Half the users also get a group under a noisy title from their window (cascade.ranking.titles),
    never one of `forbidden_titles` (the eval's labelled titles).
    """
    if retriever_val is None:
        with cost.stage("two_tower"):
            retriever_val = _two_tower(p, ds, split.train, seed, text, "two-tower epochs (train)")
    with cost.stage("collab"):
        collab_val = CollabModel.fit(split.train, ds.catalog, collab_cfg, seed=seed, engine=engine)
    users = sample_users(np.unique(split.val.user), MAX_RANKER_USERS, seed)
    with cost.stage("ranker_rows"):
        val_pipeline = Pipeline(
            point_in_time(split, batch, ds.catalog, "val"),
            BlendedRetriever(retriever_val, collab_val, ds.catalog),
            _Unfitted(),
            ds.catalog,
        )
        titles = training_titles(split.val.by_user(), ds.catalog, seed, forbidden_titles)
        rows = ranker_rows(val_pipeline, split, "val", users, p, titles, engine)
    return retriever_val, rows


def _two_tower(
    p: Progress, ds: Dataset, history: Interactions, seed: int, text: F32, label: str
) -> TwoTowerRetriever:
    epochs = p.add_task(label, total=TwoTowerConfig().epochs)
    return TwoTowerRetriever.train(
        ds, history, seed=seed, text=text, progress=lambda _e, _l: p.advance(epochs)
    )


def _model_hash(folder: Path) -> str:
    """sha256 over every trained array and weight (not file metadata): same seed, same hash."""
    h = hashlib.sha256()
    state = torch.load(folder / RETRIEVER_DIR / "two_tower.pt", weights_only=True)
    for k in sorted(state):
        h.update(k.encode())
        h.update(state[k].numpy().tobytes())
    with np.load(folder / "collab.npz") as a:
        for k in sorted(a.files):
            h.update(np.ascontiguousarray(a[k]).tobytes())
    h.update((folder / RANKER_FILE).read_bytes())
    return h.hexdigest()[:16]


def held_out_groups(owners: npt.NDArray[np.int64], seed: int, share: float = 0.15) -> npt.NDArray[np.bool_]:
    """Groups of a seeded `share` of the users: a user's titled and untitled groups share their items,
    so both sit on the same side of the early-stopping split."""
    users = np.unique(owners)
    return np.isin(owners, users[np.random.default_rng(seed).random(len(users)) < share])


def fit_ranker(rows: RankerRows, seed: int, engine: Engine = LOCAL) -> tuple[XGBRanker, dict[str, float]]:
    """Hold out 15% of the users: their NDCG@10 curve is reported (and stops the fit if the config asks)."""
    x, y, groups, owners = rows
    starts = np.r_[0, np.cumsum(groups)[:-1]]
    valid = held_out_groups(owners, seed)
    idx = [np.arange(s, s + g) for s, g in zip(starts, groups, strict=True)]
    tr = np.concatenate([i for i, v in zip(idx, valid, strict=True) if not v])
    va = np.concatenate([i for i, v in zip(idx, valid, strict=True) if v])
    train, held = (x[tr], y[tr], groups[~valid]), (x[va], y[va], groups[valid])
    return XGBRanker.train(train, held, seed=seed, engine=engine)


def is_current(folder: Path, seed: int) -> bool:
    """Artifacts exist and were trained by this code's feature layout and with this seed."""
    path = folder / MANIFEST
    if not path.is_file():
        return False
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError:
        return False
    return bool(manifest.get("schema") == SCHEMA and manifest.get("seed") == seed)


def train_cli(
    out: Path | None,
    seed: int,
    if_missing: bool,
    source: Path | None,
    forbidden_titles: Collection[str] = (),
    engine: str = "local",
) -> None:
    target = out or paths.artifacts_dir()
    if if_missing and is_current(target, seed):
        typer.echo(f"artifacts present at {target}; skipping training")
        return
    folder = training_folder(target)  # the `current` pointer: a new version beside it
    runner = open_engine(engine)
    try:
        manifest = train(folder, seed=seed, source=source, forbidden_titles=forbidden_titles, engine=runner)
    finally:
        runner.close()
    target, note = finish_training(folder, target)
    m = manifest["metrics"]
    typer.echo(f"artifacts written to {target}")
    for arm in ("popularity", "two_tower", "two_tower+xgb", "+rules", "+intent_title"):
        typer.echo(f"  {arm:14s} " + "  ".join(f"{k}={v:.4f}" for k, v in m[arm].items()))
    typer.echo(f"  retrieval recall@500={m['retrieval']['recall@500']:.4f}")
    if note:
        typer.echo(note)
