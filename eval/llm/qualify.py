"""`care llm qualify`: will a model help the fused arm, and at what weight, before any traffic is spent.

On validation windows only (the test window is never read): for N seeded validation users, the
ranker's top 20 (derived playlist title, as the fused arm gets it) is scored by the fused arm's own
scorer (FusedLLMReranker.llm_scores) under K seeded shuffles. From those scores:
- the label-position prior, PriDe-style (eval.llm.debias), and its share of the score variance;
- the AUC of the de-biased single-shuffle scores against the user's validation items within the
  window, mean over users with a bootstrap 95% CI (the fused arm scores one shuffle per request);
- self-consistency: Kendall's tau between the shuffles' scores of the same window;
- on titled windows (a labelled title from eval/titles.yaml instead of the derived one), the AUC of
  on-theme (sharing a labelled genre) against off-theme candidates;
- latency p50/p95 of one window's scoring (on one worker);
- the predicted fused gain, the verdict and the weight (eval.llm.verdict) from the calibration curve.
On "serve" it writes prompts/<name>.yaml with the weight, MMR lambda and the position prior, the
file a fused arm with `tuned: <name>` reads.

Speed: the windows are shared out among workers, each scoring whole windows (all K shuffles in a row,
so the system text, recent movies and playlist stay in its KV cache: of about 426 prompt tokens a call
evaluates about 357, the shuffled candidates and the question). The embedded model runs as n_threads
copies of one thread each rather than one copy of n_threads threads: llama.cpp's threads meet at a
barrier after every operation, so a two-thread copy goes at the pace of its slower thread, while
one-thread copies never wait for each other. On 2 cores, 20 windows x 3 shuffles back to back:
83-84 s (150 CPU s) against 89-93 s (157 CPU s); the scores are the same. A token costs about 6.8
CPU ms either way, so 100 windows plus 20 titled (about 128,600 tokens) need about 870 CPU s, some
7.5 minutes on two free cores. Over HTTP the workers are requests in flight to the one server.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from cascade.llm import (
    PROMPTS_DIR,
    BackendError,
    FusedLLMReranker,
    FusionSettings,
    HTTPBackendConfig,
    InvalidOutput,
    LLMSettings,
    LLMUnavailable,
    ModelChoice,
    open_stage,
    shuffle_windows,
)
from cascade.rerank.rules import DEFAULT_CONFIG, RulesReranker
from eval.llm.debias import Prior, ShuffledWindow, debiased, estimate_prior
from eval.llm.stats import interval, kendall, percentiles, window_auc
from eval.llm.verdict import decide, load_calibration
from eval.titlefit import load_titles, pair_titles
from eval.tune_fusion import Window, held_out_users, user_windows, write_tuning

N_SCORED = 20
HTTP_WORKERS = 4  # requests in flight to a server when --workers is not given
CALIBRATION_FILE = Path(__file__).with_name("calibration.json")


@dataclass
class QualifyConfig:
    """What `care llm qualify` measures."""

    llm: LLMSettings
    users: int = 100
    shuffles: int = 3
    titled: int = 20  # of the users, also scored under a labelled title
    seed: int = 0
    prompt: str = "fused"
    model: ModelChoice = "base"
    calibration: Path | None = CALIBRATION_FILE
    name: str = "fusion_tuned"
    prompts_dir: Path = PROMPTS_DIR
    artifacts: Path | None = None
    n_boot: int = 2000
    progress: bool = True
    workers: int = 0  # 0: the embedded model's n_threads (one thread each); HTTP_WORKERS over HTTP


def worker_plan(llm: LLMSettings, workers: int = 0) -> tuple[int, LLMSettings]:
    """How many windows are scored side by side, and the settings of each worker's stage.

    In process: `workers` copies of the model (default n_threads), the threads shared out among them
    (one each by default). Over HTTP: the same settings, `workers` requests in flight.
    """
    b = llm.backend
    if isinstance(b, HTTPBackendConfig):
        return max(1, workers or HTTP_WORKERS), llm
    n = max(1, workers or b.n_threads)
    one = b.model_copy(update={"n_threads": max(1, b.n_threads // n)})
    return n, llm.model_copy(update={"backend": one})


async def score_window(scorers: Sequence[FusedLLMReranker], w: Window, rel: set[int]) -> ShuffledWindow:
    """A window's top 20 scored once per scorer (one seed each), with label positions and times."""
    n = min(len(w.inp.candidates), N_SCORED)
    raw = np.zeros((len(scorers), n))
    pos = np.zeros((len(scorers), n), dtype=np.int64)
    ms = []
    for k, sc in enumerate(scorers):
        t0 = time.perf_counter()
        s, _ = await sc.llm_scores(w.inp)
        ms.append((time.perf_counter() - t0) * 1000.0)
        raw[k] = s[:n]
        for win in shuffle_windows(n, sc.window, w.inp.user_id, sc.settings.seed, 0):
            pos[k, win] = np.arange(len(win))
    flags = np.asarray([c.item_id in rel for c in w.inp.candidates[:n]], dtype=bool)
    return ShuffledWindow(w.inp.user_id, raw, pos, flags, ms)


