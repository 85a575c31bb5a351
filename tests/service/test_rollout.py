"""Model rollout: a running service follows the artifacts pointer, in place, one worker at a time."""

from __future__ import annotations

import asyncio
import itertools
import math
import re
from datetime import datetime
from pathlib import Path

from cascade.runtime.versions import activate
from service.bench.paced import Sample
from service.bench.rollout import answers, link_version, mixed, rollout_under_load, versions_root
from service.serving import CareService
from tests.service.conftest import TwoWorkers, settings_for


def _answer(i: int, model: str, ranker: str, items: list[int]) -> Sample:
    body = {"model_version": model, "ranker_version": ranker, "items": [{"item_id": x} for x in items]}
    return Sample(i, 0.0, 0.0, 0.0, "/recommend", 200, 0, 0, body)


def test_the_mixing_check_flags_a_foreign_pair_and_another_versions_items() -> None:
    expected = answers([_answer(0, "a", "ra", [1, 2]), _answer(1, "b", "rb", [3, 4])])
    good = [_answer(0, "a", "ra", [1, 2]), _answer(1, "b", "rb", [3, 4])]
    assert mixed(good, expected) == []
    assert len(mixed([_answer(0, "a", "rb", [1, 2])], expected)) == 1  # model a with b's ranker
    assert len(mixed([_answer(0, "a", "ra", [3, 4])], expected)) == 1  # labelled a, items of b


def test_two_workers_switch_under_load_with_no_failed_or_mixed_answer(two_workers: TwoWorkers) -> None:
    server, pointer = two_workers.server, two_workers.pointer
    ready = server.output().count("care ready on")
    res = rollout_under_load(server, pointer, 2, rate=15.0, cap=math.nan, phase_s=3.0)
    a, b = (v.split("/") for v in res.versions)
    assert a[0] != b[0] and a[1] != b[1]  # both the model and the ranker version change
    assert res.requests > 100
    assert (res.failed, res.mixed, res.old_after_switch) == (0, 0, 0), res
    assert res.switch_s <= 30.0 and res.rollback_s <= 30.0, res
    assert server.output().count("care ready on") == ready  # switched in place: no worker restarted
    spans = switch_spans(server.output())
    assert len(spans) == 4  # each worker switched there and back
    # one at a time (10 ms: the log's timestamps are to the millisecond, the durations to 1 ms)
    assert all(a_end <= b_start + 0.01 for (_, a_end), (b_start, _) in itertools.pairwise(spans)), spans


def switch_spans(log: str) -> list[tuple[float, float]]:
    """(start, end) of each worker's switch, from the rollout's log lines (their end and duration)."""
    spans = []
    for stamp, seconds in re.findall(
        r"^(\S+ \S+) INFO care\.service\.rollout: worker .* in ([\d.]+) s$", log, re.M
    ):
        end = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()
        spans.append((end - float(seconds), end))
    return sorted(spans)


def test_a_version_that_fails_to_load_is_not_served_nor_retried(
    artifacts: Path, config_dir: Path, tmp_path: Path
) -> None:
    pointer = versions_root(tmp_path / "artifacts", artifacts)
    bad = link_version(artifacts, tmp_path / "artifacts" / "bad")
    (bad / "ranker.ubj").unlink()
    (bad / "ranker.ubj").write_bytes(b"not a model")

    async def scenario() -> None:
        svc = CareService(settings_for(pointer, config_dir, impressions="off"))
        await svc.load()
        try:
            assert svc.loaded is not None
            first = svc.loaded.model_version
            activate("bad", pointer)
            assert not await svc.rollout.check()
            assert svc.loaded.model_version == first
            assert svc.rollout.pending() is None  # remembered as failed: not loaded again every second
            assert svc.metrics.model_switches.labels("error")._value.get() == 1
            activate("b", pointer)
            assert await svc.rollout.check()
            assert svc.loaded.model_version == f"{first}-half" and svc.arms is not None
            assert svc.metrics.model_switches.labels("ok")._value.get() == 1
        finally:
            await svc.close()

    asyncio.run(scenario())
