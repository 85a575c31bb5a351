"""`care bench add-items`: items added through POST /items, played and recommended around, 0 errors."""

from __future__ import annotations

from pathlib import Path

from service.bench.add_items import run


def test_a_loop_of_new_items_answers_without_errors(artifacts: Path) -> None:
    result = run(n=120, requests=20, artifacts=artifacts, every=0)
    assert result.errors == []
    assert result.n == 120 and result.seconds > 0
    assert result.before.rss_mib > 100 and result.after.rss_mib > 100  # a loaded runtime, measured
    assert result.after.recommend_p50_ms > 0 and result.add_p50_ms > 0
