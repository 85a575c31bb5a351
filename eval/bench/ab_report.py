"""`care bench ab-report`: time `care ab report` over synthetic impressions in each log backend."""

from __future__ import annotations

import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

from cascade.experiments import load_experiments
from cascade.impressions import Impression, ImpressionLog, Outcome, RedisImpressionLog, SqliteImpressionLog
from eval.ab.report import build_report, write_report

BATCH = 10_000


def synthetic(
    n: int, n_users: int, experiments_file: Path, seed: int = 0, t0: float = 1.7e9
) -> tuple[list[Impression], list[Outcome]]:
    """n impressions over an hour, users assigned by the experiment's own hash; ~30% get a play."""
    doc = load_experiments(experiments_file)
    exp_name, exp = doc.default, doc.get()
    arm_of = [exp.assign(u).name for u in range(n_users)]
    rng = np.random.default_rng(seed)
    users = rng.integers(0, n_users, n)
    ts = np.sort(rng.uniform(t0, t0 + 3600.0, n))
    items = rng.integers(1, 1683, (n, 10))
    play_at = np.where(rng.random(n) < 0.3, rng.integers(1, 11, n), 0)
    liked = rng.random(n) < 0.4
    imps: list[Impression] = []
    outs: list[Outcome] = []
    for i in range(n):
        u = int(users[i])
        arm = arm_of[u]
        rid = f"s{i:x}"
        its = tuple(int(x) for x in items[i])
        imps.append(Impression(float(ts[i]), rid, u, exp_name, arm, arm, None, None, its, 2.0, 0.3, False))
        p = int(play_at[i])
        if p:
            outs.append(Outcome(float(ts[i]) + 5, u, its[p - 1], "play", rid, exp_name, arm, p, "request_id"))
            if liked[i]:
                outs.append(Outcome(float(ts[i]) + 6, u, its[p - 1], "like", rid, exp_name, arm, p, "window"))
    outs.sort(key=lambda o: o.ts)
    return imps, outs


def _fill_redis(sink: RedisImpressionLog, imps: list[Impression], outs: list[Outcome]) -> None:
    """Stream entries only (what the report reads), with ids from the records' own times."""
    r = sink._r
    for key, recs in ((sink.imp_key, imps), (sink.out_key, outs)):
        for s in range(0, len(recs), BATCH):
            pipe = r.pipeline(transaction=False)
            for rec in recs[s : s + BATCH]:
                pipe.xadd(key, {"d": rec.encode()}, id=f"{int(rec.ts * 1000)}-*")
            pipe.execute()


def _fill(sink: ImpressionLog, imps: list[Impression], outs: list[Outcome]) -> None:
    if isinstance(sink, RedisImpressionLog):
        _fill_redis(sink, imps, outs)
        return
    for s in range(0, len(imps), BATCH):
        sink.append(imps[s : s + BATCH])
    for s in range(0, len(outs), BATCH):
        sink.record(outs[s : s + BATCH])


def run(
    n: int, n_users: int, backends: list[str], redis_url: str, experiments_file: Path, n_boot: int
) -> None:
    print(f"care bench ab-report: {n:,} impressions, {n_users:,} users, bootstrap {n_boot}", flush=True)
    t = time.perf_counter()
    imps, outs = synthetic(n, n_users, experiments_file)
    print(
        f"generated {len(imps):,} impressions and {len(outs):,} outcomes in {time.perf_counter() - t:.1f} s"
    )
    with tempfile.TemporaryDirectory(prefix="care-ab-bench-") as tmp:
        for backend in backends:
            sink: ImpressionLog
            if backend == "sqlite":
                sink = SqliteImpressionLog(Path(tmp) / "impressions.sqlite", max_rows=max(n, 1) * 2)
            else:
                sink = RedisImpressionLog(redis_url, f"care-bench-ab-{uuid.uuid4().hex[:8]}:", max_len=n * 2)
            try:
                t = time.perf_counter()
                _fill(sink, imps, outs)
                fill_s = time.perf_counter() - t
                t, cpu = time.perf_counter(), time.process_time()
                report = build_report(sink, 0.0, 4e9, experiments_file, n_boot=n_boot)
                write_report(Path(tmp) / f"report-{backend}", report)
                total, cpu = time.perf_counter() - t, time.process_time() - cpu
            finally:
                if isinstance(sink, RedisImpressionLog):
                    sink.delete_all()
                sink.close()
            tm = report["timing_s"]
            print(
                f"{backend:7s} fill {fill_s:6.1f} s | report {total:6.1f} s wall, {cpu:.1f} s CPU "
                f"(read {tm['read']:.1f}, "
                f"compute {tm['total'] - tm['read']:.1f}, write {tm['write']:.1f}) for "
                f"{report['totals']['impressions']:,} impressions; target <= 30 s: "
                f"{'met' if total <= 30 else 'MISSED'}",
                flush=True,
            )
