"""Resumable per-arm caching: a rerun recomputes nothing; a changed config or a torn line recomputes."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from cascade.arms import Arm
from cascade.pipeline import Recommendation
from cascade.rerank.base import IdentityReranker
from cascade.types import Context, ItemText
from eval.cache import ResultCache, row_key
from eval.harness import replay


class CountingPipeline:
    """Stands in for Pipeline.recommend and counts the calls."""

    def __init__(self) -> None:
        self.calls = 0

    async def recommend(self, user_id: int, k: int, context: Context, arm: Arm) -> Recommendation:
        self.calls += 1
        items = [(ItemText(user_id * 100 + i, "t", 1990, ("Drama",)), 1.0 - i / 10) for i in range(k)]
        return Recommendation(items, arm.name, arm.reranker.name, None, False, {"rerank": 1.0, "total": 2.0},
                              [it.item_id for it, _ in items], {"x": 1.0})  # fmt: skip


def _run(
    pipe: CountingPipeline, path: Path, users: list[int], fp: str, title: str | None = "90s drama"
) -> int:
    cache = ResultCache(path)
    builds: list[int] = []

    def build() -> Arm:
        builds.append(1)
        return Arm("none", "none", IdentityReranker())

    contexts = {u: Context(playlist_title=title, timestamp=0.0) for u in users}
    try:
        rows, computed = asyncio.run(replay(pipe, build, users, contexts, cache, fp, 3))  # type: ignore[arg-type]
    finally:
        cache.close()
    assert sorted(rows) == sorted(users) and all(len(r["items"]) == 3 for r in rows.values())
    assert len(builds) == (1 if computed else 0)  # an all-cached arm never builds its re-ranker
    return computed


def test_rerun_recomputes_nothing(tmp_path: Path) -> None:
    pipe, path = CountingPipeline(), tmp_path / "none.jsonl"
    assert _run(pipe, path, [1, 2, 3], "fp1") == 3 and pipe.calls == 3
    assert _run(pipe, path, [1, 2, 3], "fp1") == 0 and pipe.calls == 3
    # resumes: only the new user is computed
    assert _run(pipe, path, [1, 2, 3, 4], "fp1") == 1 and pipe.calls == 4
    # another config hash or another context title: recomputed, old rows kept
    assert _run(pipe, path, [1], "fp2") == 1
    assert _run(pipe, path, [1], "fp1", title="80s comedy") == 1
    assert pipe.calls == 6


def test_torn_last_line_is_recomputed(tmp_path: Path) -> None:
    pipe, path = CountingPipeline(), tmp_path / "a.jsonl"
    _run(pipe, path, [1, 2], "fp")
    lines = path.read_text().splitlines()
    path.write_text(lines[0] + "\n" + lines[1][:15])  # crash mid-write
    assert _run(pipe, path, [1, 2], "fp") == 1
    assert ResultCache(path).get(row_key(2, "fp")) is not None


def test_rows_are_json_with_stats_and_timings(tmp_path: Path) -> None:
    _run(CountingPipeline(), tmp_path / "b.jsonl", [7], "fp")
    row = json.loads((tmp_path / "b.jsonl").read_text().splitlines()[0])
    assert row["key"] == "7:fp" and row["stats"] == {"x": 1.0} and "wall" in row["timings_ms"]
    assert row["ranker_order"] == [700, 701, 702] and row["playlist_title"] == "90s drama"
