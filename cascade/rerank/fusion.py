"""Score fusion in front of the rules: z(ranker) + sum of weighted z(extra terms), then MMR and caps.

With every weight at zero the rules see the input unchanged, so the answer is exactly the rules'.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import numpy.typing as npt

from cascade.rerank.rules import RulesReranker
from cascade.types import RerankInput, RerankOutput

FloatArray = npt.NDArray[np.float64]


def zscore(x: npt.ArrayLike) -> FloatArray:
    """(x - mean) / std over finite entries; non-finite entries get the minimum; all-equal -> zeros."""
    a = np.asarray(x, dtype=np.float64)
    if a.size == 0:
        return a
    ok = np.isfinite(a)
    if not ok.any():
        return np.zeros_like(a)
    a = np.where(ok, a, a[ok].min())
    sd = float(a.std())
    return (a - a.mean()) / sd if sd > 1e-12 else np.zeros_like(a)


def ranker_z(inp: RerankInput) -> FloatArray:
    """z of the ranker's scores; by position when they are missing or not finite (as the rules do)."""
    n = len(inp.candidates)
    s = np.asarray(inp.scores[:n], dtype=np.float64)
    if s.shape[0] != n or not np.isfinite(s).all():
        s = -np.arange(n, dtype=np.float64)
    return zscore(s)


def fuse(inp: RerankInput, terms: Sequence[tuple[float, npt.ArrayLike]]) -> RerankInput:
    """`inp` with scores z(ranker) + sum(w * z(term)); unchanged when no term has weight and spread."""
    live = [(w, z) for w, t in terms if w != 0.0 and (z := zscore(t)).any()]
    if not live:
        return inp
    score = ranker_z(inp)
    for w, z in live:
        score = score + w * z
    return replace(inp, scores=tuple(float(v) for v in score))


def rerank_fused(
    rules: RulesReranker, inp: RerankInput, terms: Sequence[tuple[float, npt.ArrayLike]], name: str
) -> RerankOutput:
    """The rules' list over the fused scores, named `name`."""
    out = rules.rerank_sync(fuse(inp, terms))
    out.reranker = name
    return out
