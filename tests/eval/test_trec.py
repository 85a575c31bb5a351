"""TREC files: round trip, and accuracy recomputed independently from the files."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from cascade.metrics import ndcg_at_k, recall_at_k
from eval.trec import read_qrels, read_run, write_qrels, write_run


def _ndcg_from_scratch(ranked: list[int], rel: set[int], k: int) -> float:
    """An independent NDCG@k (not cascade.metrics): DCG over rank positions 1..k, ideal over min(k, |rel|)."""
    dcg = 0.0
    for pos in range(1, min(k, len(ranked)) + 1):
        if ranked[pos - 1] in rel:
            dcg += 1.0 / math.log(pos + 1, 2)
    idcg = sum(1.0 / math.log(pos + 1, 2) for pos in range(1, min(k, len(rel)) + 1))
    return dcg / idcg if idcg else 0.0


def test_round_trip(tmp_path: Path) -> None:
    lists = {3: [10, 7, 99], 1: [5, 4, 3, 2, 1]}
    write_run(tmp_path / "a.run", lists, "rules")
    write_qrels(tmp_path / "q.txt", {1: {5, 2}, 3: {99}})
    assert read_run(tmp_path / "a.run") == lists
    assert read_qrels(tmp_path / "q.txt") == {1: {5, 2}, 3: {99}}
    first = (tmp_path / "a.run").read_text().splitlines()[0]
    assert first == "1 Q0 5 1 5 rules"


def test_malformed_lines_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "bad.run").write_text("1 Q0 5 1\n")
    with pytest.raises(ValueError, match=r"bad\.run:1"):
        read_run(tmp_path / "bad.run")


def test_recompute_from_files(tmp_path: Path) -> None:
    lists = {1: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 2: [20, 21, 22, 23, 24, 25, 26, 27, 28, 29]}
    truth = {1: {2, 9, 50}, 2: {20}}
    write_run(tmp_path / "x.run", lists, "x")
    write_qrels(tmp_path / "q.txt", truth)
    run, qrels = read_run(tmp_path / "x.run"), read_qrels(tmp_path / "q.txt")
    for u in lists:
        assert _ndcg_from_scratch(run[u], qrels[u], 10) == pytest.approx(ndcg_at_k(lists[u], truth[u], 10))
        assert recall_at_k(run[u], qrels[u], 10) == recall_at_k(lists[u], truth[u], 10)
    # golden: user 1 hits at ranks 2 and 9 of 3 relevant
    expected = (1 / math.log2(3) + 1 / math.log2(10)) / (1 + 1 / math.log2(3) + 1 / math.log2(4))
    assert _ndcg_from_scratch(run[1], qrels[1], 10) == pytest.approx(expected)
