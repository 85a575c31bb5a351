"""`care bench service --items N`: `care serve` over a synthetic catalog of N items, driven by wrk.

Builds (or reuses) the synthetic artifacts (`cascade.scale`), measures the index's recall@500
against exact search, starts the service on them (in-process store, so one worker; rules arm;
impression log off), checks that answers are valid items of that catalog, then runs wrk per
connection count: req/s, p50, p99. The item-item source is on: the trained model grown to the
catalog (`cascade.scale.collab`), its neighbour lists and EASE factors sized for N items.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np

from cascade.retrieval.index import IndexConfig
from cascade.runtime.grow import Built, ScaleSpec, scaled_artifacts
from cascade.scale.recall import IndexRecall, index_recall
from service.bench.service import LUA, WrkResult, wrk
from service.process import ServerProcess

TARGET_P50_MS = 10.0
NPROBE_SWEEP = (16, 32, 64, 128)
RULES_ONLY = """\
experiments:
  bench:
    salt: bench-items
    arms:
      - {name: rules, weight: 100, reranker: rules}
"""


@dataclass(frozen=True)
class Answers:
    items: dict[int, list[int]]  # user id -> recommended item ids
    stage_p50_ms: dict[str, float]  # the service's own timings_ms per stage, median over the users


@dataclass(frozen=True)
class ItemsBench:
    built: Built
    recall: IndexRecall
    ready_s: float  # from process start to /readyz 200
    rss_mib: float  # the server's resident memory once ready
    answers: Answers  # the answer check, before wrk
    runs: list[tuple[int, WrkResult]]  # (connections, wrk result)

    @property
    def synthetic_share(self) -> float:
        """Share of the checked answers' items that are synthetic (ids from the first synthetic one)."""
        first = int(self.built.manifest["synthetic"]["first_id"])
        ids = [i for items in self.answers.items.values() for i in items]
        return sum(i >= first for i in ids) / max(len(ids), 1)


def check_answers(url: str, users: Sequence[int], k: int = 10) -> Answers:
    """POST /recommend (rules arm) per user; RuntimeError unless each answers k distinct items."""
    out: dict[int, list[int]] = {}
    stages: dict[str, list[float]] = {}
    with httpx.Client(base_url=url, timeout=60.0) as client:
        for u in users:
            r = client.post("/recommend", json={"user_id": u, "k": k, "arm": "rules"})
            if r.status_code != 200:
                raise RuntimeError(f"user {u}: HTTP {r.status_code}: {r.text[:300]}")
            body = r.json()
            ids = [int(it["item_id"]) for it in body["items"]]
            if len(ids) != k or len(set(ids)) != k:
                raise RuntimeError(f"user {u}: expected {k} distinct items, got {ids}")
            out[u] = ids
            for stage, ms in body["timings_ms"].items():
                stages.setdefault(stage, []).append(float(ms))
    return Answers(out, {s: float(np.median(v)) for s, v in stages.items()})


def serve_env(folder: Path, tmp: Path) -> dict[str, str]:
    """CARE_* settings for `care serve` on `folder`: in-process store, rules arm only, no impression log."""
    experiments = tmp / "experiments.yaml"
    experiments.write_text(RULES_ONLY)
    return {
        "CARE_ARTIFACTS": str(folder),
        "CARE_REDIS_URL": "",
        "CARE_EXPERIMENTS_FILE": str(experiments),
        "CARE_IMPRESSIONS": "off",
    }


def run(
    items: int,
    seconds: float = 10.0,
    connections: Sequence[int] = (1,),
    seed: int = 0,
    index: IndexConfig | None = None,
    rebuild: bool = False,
    root: Path | None = None,
    base: Path | None = None,
    check_users: int = 50,
) -> ItemsBench:
    """Build or reuse, measure recall, serve, check, drive with wrk; prints each step's numbers."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install -y wrk (the Makefile's bench target does)")
    spec = ScaleSpec(items, seed, index or IndexConfig())
    built = scaled_artifacts(spec, base, root, rebuild)
    syn = built.manifest["synthetic"]
    how = "reused (cached)" if built.reused else f"built in {built.seconds:.1f} s"
    print(f"care bench service --items {items:,}: {built.folder} {how}", flush=True)
    if built.reused:
        print(f"  (its build took {syn['timings']['total_s']:.1f} s; --rebuild to redo it)", flush=True)
    print(f"  item-item source {syn['collab']}", flush=True)
    recall = index_recall(built.folder, nprobes=NPROBE_SWEEP)
    print(
        f"index {recall.kind} ({recall.params}): recall@{recall.k} vs exact search {recall.recall:.3f} "
        f"over {recall.queries} user queries; one-thread search p50 {recall.ann_p50_ms:.2f} ms "
        f"(exact {recall.exact_p50_ms:.2f} ms)",
        flush=True,
    )
    if recall.sweep:
        cells = "  ".join(f"nprobe {n}: {r:.3f} in {ms:.2f} ms" for n, (r, ms) in recall.sweep.items())
        print(f"  recall@{recall.k} by nprobe: {cells}", flush=True)
    runs: list[tuple[int, WrkResult]] = []
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "recommend.lua"
        script.write_text(LUA)
        t0 = time.perf_counter()
        with ServerProcess(serve_env(built.folder, Path(tmp)), start_timeout_s=1200.0) as server:
            ready_s = time.perf_counter() - t0
            rss = server.rss_kib() / 1024.0
            answers = check_answers(server.url, range(1, check_users + 1))
            stages = "  ".join(f"{s} {ms:.2f}" for s, ms in answers.stage_p50_ms.items())
            print(f"service ready in {ready_s:.1f} s, RSS {rss:,.0f} MiB; {len(answers.items)} users checked")
            print(f"  server-side p50 ms per stage (one request at a time): {stages}", flush=True)
            url = server.url + "/recommend"
            wrk(url, 1, min(2.0, seconds), script)  # warm-up
            assert server.proc is not None
            for c in connections:
                load = os.getloadavg()[0]
                r = wrk(url, c, seconds, script, server.proc.pid)
                runs.append((c, r))
                print(
                    f"wrk c={c:<3d} {r.rps:8.1f} req/s  p50 {r.p50_ms:7.2f} ms  p99 {r.p99_ms:7.2f} ms  "
                    f"server CPU {r.cpu_ms_per_req:5.2f} ms/req  non-2xx {r.non_2xx} errors {r.errors}  "
                    f"(load average {load:.2f} before)",
                    flush=True,
                )
    result = ItemsBench(built, recall, ready_s, rss, answers, runs)
    print(f"{result.synthetic_share:.0%} of the checked answers' items are synthetic")
    one = dict(runs).get(1)
    if one is not None:
        verdict = "met" if one.p50_ms <= TARGET_P50_MS else "missed"
        print(f"1 connection: p50 {one.p50_ms:.2f} ms (target <= {TARGET_P50_MS:g} ms: {verdict})")
    return result
