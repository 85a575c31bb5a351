"""`care ab simulate`: a simulated audience replays the test window as live traffic against `care serve`.

Each user sends as many /recommend requests as their test window holds (their assigned arm: no arm is
forced), examines each answer with the cascade click model (eval/ab/clicks.py), and posts a play, and a
like when they rated the item >= 4, for every item played, with the request id and position. The
service logs impressions and attributes the events; `care ab report` then reads the service's own log.

Two checks: the arms' online order (play-through per impression) against the offline NDCG order of a
`care eval` report, pair by pair, within the online intervals; and the SRM check, which must fail
when `--skew ARM=POINTS` silently serves changed weights while the report checks the configured ones.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import numpy as np
import yaml

from cascade.data.dataset import Interactions
from cascade.impressions import ImpressionLog, RedisImpressionLog, SqliteImpressionLog, delete_prefix
from cascade.process import ManagedServer
from eval.ab.clicks import CascadeClickModel, ReturnModel, return_draws
from eval.ab.report import build_report, write_report
from eval.report import _f, _table, write_json

T = TypeVar("T")


@dataclass
class SimConfig:
    experiments_file: Path
    out: Path
    users: int | None = None  # seeded sample of test users; None: all
    cold_users: int = 0  # extra unknown user ids (cold start, no test window): more traffic for the SRM check
    requests: int | None = None  # per user; None: the length of the user's test window
    k: int = 10
    concurrency: int = 8
    seed: int = 0
    clicks: CascadeClickModel = field(default_factory=CascadeClickModel)
    returns: ReturnModel | None = None  # None: every user makes all their visits
    skew: tuple[str, float] | None = None  # serve with this arm's weight changed by this many points
    redis_url: str | None = None  # None: the embedded store and a SQLite impression log
    offline: Path | None = None  # a `care eval` report.json for the ordering check
    n_boot: int = 2000
    keep_log: bool = False
    server_env: Mapping[str, str] = field(default_factory=dict)
    prompts_dir: Path | None = None  # None: the experiments file's folder


@dataclass
class Traffic:
    requests: int = 0
    errors: int = 0
    plays: int = 0
    likes: int = 0
    event_posts: int = 0
    wall_s: float = 0.0


def test_windows() -> tuple[dict[int, dict[int, float]], dict[int, list[float]]]:
    """Per user: their test-window items with ratings, and the window's timestamps in order (the split
    every stage uses)."""
    from cascade.data.fetch import load_default
    from cascade.data.split import split_by_user

    return windows_of(split_by_user(load_default().interactions).test)


def windows_of(test: Interactions) -> tuple[dict[int, dict[int, float]], dict[int, list[float]]]:
    """Per user: the window's items with ratings, and its timestamps in order."""
    items: dict[int, dict[int, float]] = {}
    times: dict[int, list[float]] = {}
    for u, i, r, t in zip(
        test.user.tolist(), test.item.tolist(), test.rating.tolist(), test.ts.tolist(), strict=True
    ):
        items.setdefault(int(u), {})[int(i)] = float(r)
        times.setdefault(int(u), []).append(float(t))
    return items, {u: sorted(ts) for u, ts in times.items()}


def skewed_experiments(src: Path, dst: Path, arm: str, points: float) -> None:
    """A copy of the experiments file with one arm's weight in the default experiment changed."""
    doc = yaml.safe_load(src.read_text())
    exp = doc["experiments"][next(iter(doc["experiments"]))]
    for a in exp["arms"]:
        if a["name"] == arm:
            a["weight"] = float(a["weight"]) + points
            if a["weight"] < 0:
                raise ValueError(f"--skew {arm}={points:+g} makes the weight negative")
            break
    else:
        raise ValueError(f"--skew: no arm {arm!r} in the default experiment of {src}")
    dst.write_text(yaml.safe_dump(doc, sort_keys=False))


