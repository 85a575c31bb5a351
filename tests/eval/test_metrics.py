"""Golden values for the eval metrics, each on a tiny case computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from eval.metrics.change import (
    change_metrics,
    kendall_tau_at_k,
    overlap_at_k,
    position_overlap_at_k,
    spearman_at_k,
)
from eval.metrics.coverage import catalog_coverage
from eval.metrics.diversity import genre_coverage, ild_embedding, ild_genre, jaccard
from eval.metrics.latency import percentile, stage_percentiles
from eval.metrics.llm import Call, llm_behaviour
from eval.metrics.novelty import novelty, popularity_counts, self_information

GENRES = {1: ("A", "B"), 2: ("A",), 3: ("C",)}


def test_jaccard() -> None:
    assert jaccard({"A", "B"}, {"A"}) == 0.5
    assert jaccard(set(), set()) == 1.0
    assert jaccard({"A"}, {"B"}) == 0.0


def test_ild_genre_golden() -> None:
    # pairs: (1,2) 1 - 1/2 = 0.5; (1,3) 1; (2,3) 1  -> 2.5 / 3
    assert ild_genre([1, 2, 3], GENRES) == pytest.approx(2.5 / 3)
    assert ild_genre([1], GENRES) == 0.0
    assert ild_genre([2, 2], GENRES) == 0.0


def test_ild_embedding_golden() -> None:
    vec = {1: np.array([1.0, 0.0]), 2: np.array([0.0, 1.0]), 3: np.array([2.0, 2.0])}
    # cos(1,2) = 0; cos(1,3) = cos(2,3) = 1/sqrt(2)
    expected = (1.0 + 2 * (1 - 1 / math.sqrt(2))) / 3
    assert ild_embedding([1, 2, 3], vec) == pytest.approx(expected)
    assert ild_embedding([3], vec) == 0.0


def test_genre_coverage_golden() -> None:
    assert genre_coverage([1, 2, 3], GENRES, n_genres=6) == 0.5
    assert genre_coverage([2], GENRES, n_genres=4) == 0.25
    assert genre_coverage([], GENRES, n_genres=4) == 0.0
    with pytest.raises(ValueError):
        genre_coverage([1], GENRES, n_genres=0)


def test_catalog_coverage_golden() -> None:
    assert catalog_coverage([[1, 2], [2, 3]], catalog_size=10) == pytest.approx(0.3)
    assert catalog_coverage([[1, 2], [2, 3]], catalog_size=10, k=1) == pytest.approx(0.2)


def test_novelty_golden() -> None:
    counts = popularity_counts([1, 1, 1, 2])
    assert counts == {1: 3, 2: 1}
    info = self_information(counts, [1, 2, 3])
    # smoothed: total = 4 + 3 = 7; p = 4/7, 2/7, 1/7
    assert info[1] == pytest.approx(math.log2(7 / 4))
    assert info[2] == pytest.approx(math.log2(7 / 2))
    assert info[3] == pytest.approx(math.log2(7))
    assert novelty([1, 3], info) == pytest.approx((math.log2(7 / 4) + math.log2(7)) / 2)
    assert novelty([], info) == 0.0


def test_change_golden() -> None:
    a, b = [1, 2, 3, 4], [2, 1, 3, 5]
    assert position_overlap_at_k(a, b, 4) == 0.25
    assert overlap_at_k(a, b, 4) == 0.75
    # shared [1, 2, 3]: ranks in a 0,1,2; in b 1,0,2 -> one discordant pair of three
    assert kendall_tau_at_k(a, b, 4) == pytest.approx(1 / 3)
    # d = (-1, 1, 0): 1 - 6 * 2 / (3 * 8) = 0.5
    assert spearman_at_k(a, b, 4) == pytest.approx(0.5)


def test_change_extremes_and_undefined() -> None:
    a = list(range(10))
    assert kendall_tau_at_k(a, a) == 1.0 and spearman_at_k(a, a) == 1.0
    assert kendall_tau_at_k(a, a[::-1]) == -1.0 and spearman_at_k(a, a[::-1]) == -1.0
    assert math.isnan(kendall_tau_at_k([1, 2], [1, 3], 2))  # one shared item: undefined
    assert change_metrics(a, a)["position_overlap@10"] == 1.0


def test_llm_behaviour_golden() -> None:
    calls = [
        Call("llm", None, {"valid_before_repair": 1, "repairs_json": 0, "prompt_tokens": 100,
                           "completion_tokens": 10, "cache_hit": 0}),
        Call("rules", "timeout", {}),
        Call("llm", None, {"valid_before_repair": 0, "repairs_json": 2, "prompt_tokens": 200,
                           "completion_tokens": 30, "cache_hit": 1}),
        Call("rules", "invalid", {"valid_before_repair": 0, "prompt_tokens": 300, "completion_tokens": 50}),
    ]  # fmt: skip
    out = llm_behaviour(calls)
    assert out["requests"] == 4
    assert out["validity_before_repair"] == pytest.approx(1 / 3)
    assert out["repairs_json_per_request"] == 1.0
    assert out["fallback_rate"] == 0.5
    assert out["fallback_rate[timeout]"] == 0.25 and out["fallback_rate[invalid]"] == 0.25
    assert out["prompt_tokens_per_request"] == 200.0
    assert out["completion_tokens_per_request"] == 30.0
    assert out["cache_hit_rate"] == 0.5
    assert llm_behaviour([]) == {"requests": 0.0}


def test_latency_golden() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([1, 2, 3, 4], 95) == pytest.approx(3.85)
    assert math.isnan(percentile([], 50))
    out = stage_percentiles([{"retrieval": 1.0, "rerank": 10.0}, {"retrieval": 3.0}])
    assert out["retrieval"] == {"p50": 2.0, "p95": pytest.approx(2.9), "n": 2.0}
    assert out["rerank"]["n"] == 1.0


def test_overlap_is_the_share_of_the_reference_top_k_kept() -> None:
    assert overlap_at_k([1, 2, 3], [3, 1, 9], k=3) == pytest.approx(2 / 3)
    assert overlap_at_k([1, 2, 3], [4, 5, 6, 1], k=3) == 0.0  # the own list's 4th item is past k
    assert math.isnan(overlap_at_k([1], [], k=10))
