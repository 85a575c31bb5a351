"""LLM behaviour over a set of requests, from what each re-ranker call reported.

Each request contributes (reranker_used, fallback_reason, stats). Stats keys follow the LLM
re-ranker's fallback wrapper: valid_before_repair (0/1), repairs_* (counts), prompt_tokens,
completion_tokens, cache_hit (0/1). A key missing from a request is not counted for that key (so a
rate is over the requests that reported it), except fallbacks, which are over all requests.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Call:
    reranker_used: str
    fallback_reason: str | None
    stats: Mapping[str, float]


def _mean_of(calls: Sequence[Call], key: str) -> float | None:
    values = [float(c.stats[key]) for c in calls if key in c.stats]
    return sum(values) / len(values) if values else None


def llm_behaviour(calls: Sequence[Call]) -> dict[str, float | None]:
    """Validity before repair, mean repairs per kind, fallback rate overall and by reason, tokens."""
    n = len(calls)
    out: dict[str, float | None] = {"requests": float(n)}
    if not n:
        return out
    out["validity_before_repair"] = _mean_of(calls, "valid_before_repair")
    for key in sorted({k for c in calls for k in c.stats if k.startswith("repairs_")}):
        out[f"{key}_per_request"] = _mean_of(calls, key)
    reasons = Counter(c.fallback_reason for c in calls if c.fallback_reason)
    out["fallback_rate"] = sum(reasons.values()) / n
    for reason, count in sorted(reasons.items()):
        out[f"fallback_rate[{reason}]"] = count / n
    for key in ("prompt_tokens", "completion_tokens", "cache_hit"):
        out[f"{key}_per_request" if key != "cache_hit" else "cache_hit_rate"] = _mean_of(calls, key)
    return out