async def drive(
    url: str,
    plan: list[tuple[int, int]],
    wanted: Mapping[int, Mapping[int, float]],
    times: Mapping[int, Sequence[float]],
    cfg: SimConfig,
) -> Traffic:
    """Every user's requests in order (users in parallel); plays and likes posted with the request id."""
    traffic = Traffic()
    queue = iter(plan)
    limits = httpx.Limits(max_connections=cfg.concurrency, max_keepalive_connections=cfg.concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60.0) as client:

        async def user(uid: int, n: int) -> None:
            rng = np.random.default_rng([cfg.seed, uid])
            draws = return_draws(cfg.seed, uid, n)
            left = dict(wanted.get(uid, {}))
            when = list(times.get(uid, ()))
            for j in range(n):
                body: dict[str, Any] = {"user_id": uid, "k": cfg.k}
                ts = when[min(j, len(when) - 1)] + j if when else None  # the window's own clock
                if ts is not None:
                    body["context"] = {"timestamp": ts}
                r = await client.post("/recommend", json=body)
                traffic.requests += 1
                if r.status_code != 200:
                    traffic.errors += 1
                    continue
                got = r.json()
                items = [int(it["item_id"]) for it in got["items"]]
                events: list[dict[str, Any]] = []
                for p in cfg.clicks.examine(items, left, rng):
                    left.pop(p.item_id, None)
                    ev = {"user_id": uid, "item_id": p.item_id, "request_id": got["request_id"],
                          "position": p.position}  # fmt: skip
                    if ts is not None:
                        ev["timestamp"] = ts + 0.5
                    events.append({**ev, "type": "play"})
                    traffic.plays += 1
                    if p.liked:
                        events.append({**ev, "type": "like"})
                        traffic.likes += 1
                if events:
                    e = await client.post("/events", json={"events": events})
                    traffic.event_posts += 1
                    if e.status_code != 200:
                        traffic.errors += 1
                played = any(ev["type"] == "play" for ev in events)
                if cfg.returns is not None and j + 1 < n and not cfg.returns.comes_back(played, draws[j]):
                    break  # the user does not come back (eval/ab/clicks.py, ReturnModel)

        async def worker() -> None:
            for uid, n in queue:
                await user(uid, n)

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(cfg.concurrency)))
        traffic.wall_s = time.perf_counter() - t0
    return traffic


def offline_ndcg(path: Path) -> dict[str, dict[str, float]]:
    """NDCG@10 per user set and arm from a `care eval` report.json (no-context runs left out)."""
    rep = json.loads(path.read_text())
    return {
        s: {name: float(m["ndcg@10"]) for name, m in systems.items() if "[" not in name and ":" not in name}
        for s, systems in rep["systems"].items()
    }


def ordering_check(report: Mapping[str, Any], offline: Mapping[str, Mapping[str, float]]) -> dict[str, Any]:
    """Per pair of arms: does the online play-through difference contradict the offline NDCG order?

    A pair agrees within the intervals unless the online 95% interval lies entirely on the other side of
    zero from the offline difference. Offline pairs are read from one user set (all users first, so
    arms on a sub-sample, the LLM ones, are compared on that sub-sample).
    """
    pairs = []
    for key, comp in report["pairwise"].items():
        a, b = key.split(" - ")
        where = next((s for s in offline if a in offline[s] and b in offline[s]), None)
        if where is None:
            continue
        off = offline[where][a] - offline[where][b]
        on = comp["play_through"]
        contradicts = (off > 0 and on["hi"] < 0) or (off < 0 and on["lo"] > 0)
        pairs.append(
            {
                "pair": key,
                "offline_set": where,
                "offline_ndcg_diff": off,
                "online_play_through_diff": on["mean_diff"],
                "online_lo": on["lo"],
                "online_hi": on["hi"],
                "same_sign": (off > 0) == (on["mean_diff"] > 0),
                "online_significant": bool(on["excludes_zero"]),
                "contradicts": contradicts,
            }
        )
    return {
        "pairs": pairs,
        "agrees_within_intervals": bool(pairs) and not any(p["contradicts"] for p in pairs),
    }


def _open(cfg: SimConfig, prefix: str, sqlite: Path) -> ImpressionLog:
    if cfg.redis_url is not None:
        return RedisImpressionLog(cfg.redis_url, prefix)
    return SqliteImpressionLog(sqlite)


