"""`care bench llm`: per strategy, backend and candidate count, the LLM stage's latency, tokens,
validity before repair, and the deadline/cache path (1st request falls back, 2nd is a cache hit).

Candidates are random MovieLens-100k items (a new set per request, so every prompt is cold apart
from the shared system-prompt prefix). The in-process backend always runs; the HTTP backend runs
against `base_url` (with `dialect`, default "vllm") or, without one, against a
llama.cpp server this command starts on a loopback port (dialect "llamacpp"). The "fused" rows time
one window of the llm_fused arm (its own prompt, 20 candidates): the arm makes one such call per
window and pass.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from rich.console import Console
from rich.table import Table

from cascade.bench.timing import pct
from cascade.data.fetch import load_default
from cascade.rerank.base import IdentityReranker
from cascade.rerank.llm.backend import LLMBackend
from cascade.rerank.llm.cache import MemoryCache
from cascade.rerank.llm.guard import GuardedReranker, GuardSettings
from cascade.rerank.llm.http_backend import HTTPBackendConfig, OpenAIHTTPBackend
from cascade.rerank.llm.inproc_backend import LlamaCppBackend
from cascade.rerank.llm.models import pull_smollm2
from cascade.rerank.llm.prompts import PromptTemplate, load_prompt, prompt_path
from cascade.rerank.llm.reranker import LLMReranker
from cascade.rerank.llm.server import LocalServer
from cascade.rerank.llm.settings import Dialect
from cascade.types import Context, ItemText, RerankInput

SIZES = (20, 50)
STRATEGIES = ("listwise", "single_pass", "fused")
# fused: one window of the llm_fused arm (prompts/fused.yaml: at most 20 one-case labels, short prompt)
FUSED_SIZES = (20,)
DEADLINE_S = 0.15
COLUMNS = ("backend", "strategy", "cands", "n", "p50 ms", "p95 ms", "prompt tok", "out tok", "valid %",
           "1st (150ms budget)", "overshoot ms", "2nd: cache hit ms")  # fmt: skip


def _items() -> list[ItemText]:
    cat = load_default().catalog
    return [
        ItemText(int(i), t, int(y), g)
        for i, t, y, g in zip(cat.item_ids.tolist(), cat.titles, cat.years.tolist(), cat.genres, strict=True)
    ]


def _inputs(items: list[ItemText], n_cands: int, n: int, seed: int) -> list[RerankInput]:
    rng = random.Random(seed)
    out = []
    for u in range(n):
        picked = rng.sample(items, n_cands + 3)
        cands = tuple(picked[:n_cands])
        ctx = Context(playlist_title=rng.choice(["Friday night", "Rainy Sunday", "Classics", "Date night"]))
        out.append(
            RerankInput(
                u, ctx, cands, tuple(float(-i) for i in range(n_cands)), tuple(picked[n_cands:]), k=10
            )
        )
    return out


def _sized(tpl: PromptTemplate, n_cands: int) -> PromptTemplate:
    """The prompt widened to `n_cands` letter-labelled candidates (bench only; budget not re-checked)."""
    spec = tpl.spec.model_copy(update={"max_candidates": n_cands, "labels": "letters", "token_budget": 4096})
    return PromptTemplate(spec, tpl.name, tpl.version, tpl.template)


async def _bench(backend: LLMBackend, tpl: PromptTemplate, inputs: list[RerankInput]) -> list[object]:
    reranker = LLMReranker(backend, tpl)
    lat, ptok, otok, valid = [], [], [], []
    await reranker.rerank(inputs[-1])  # warm-up
    for inp in inputs[:-2]:
        t0 = time.perf_counter()
        out = await reranker.rerank(inp)
        lat.append((time.perf_counter() - t0) * 1000.0)
        ptok.append(out.stats["prompt_tokens"])
        otok.append(out.stats["completion_tokens"])
        valid.append(out.stats["valid_before_repair"])
    guard = GuardedReranker(reranker, IdentityReranker(), MemoryCache(), GuardSettings())
    probe = inputs[-2]  # a prompt the KV cache has not seen: a cold call
    t0 = time.monotonic()
    first = await guard.rerank(replace(probe, deadline=t0 + DEADLINE_S))
    overshoot = (time.monotonic() - t0 - DEADLINE_S) * 1000.0
    await guard.drain()
    t1 = time.perf_counter()
    second = await guard.rerank(replace(probe, deadline=time.monotonic() + DEADLINE_S))
    hit_ms = (time.perf_counter() - t1) * 1000.0
    first_txt = first.fallback_reason or "llm"
    hit_txt = f"{hit_ms:.2f}" if second.stats.get("cache_hit") == 1.0 else "miss"
    n = len(lat)
    return [n, pct(lat, 50), pct(lat, 95), sum(ptok) / n, sum(otok) / n, 100.0 * sum(valid) / n,
            first_txt, max(0.0, overshoot) if first.fallback_reason else float("nan"), hit_txt]  # fmt: skip


@contextmanager
def _http_target(base_url: str | None, dialect: Dialect) -> Iterator[tuple[str, Dialect]]:
    if base_url:
        yield base_url, dialect
        return
    with LocalServer(pull_smollm2(), n_ctx=4096) as server:
        yield server.base_url, "llamacpp"


def _cases(
    strategies: tuple[str, ...], prompts: dict[str, PromptTemplate]
) -> list[tuple[str, int, PromptTemplate]]:
    out = []
    for strategy in strategies:
        if strategy == "fused":
            out += [(strategy, size, prompts[strategy]) for size in FUSED_SIZES]
        else:
            out += [(strategy, size, _sized(prompts[strategy], size)) for size in SIZES]
    return out


async def _run(
    n: int,
    base_url: str | None,
    dialect: Dialect,
    strategies: tuple[str, ...] = STRATEGIES,
    http: bool = True,
) -> list[list[object]]:
    model = pull_smollm2()
    items = _items()
    inproc = LlamaCppBackend(model, n_ctx=4096, n_threads=2)
    prompts = {s: load_prompt(prompt_path(s), inproc.tokenizer) for s in strategies}
    rows: list[list[object]] = []
    try:
        for strategy, size, tpl in _cases(strategies, prompts):
            inputs = _inputs(items, size, n + 2, seed=size)
            rows.append(["inproc", strategy, size, *await _bench(inproc, tpl, inputs)])
        if not http:
            return rows
        with _http_target(base_url, dialect) as (url, served):
            client = OpenAIHTTPBackend(HTTPBackendConfig(base_url=url, dialect=served, read_timeout_s=300))
            try:
                for strategy, size, tpl in _cases(strategies, prompts):
                    inputs = _inputs(items, size, n + 2, seed=size)
                    rows.append([f"http:{served}", strategy, size, *await _bench(client, tpl, inputs)])
            finally:
                await client.aclose()
    finally:
        await inproc.aclose()
    return rows


def run(
    n: int = 10,
    base_url: str | None = None,
    dialect: Dialect = "vllm",
    strategies: tuple[str, ...] = STRATEGIES,
    http: bool = True,
) -> None:
    """Benchmark the strategies on every backend (20 and 50 candidates; fused: 20) and print one table."""
    if unknown := set(strategies) - set(STRATEGIES):
        raise ValueError(f"unknown strategies {sorted(unknown)}; known: {list(STRATEGIES)}")
    rows = asyncio.run(_run(n, base_url, dialect, strategies, http))
    table = Table(
        title=f"LLM stage, n={n} timed requests per row (SmolLM2-135M Q4_1 unless base_url serves another)"
    )
    for c in COLUMNS:
        table.add_column(c, justify="left" if c in ("backend", "strategy") else "right")
    for r in rows:
        table.add_row(*(f"{v:.1f}" if isinstance(v, float) else str(v) for v in r))
    Console(width=200).print(table)
