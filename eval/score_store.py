"""A JSONL ScoreStore for the fused LLM arm's window scores (eval and tune-fusion reruns are free)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from eval.cache import ResultCache


class JsonlScoreStore:
    """Window log-probabilities by key, appended to one JSONL file."""

    def __init__(self, path: Path) -> None:
        self._cache = ResultCache(path)

    def get(self, key: str) -> list[float] | None:
        row = self._cache.get(key)
        return None if row is None else [float(v) for v in row["v"]]

    def put(self, key: str, values: Sequence[float]) -> None:
        self._cache.put(key, {"v": [float(v) for v in values]})

    def close(self) -> None:
        self._cache.close()
