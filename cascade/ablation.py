"""`care ablation`: the ranker retrained with each collaborative feature group off, scored on the test window.

Rows are built once: the validation rows exactly as `care train` builds them (models fitted on
train), the test rows from the trained artifacts (models refit on train + validation). A group is
"off" when its columns are missing (NaN) in both, so the trees cannot split on them. "two-tower
candidates only" keeps the rows the two-tower source retrieved (the second source off) and drops
the source columns. "no title rows or features" drops the titled training groups and the TITLE
columns: the ranker as it was before titles, scored on the same untitled test requests.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from cascade.cost import StageCosts
from cascade.features.registry import COLLAB, COLLAB_GROUPS, RANKER_FEATURES, TITLE, names
from cascade.metrics import accuracy
from cascade.progress import progress, progress_over
from cascade.retrieval.retriever import TwoTowerRetriever, catalog_text
from cascade.runtime import load_runtime, window_start
from cascade.runtime.evaluate import K
from cascade.train import RETRIEVER_TRAIN_DIR, SEED, RankerRows, fit_ranker, validation_rows
from cascade.types import Context

F32 = npt.NDArray[np.float32]
_NAMES = names(RANKER_FEATURES)
_SRC_TT = _NAMES.index("src_two_tower")
_TITLED = _NAMES.index("title_present")
_TITLE_COLS = [_NAMES.index(f.name) for f in TITLE]


class Config(NamedTuple):
    off: list[int]  # columns set missing in training and test rows
    tt_only: bool = False  # keep only the two-tower source's candidates
    untitled: bool = False  # drop the titled training groups


def _columns(group: str) -> list[int]:
    return [_NAMES.index(f.name) for f in COLLAB if f.group == group]


def configs() -> dict[str, Config]:
    """The configurations, by name."""
    every = [_NAMES.index(f.name) for f in COLLAB]
    out: dict[str, Config] = {"all features": Config([])}
    out |= {f"without {g}": Config(_columns(g)) for g in COLLAB_GROUPS}
    out["no title rows or features"] = Config(_TITLE_COLS, untitled=True)
    out["two-tower candidates only"] = Config(_columns("source") + _TITLE_COLS, True, True)
    out["two-tower candidates, no collab features (round 1)"] = Config(every + _TITLE_COLS, True, True)
    return out


def run(
    artifacts: Path | None = None,
    seed: int = SEED,
    train_two_tower: Path | None = None,
    forbidden_titles: Collection[str] = (),
) -> list[dict[str, Any]]:
    """One row per configuration: test-window NDCG/Recall/HitRate/MRR@10 over all test users.

    train_two_tower: a saved two-tower fitted on the train window (default: the artifacts'
    retriever_train/, else one is trained here).
    """
    rt = load_runtime(artifacts)
    ds, split = rt.dataset, rt.split
    saved = train_two_tower or rt.artifacts / RETRIEVER_TRAIN_DIR
    tt_val = TwoTowerRetriever.load(saved, ds.catalog) if (saved / "two_tower.pt").is_file() else None
    pipeline = rt.offline_pipeline("test")
    relevant = split.test.by_user()
    as_of = window_start(split.test)
    users = sorted(relevant)
    with progress() as p:
        text = catalog_text(ds.catalog)
        _, (x, y, groups, owners) = validation_rows(
            ds, split, rt.batch, seed, text, p, StageCosts(), tt_val, forbidden_titles
        )
        tests = []
        for u in progress_over(p, "test rows", users):
            now = float(as_of[u])
            uf = pipeline.features.user(u, (), now)
            got, xt, _ = pipeline.candidate_features(uf, Context(timestamp=now), now, {})
            tests.append((xt, got.item_ids, set(relevant[u].tolist())))
        out = []
        task = p.add_task("ablation configurations", total=len(configs()))
        for name, (off, tt_only, untitled) in configs().items():
            keep = np.ones(len(y), dtype=bool)
            if tt_only:
                keep &= x[:, _SRC_TT] > 0
            if untitled:
                keep &= x[:, _TITLED] == 0
            xs, ys = x[keep].copy(), y[keep]
            owner = np.repeat(np.arange(len(groups)), groups)[keep]
            sizes = np.bincount(owner, minlength=len(groups))
            has_pos = np.bincount(owner, weights=ys, minlength=len(groups)) > 0
            rows_keep = has_pos[owner]
            xs, ys, sizes = xs[rows_keep], ys[rows_keep], sizes[has_pos]
            xs[:, off] = np.nan
            ranker, _ = fit_ranker(RankerRows(xs, ys, sizes, owners[has_pos]), seed)
            sums: dict[str, float] = {}
            for xt, ids, rel in tests:
                m = xt[:, _SRC_TT] > 0 if tt_only else np.ones(len(ids), dtype=bool)
                xm = xt[m].copy()
                xm[:, off] = np.nan
                top = ids[m][np.argsort(-ranker.score(xm), kind="stable")[:K]].tolist()
                for k, v in accuracy(top, rel, K).items():
                    sums[k] = sums.get(k, 0.0) + v
                sums["recall@500"] = sums.get("recall@500", 0.0) + len(rel & set(ids[m].tolist())) / len(rel)
            out.append({"configuration": name, **{k: v / len(tests) for k, v in sums.items()}})
            p.advance(task)
    return out
