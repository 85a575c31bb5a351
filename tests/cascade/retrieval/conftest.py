"""Session fixtures: MovieLens-100k, its split, the catalog's MiniLM text and one trained retriever."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from cascade.data.dataset import Dataset
from cascade.data.split import Split
from cascade.retrieval.retriever import TwoTowerRetriever, catalog_text
from cascade.retrieval.two_tower import TwoTowerConfig

# Fewer epochs than the default keeps the folder fast; the quality floors below are measured for it.
TEST_CONFIG = TwoTowerConfig(epochs=4)


@pytest.fixture(scope="session")
def ds(ml100k: Dataset) -> Dataset:
    return ml100k


@pytest.fixture(scope="session")
def split(ml_split: Split) -> Split:
    return ml_split


@pytest.fixture(scope="session")
def text(ds: Dataset) -> npt.NDArray[np.float32]:
    return catalog_text(ds.catalog)


@pytest.fixture(scope="session")
def retriever(ds: Dataset, split: Split, text: npt.NDArray[np.float32]) -> TwoTowerRetriever:
    return TwoTowerRetriever.train(ds, split.train, seed=0, config=TEST_CONFIG, text=text)


@pytest.fixture(scope="session")
def saved(retriever: TwoTowerRetriever, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("two_tower")
    retriever.save(folder)
    return folder