async def score_shuffles(
    workers: Sequence[Sequence[FusedLLMReranker]],
    windows: Sequence[Window],
    relevant: Sequence[set[int]],
    label: str,
) -> list[ShuffledWindow]:
    """Every window scored by the first free worker (its scorers: one per shuffle); input order kept."""
    out: list[ShuffledWindow | None] = [None] * len(windows)
    todo = iter(range(len(windows)))
    done = 0

    async def work(scorers: Sequence[FusedLLMReranker]) -> None:
        nonlocal done
        for no in todo:
            out[no] = await score_window(scorers, windows[no], relevant[no])
            done += 1
            if label:
                print(f"\r{label}: {done}/{len(windows)} windows", end="", flush=True)

    tasks = [asyncio.create_task(work(s)) for s in workers]
    try:
        await asyncio.gather(*tasks)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    if label:
        print()
    return [w for w in out if w is not None]


def token_usage(backends: Sequence[object]) -> dict[str, float] | None:
    """Prompt tokens per call and the share evaluated (the rest came from the KV cache); None over HTTP."""
    usage = [u for b in dict.fromkeys(backends) if isinstance(u := getattr(b, "usage", None), dict)]
    calls = sum(u["calls"] for u in usage)
    if not calls:
        return None
    prompt, evaluated = sum(u["prompt_tokens"] for u in usage), sum(u["evaluated_tokens"] for u in usage)
    return {
        "calls": float(calls),
        "prompt_per_call": prompt / calls,
        "evaluated_per_call": evaluated / calls,
        "evaluated": float(evaluated),
    }


def on_theme_items(w: Window, genres: Sequence[str]) -> set[int]:
    """The window's candidates sharing a genre with a labelled title."""
    return {c.item_id for c in w.inp.candidates if set(c.genres) & set(genres)}


def window_aucs(windows: Sequence[ShuffledWindow], prior: np.ndarray) -> list[float]:
    """Per window, the mean over shuffles of the de-biased scores' AUC (nan: no relevant or none else)."""
    return [float(np.mean([window_auc(s, w.relevant) for s in debiased(w, prior)])) for w in windows]


def consistency(windows: Sequence[ShuffledWindow], prior: np.ndarray, n_boot: int) -> dict[str, Any]:
    """Kendall's tau between every pair of shuffles of a window, raw and de-biased; mean over users."""
    out = {}
    for name, get in (("raw", lambda w: w.raw), ("debiased", lambda w: debiased(w, prior))):
        per = [float(np.mean([kendall(a, b) for a, b in itertools.combinations(get(w), 2)])) for w in windows]
        out[name] = interval(per, n_boot)
    return out


def analyse(
    plain: list[ShuffledWindow], titled: list[ShuffledWindow], n_boot: int
) -> tuple[Prior, dict[str, Any]]:
    """The prior (from the plain windows) and every measured number."""
    prior = estimate_prior(plain, N_SCORED)
    zero = np.zeros_like(prior.values)
    mean_k = [window_auc(debiased(w, prior.values).mean(axis=0), w.relevant) for w in plain]
    windows_ms = [m for w in plain + titled for m in w.ms]
    return prior, {
        "position_prior": {
            "values": [float(v) for v in prior.values],
            "variance_share": prior.share,
            "item_variance_share": prior.item_share,
        },
        "auc": interval(window_aucs(plain, prior.values), n_boot),
        "auc_raw": interval(window_aucs(plain, zero), n_boot),
        "auc_mean_of_shuffles": interval(mean_k, n_boot),
        "self_consistency_kendall": consistency(plain, prior.values, n_boot),
        "title_auc": interval(window_aucs(titled, prior.values), n_boot) if titled else None,
        "latency_ms_per_window": percentiles(windows_ms) | {"calls": float(len(windows_ms))},
    }