def audience(cfg: SimConfig, wanted: Mapping[int, Mapping[int, float]]) -> list[tuple[int, int]]:
    """(user, requests) for the configured sample of test users plus the cold-start ids."""
    users = sorted(wanted)
    if cfg.users is not None:
        users = sorted(int(u) for u in np.random.default_rng(cfg.seed).permutation(users)[: cfg.users])
    first_cold = max(wanted, default=0) + 1
    plan = [(u, cfg.requests or len(wanted[u])) for u in users]
    return plan + [(first_cold + i, cfg.requests or 10) for i in range(cfg.cold_users)]


def replay(
    cfg: SimConfig,
    serving_file: Path,
    plan: list[tuple[int, int]],
    wanted: Mapping[int, Mapping[int, float]],
    times: Mapping[int, Sequence[float]],
    read: Callable[[ImpressionLog, float, float], T],
    module: str = "service.cli",
    log_name: str = "impressions",
) -> tuple[Traffic, T]:
    """A fresh service (`python -m MODULE serve`) serves `serving_file` to `plan`; what `read` makes of
    its log (given the run's time range)."""
    prefix = f"care-sim-{uuid.uuid4().hex[:8]}:"
    cfg.out.mkdir(parents=True, exist_ok=True)
    sqlite = cfg.out / f"{log_name}.sqlite"
    if sqlite.exists():
        sqlite.unlink()
    env = {
        "CARE_EXPERIMENTS_FILE": str(serving_file),
        "CARE_PROMPTS_DIR": str(cfg.prompts_dir or cfg.experiments_file.parent),
        "CARE_REDIS_URL": cfg.redis_url or "",
        "CARE_REDIS_PREFIX": prefix,
        "CARE_IMPRESSIONS": "auto",
        "CARE_USERS_AS_OF": "test",  # the test window is the future: not in anyone's history yet
        "CARE_IMPRESSIONS_PATH": str(sqlite),
        "CARE_MAX_INFLIGHT": str(max(64, 4 * cfg.concurrency)),
        **cfg.server_env,
    }
    since = time.time() - 1.0
    try:
        with server_process(env, module) as server:
            traffic = asyncio.run(drive(server.url, plan, wanted, times, cfg))
        until = time.time() + 1.0
        sink = _open(cfg, prefix, sqlite)
        try:
            result = read(sink, since, until)
        finally:
            sink.close()
    finally:
        if cfg.redis_url is not None and not cfg.keep_log:
            delete_prefix(cfg.redis_url, prefix)
    return traffic, result


def server_process(env: Mapping[str, str], module: str) -> ManagedServer:
    """`care serve` on a loopback port, or one worker started by another module (the bad arm's server)."""
    serve = ["serve", "--workers", "1"] if module == "service.cli" else []  # `care serve`, one worker
    argv = [sys.executable, "-m", module, *serve, "--host", "127.0.0.1"]
    return ManagedServer(
        lambda port: [*argv, "--port", str(port)], "/readyz", env=env, start_timeout_s=180.0,
        stop_signal=signal.SIGINT, stop_timeout_s=15.0, name="care-serve",
    )  # fmt: skip


def simulate(
    cfg: SimConfig,
    windows: Mapping[int, Mapping[int, float]] | None = None,
    times: Mapping[int, Sequence[float]] | None = None,
) -> dict[str, Any]:
    """Start a service, replay the traffic, write the A/B report and the simulation summary under cfg.out."""
    cfg.out.mkdir(parents=True, exist_ok=True)
    if windows is None:
        windows, times = test_windows()
    plan = audience(cfg, windows)
    serving_file = cfg.experiments_file
    if cfg.skew is not None:
        serving_file = cfg.out / "serving-experiments.yaml"
        skewed_experiments(cfg.experiments_file, serving_file, *cfg.skew)
    traffic, report = replay(
        cfg, serving_file, plan, windows, times or {},
        lambda sink, since, until: build_report(sink, since, until, cfg.experiments_file, n_boot=cfg.n_boot),
    )  # fmt: skip
    write_report(cfg.out / "report", report)
    ordering = ordering_check(report, offline_ndcg(cfg.offline)) if cfg.offline is not None else None
    srm_passed = bool(report["srm"]["passed"])
    summary = {
        "config": {
            **{k: v for k, v in asdict(cfg).items() if k not in ("clicks", "returns", "server_env")},
            "clicks": asdict(cfg.clicks),
            "returns": asdict(cfg.returns) if cfg.returns is not None else None,
            "examination_without_plays": cfg.clicks.examination(cfg.k),
            "users_simulated": len(plan),
            "serving_experiments_file": str(serving_file),
            "log": "redis" if cfg.redis_url else "sqlite",
        },
        "traffic": asdict(traffic),
        "srm": report["srm"],
        "ordering": ordering,
        "arms": {
            a: {
                k: v[k]
                for k in (
                    "reranker",
                    "users",
                    "impressions",
                    "play_through",
                    "like_rate",
                    "mrr_first_play",
                    "fallback_rate",
                    "fallback_reasons",
                    "ci95",
                )
            }
            for a, v in report["arms"].items()
        },
        "verdict": verdict(cfg, srm_passed, ordering),
    }
    write_json(cfg.out / "simulation.json", json.loads(json.dumps(summary, default=str)))
    (cfg.out / "simulation.md").write_text(simulation_markdown(summary), encoding="utf-8")
    return summary


