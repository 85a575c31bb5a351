"""Prometheus metrics of the LLM stage (repairs, cache hits, latency).

Fallbacks are counted once, per response, by the service (care_rerank_fallbacks_total{reason}).
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REPAIRS = Counter("care_llm_repairs_total", "Repairs applied to LLM answers", ["kind"])
CACHE = Counter("care_llm_cache_total", "LLM result cache lookups", ["result"])
LATENCY = Histogram(
    "care_llm_call_seconds",
    "LLM backend call latency",
    ["strategy"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
