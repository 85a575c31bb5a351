"""`care bench rollout`: switch a running `care serve --workers N` to another model version under paced load.

The server follows a `current` pointer in an artifacts root of its own (version `a`: the trained
artifacts, linked; `b`: another trained folder, or `a` with its ranker cut to half its trees). Under
Poisson load at a share of the measured capacity, the pointer moves to `b` (what `care models activate`
does), then back (`care models rollback`). Counted: failed requests; responses that mix versions (a
pair of model and ranker versions that no version has, or items other than what that version answers
the same user when it serves alone); seconds from the flip until every worker reports the new version.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import httpx

from cascade.paths import artifacts_dir
from cascade.ranking.xgb import XGBRanker
from cascade.runtime import MANIFEST, RANKER_FILE
from cascade.runtime.versions import POINTER, activate, rollback
from service.bench.paced import N_USERS, PacedLoad, Request, Sample, capacity, recommend
from service.bench.runs import emit, redis_prefix
from service.process import ServerProcess

Versions = tuple[str, str]  # (model_version, ranker_version)
Answers = dict[Versions, dict[int, list[int]]]
USERS = 40  # the load cycles over this many users, so each version's answer to each is seen
_MODEL_LINE = re.compile(r"^care_model_loaded\{([^}]*)\} ([0-9.e+-]+)$", re.M)


def link_version(base: Path, dest: Path) -> Path:
    """`dest` as a version folder holding links to every file of `base` (no copy)."""
    dest.mkdir(parents=True)
    for entry in base.resolve().iterdir():
        (dest / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    return dest


def variant(base: Path, dest: Path, suffix: str = "half") -> Path:
    """A second version of `base` in seconds: its ranker cut to half its trees (another ranker version,
    other rankings), every other file linked, the manifest's version and ranker version updated."""
    link_version(base, dest)
    for name in (RANKER_FILE, MANIFEST):
        (dest / name).unlink()
    ranker = XGBRanker.load(base / RANKER_FILE)
    rounds = ranker.booster.num_boosted_rounds()
    XGBRanker(ranker.booster[: max(1, rounds // 2)]).save(dest / RANKER_FILE)
    manifest = json.loads((base / MANIFEST).read_text())
    manifest["version"] = f"{manifest.get('version', 'v')}-{suffix}"
    manifest["ranker"] = {**manifest.get("ranker", {}), "version": XGBRanker.load(dest / RANKER_FILE).version}
    manifest["model_hash"] = f"{manifest.get('model_hash', '')}-{suffix}"
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return dest


def versions_root(root: Path, base: Path, second: Path | None = None) -> Path:
    """`root` with versions `a` (links to `base`) and `b` (links to `second`, or a `variant` of `base`),
    `current` -> a; returns the pointer."""
    link_version(base, root / "a")
    if second is not None:
        link_version(second, root / "b")
    else:
        variant(base, root / "b")
    activate("a", root / POINTER)
    return root / POINTER


def user_of(s: Sample) -> int:
    return 1 + (s.i % USERS) % N_USERS


def cycling(i: int) -> Request:
    """/recommend (rules arm) for user 1 + i mod USERS."""
    return recommend(i % USERS)


def versions_of(s: Sample) -> Versions | None:
    body = s.body or {}
    return (str(body["model_version"]), str(body["ranker_version"])) if "model_version" in body else None


def answers(samples: list[Sample]) -> Answers:
    """Each version's items per user."""
    out: dict[Versions, dict[int, list[int]]] = defaultdict(dict)
    for s in samples:
        v = versions_of(s)
        if v is not None and s.body is not None:
            out[v][user_of(s)] = [int(it["item_id"]) for it in s.body["items"]]
    return dict(out)


def mixed(samples: list[Sample], expected: Answers) -> list[Sample]:
    """Answers whose version pair is unknown, or whose items differ from that version's for the user."""
    bad = []
    for s in samples:
        v = versions_of(s)
        if v is None or s.body is None:
            continue
        want = expected.get(v, {}).get(user_of(s))
        if v not in expected or (want is not None and want != [int(it["item_id"]) for it in s.body["items"]]):
            bad.append(s)
    return bad


def worker_versions(url: str) -> dict[str, Versions]:
    """/metrics: the version each live worker (pid) reports serving."""
    out: dict[str, Versions] = {}
    for labels, value in _MODEL_LINE.findall(httpx.get(url + "/metrics", timeout=5.0).text):
        kv = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        if float(value) == 1.0:
            out[kv.get("pid", "0")] = (kv["model_version"], kv["ranker_version"])
    return out


def wait_switched(url: str, want: Versions, workers: int, limit_s: float = 60.0) -> None:
    """Blocks until `workers` workers all report `want` in /metrics."""
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        now = worker_versions(url)
        if len(now) >= workers and all(v == want for v in now.values()):
            return
        time.sleep(0.1)
    raise RuntimeError(f"workers did not all switch to {want} in {limit_s} s: {worker_versions(url)}")


@dataclass
class RolloutResult:
    workers: int
    capacity_rps: float
    rate_rps: float
    requests: int
    failed: int
    mixed: int
    old_after_switch: int  # requests sent after every worker switched, answered by the old version
    switch_s: float  # pointer flipped -> every worker reports the new version
    rollback_s: float
    versions: list[str]

    def ok(self) -> bool:
        clean = self.failed == 0 and self.mixed == 0 and self.old_after_switch == 0
        return clean and max(self.switch_s, self.rollback_s) <= 30.0


def rollout_under_load(
    server: ServerProcess, pointer: Path, workers: int, rate: float, cap: float, phase_s: float = 6.0
) -> RolloutResult:
    """Load at `rate`; flip the pointer to `b` after `phase_s`, back after the switch plus `phase_s`."""
    url = server.url
    with PacedLoad(url, rate, cycling, connections=4) as load:
        time.sleep(phase_s)
        a = versions_of(next(s for s in load.samples if s.body and "model_version" in s.body))
        assert a is not None, "no answer before the flip"
        t_flip, t0 = load.now(), time.monotonic()
        activate("b", pointer)
        b = _other(url, a)
        wait_switched(url, b, workers)
        switch_s, b_from = time.monotonic() - t0, load.now()
        time.sleep(phase_s)
        t_back, t0 = load.now(), time.monotonic()
        rollback(pointer)
        wait_switched(url, a, workers)
        rollback_s = time.monotonic() - t0
        a_from = load.now()
        time.sleep(phase_s / 2)
    samples = load.samples
    expected = answers([s for s in samples if s.sent < t_flip])
    expected.update(answers([s for s in samples if b_from <= s.sent < t_back]))
    late_old = [s for s in samples if b_from <= s.sent < t_back and versions_of(s) not in (None, b)]
    late_old += [s for s in samples if s.sent >= a_from and versions_of(s) not in (None, a)]
    return RolloutResult(
        workers,
        cap,
        rate,
        len(samples),
        sum(not s.ok for s in samples),
        len(mixed(samples, expected)),
        len(late_old),
        switch_s,
        rollback_s,
        ["/".join(a), "/".join(b)],
    )


def _other(url: str, current: Versions) -> Versions:
    """Blocks until some worker reports a version other than `current`; returns it."""
    end = time.monotonic() + 60.0
    while time.monotonic() < end:
        for v in worker_versions(url).values():
            if v != current:
                return v
        time.sleep(0.1)
    raise RuntimeError(f"no worker left {current} within 60 s")


def server_env(pointer: Path, prefix: str, redis_url: str) -> dict[str, str]:
    return {
        "CARE_ARTIFACTS": str(pointer),
        "CARE_REDIS_URL": redis_url,
        "CARE_REDIS_PREFIX": prefix,
        "CARE_RELOAD_INTERVAL_S": "0.5",
        "CARE_IMPRESSIONS": "off",
        "CARE_DISCOUNT__ENABLED": "false",  # one answer per user and version: what `mixed` compares
    }


def run(
    workers: int = 2,
    share: float = 0.5,
    second: Path | None = None,
    out: Path | None = None,
    redis_url: str = "redis://127.0.0.1:6379/15",
) -> RolloutResult:
    """The bench: capacity first (closed loop, 8 connections, 5 s), then the rollout at `share` of it."""
    from service.bench.service import _wait_workers

    root = Path(tempfile.mkdtemp(prefix="care-rollout-"))
    try:
        with redis_prefix(redis_url, "bench-rollout") as prefix:
            pointer = versions_root(root, artifacts_dir(), second)
            with ServerProcess(
                server_env(pointer, prefix, redis_url), args=["--workers", str(workers)]
            ) as server:
                _wait_workers(server, workers)
                cap = capacity(server.url, 5.0, 8, cycling)
                res = rollout_under_load(server, pointer, workers, share * cap, cap)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    emit(res, out)
    return res