def verdict(cfg: SimConfig, srm_passed: bool, ordering: Mapping[str, Any] | None) -> dict[str, Any]:
    """ok: SRM flagged exactly when a skew was injected, and the ordering agrees (when checked)."""
    srm_ok = srm_passed if cfg.skew is None else not srm_passed
    order_ok = ordering is None or bool(ordering["agrees_within_intervals"])
    return {"ok": srm_ok and order_ok, "srm_as_expected": srm_ok, "ordering_ok": order_ok}


def simulation_markdown(s: Mapping[str, Any]) -> str:
    c, t = s["config"], s["traffic"]
    cl = c["clicks"]
    lines = [
        "# care A/B simulation",
        "",
        f"{c['users_simulated']} users ({c['cold_users']} cold-start), {t['requests']} requests, "
        f"{t['plays']} plays, {t['likes']} likes, {t['errors']} errors, {t['wall_s']:.1f} s; "
        f"log {c['log']}; serving experiments `{c['serving_experiments_file']}`"
        + (f" (skew {c['skew'][0]} {c['skew'][1]:+g} points)" if c["skew"] else ""),
        "",
        f"Cascade click model: attract {cl['attract']}, noise {cl['noise']}, patience {cl['patience']}, "
        f"satisfied {cl['satisfied']}, like when rating >= {cl['like_rating']}.",
        "",
        "| arm | reranker | users | impressions | play-through [95% CI] | MRR first play | fallback rate |",
        "|---|---|---|---|---|---|---|",
    ]
    for a, v in s["arms"].items():
        ci = v["ci95"]["play_through"]
        lines.append(
            f"| {a} | {v['reranker']} | {v['users']} | {v['impressions']} | {_f(v['play_through'])} "
            f"[{_f(ci[0])}, {_f(ci[1])}] | {_f(v['mrr_first_play'])} | {_f(v['fallback_rate'], 3)} |"
        )
    srm = s["srm"]
    lines += ["", f"SRM: {'passed' if srm['passed'] else 'FLAGGED'} (chi2 {srm['chi2']:.2f}, df {srm['df']}, "
              f"p {srm['p_value']:.3g})", ""]  # fmt: skip
    if s["ordering"] is not None:
        rows = [
            [p["pair"], p["offline_set"], _f(p["offline_ndcg_diff"]),
             f"{_f(p['online_play_through_diff'])} [{_f(p['online_lo'])}, {_f(p['online_hi'])}]",
             "yes" if p["same_sign"] else "no", "yes" if p["contradicts"] else "no"]
            for p in s["ordering"]["pairs"]
        ]  # fmt: skip
        lines += [_table(["pair", "offline users", "offline ΔNDCG@10", "online Δplay-through [95% CI]",
                          "same sign", "contradicts"], rows), ""]  # fmt: skip
        lines += [f"Ordering agrees within the intervals: **{s['ordering']['agrees_within_intervals']}**", ""]
    lines += [f"Verdict: **{'ok' if s['verdict']['ok'] else 'FAILED'}** {s['verdict']}", ""]
    return "\n".join(lines)
