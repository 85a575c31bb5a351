"""Shared fixtures: the real MovieLens-100k data (fetched once into $CARE_HOME)."""

from __future__ import annotations

import pytest

from cascade.data.dataset import Dataset
from cascade.data.fetch import load_default
from cascade.data.split import Split, split_by_user


@pytest.fixture(scope="session")
def ml100k() -> Dataset:
    return load_default()


@pytest.fixture(scope="session")
def ml_split(ml100k: Dataset) -> Split:
    return split_by_user(ml100k.interactions)