def qualify(cfg: QualifyConfig, out: Path) -> dict[str, Any]:
    """Measure, decide, write out/qualify.json and out/qualify.md (and on serve the fusion file)."""
    from cascade.runtime import load_runtime

    if cfg.shuffles < 2:
        raise ValueError("qualification needs at least 2 shuffles (the prior and self-consistency)")
    calibration = None
    if cfg.calibration is not None and cfg.calibration.exists():
        calibration = load_calibration(cfg.calibration)
    elif cfg.calibration is not None and cfg.calibration != CALIBRATION_FILE:
        raise ValueError(f"--calibration {cfg.calibration}: no such file")
    t_start = time.perf_counter()
    rt = load_runtime(cfg.artifacts)
    users = held_out_users(rt, cfg.users, 0, cfg.seed, window="val")
    plain = user_windows(rt, users, window="val")
    labelled = pair_titles(users[: cfg.titled], load_titles(), cfg.seed)
    titled_w = user_windows(rt, list(labelled), "val", {u: t[0].title for u, t in labelled.items()})
    on_theme = [on_theme_items(w, labelled[w.inp.user_id][0].genres) for w in titled_w]
    rules = RulesReranker.from_yaml(DEFAULT_CONFIG, catalog=rt.dataset.catalog)
    windows_s = time.perf_counter() - t_start
    n_workers, settings = worker_plan(cfg.llm.for_quality(), cfg.workers)
    b = settings.backend
    threads = None if isinstance(b, HTTPBackendConfig) else b.n_threads
    first = open_stage(settings, cfg.prompts_dir)  # over HTTP one client serves every worker
    more = [open_stage(settings, cfg.prompts_dir) if threads else first for _ in range(n_workers - 1)]
    stages = [first, *more]
    load_s = time.perf_counter() - t_start - windows_s
    backends = []

    async def _run() -> list[ShuffledWindow]:
        try:
            workers = []
            for stage in stages:
                backend, tpl = stage.backend_for(cfg.model), stage.prompt(cfg.prompt)
                backends.append(backend)
                fused = [FusionSettings(weight=1.0, seed=cfg.seed + k) for k in range(cfg.shuffles)]
                workers.append([FusedLLMReranker(backend, tpl, rules, f) for f in fused])
            truths = [w.truth for w in plain] + on_theme
            return await score_shuffles(workers, plain + titled_w, truths, "scored" if cfg.progress else "")
        finally:
            for stage in dict.fromkeys(stages):  # each once, one after the other
                await stage.aclose()

    load_start = list(os.getloadavg())
    t_score, c_score = time.perf_counter(), time.process_time()
    try:
        every = asyncio.run(_run())
    except (BackendError, InvalidOutput, LLMUnavailable) as exc:
        raise ValueError(f"the model at {cfg.llm.describe(cfg.model)} did not score: {exc}") from exc
    scored, titled = every[: len(plain)], every[len(plain) :]
    timing = {
        "scoring_s": time.perf_counter() - t_score,
        "scoring_cpu_s": time.process_time() - c_score,
        "cascade_s": windows_s,
        "model_load_s": load_s,
        "wall_s": time.perf_counter() - t_start,
        "workers": n_workers,
        "threads_per_worker": threads,
        "tokens": token_usage(backends),
        "load_average_start": load_start,
        "load_average": list(os.getloadavg()),
        "cpus": os.cpu_count(),
    }
    prior, measured = analyse(scored, titled, cfg.n_boot)
    windows = {
        "plain": len(scored),
        "titled": len(titled),
        "shuffles": cfg.shuffles,
        "window": "validation",
        "users": f"validation users 0..{len(users) - 1} of the seed-{cfg.seed} permutation",
        "scored_per_window": N_SCORED,
    }
    doc = conclude(cfg, measured, prior, calibration) | {"windows": windows, "timing": timing}
    write_report(out, doc)
    return doc


def conclude(
    cfg: QualifyConfig, measured: dict[str, Any], prior: Prior, calibration: dict[str, Any] | None
) -> dict[str, Any]:
    """The measured numbers with the verdict; on serve, prompts/<name>.yaml written (with the prior)."""
    decision = decide(measured["auc"], calibration)
    doc: dict[str, Any] = {
        "llm": cfg.llm.describe(cfg.model),
        "model": cfg.model,
        "prompt": cfg.prompt,
        **measured,
        **decision,
        "calibration": str(cfg.calibration) if calibration is not None else None,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "fusion_file": None,
    }
    if decision["verdict"] == "serve":
        tuning = {
            "weight": decision["weight"],
            "mmr_lambda": decision["mmr_lambda"],
            "position_prior": [float(v) for v in prior.values],
            "auc": measured["auc"],
            "llm": doc["llm"],
            "model": cfg.model,
            "prompt": cfg.prompt,
            "created": doc["created"],
        }
        doc["fusion_file"] = str(write_tuning(tuning, cfg.prompts_dir, cfg.name, "care llm qualify"))
    return doc


def write_report(out: Path, doc: dict[str, Any]) -> None:
    """out/qualify.json and out/qualify.md."""
    from eval.llm.page import qualify_markdown
    from eval.report import write_json

    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "qualify.json", doc)
    (out / "qualify.md").write_text(qualify_markdown(doc), encoding="utf-8")
