"""`care bench service --items` at 20k items: the real `care serve` answers from the synthetic catalog."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import httpx
import pytest

from cascade.retrieval.index import IndexConfig
from cascade.runtime.grow import ScaleSpec, scaled_artifacts
from service.bench.items import check_answers, run, serve_env
from service.process import ServerProcess

N = 20_000
INDEX = IndexConfig(kind="ivf", ivf_nprobe=64)


def test_served_answers_come_from_the_synthetic_catalog(trained_artifacts: Path, tmp_path: Path) -> None:
    built = scaled_artifacts(ScaleSpec(N, index=INDEX), trained_artifacts, tmp_path, log=lambda _: None)
    first = int(built.manifest["synthetic"]["first_id"])
    with ServerProcess(serve_env(built.folder, tmp_path)) as server, httpx.Client(base_url=server.url) as c:
        answers = check_answers(server.url, range(1, 21))
        assert set(answers.items) == set(range(1, 21))
        assert {"retrieval", "ranking", "total"} <= set(answers.stage_p50_ms)
        shown = {i for items in answers.items.values() for i in items}
        assert all(1 <= i < first + N for i in shown) and any(i >= first for i in shown)
        item = c.get(f"/items/{N}").json()  # the catalog's last item is synthetic, with its parent's genres
        assert item["item_id"] == N and item["title"] and item["genres"]
        assert c.get(f"/items/{first + N}").status_code == 404


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (make bench installs it)")
def test_bench_run_end_to_end(trained_artifacts: Path, tmp_path: Path) -> None:
    with tempfile.TemporaryDirectory() as root:
        result = run(
            N,
            seconds=1.0,
            connections=(1,),
            index=INDEX,
            root=Path(root),
            base=trained_artifacts,
            check_users=10,
        )
    assert not result.built.reused and result.ready_s > 0 and result.rss_mib > 0
    # recall@500 at nprobe=64: 0.922-0.933 over the artifacts of training seeds 7, 1, 2, 3
    assert result.recall.kind == "ivf" and 0.0 <= result.recall.recall <= 1.0 and result.recall.recall >= 0.85
    assert set(result.recall.sweep) == {16, 32, 64, 128}
    assert 0.0 < result.synthetic_share <= 1.0
    [(connections, wrk)] = result.runs
    assert connections == 1 and wrk.requests > 0 and wrk.non_2xx == 0 and wrk.errors == 0
