"""The synthetic scorer hits its target AUC, and nothing that serves or configures arms can reach it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from cascade.data.dataset import Dataset
from cascade.types import Context, ItemText, RerankInput
from eval.llm.stats import window_auc
from eval.llm.synthetic import SyntheticScorer, separation


def test_separation_is_zero_at_chance_and_rejects_impossible_aucs() -> None:
    assert separation(0.5) == 0.0 and separation(0.75) > 0
    with pytest.raises(ValueError, match="strictly between"):
        separation(1.0)


def test_scores_carry_the_target_auc_within_windows(ml100k: Dataset) -> None:
    cat = ml100k.catalog
    cands = tuple(
        ItemText(int(i), cat.titles[r], 1990, cat.genres[r]) for r, i in enumerate(cat.item_ids[:30])
    )
    relevant = {c.item_id for c in cands[:20:4]}  # 5 of the scored 20
    truth = {u: relevant for u in range(400)}
    scorer = SyntheticScorer(0.75, truth, seed=3)
    aucs = []
    for u in range(400):
        inp = RerankInput(u, Context(), cands, tuple(range(30, 0, -1)), (), 10)
        s, _ = asyncio.run(scorer.llm_scores(inp))
        assert len(s) == 30 and (s[20:] == s[:20].min()).all()  # unscored: the minimum, as the fused arm
        aucs.append(window_auc(s[:20], [c.item_id in relevant for c in cands[:20]]))
    assert float(np.mean(aucs)) == pytest.approx(0.75, abs=0.02)


def test_no_arm_kind_or_experiments_file_can_select_it(tmp_path: Path) -> None:
    from cascade.experiments import load_experiments
    from cascade.llm import PROMPTS_DIR
    from cascade.rerank.registry import KINDS

    assert not any(
        "synthetic" in name or kind.build.__module__.startswith("eval") for name, kind in KINDS.items()
    )
    path = tmp_path / "experiments.yaml"
    path.write_text(
        "experiments:\n  e:\n    salt: s\n    arms:\n      - {name: s, weight: 1, reranker: synthetic}\n"
    )
    with pytest.raises(ValueError, match="synthetic"):
        load_experiments(path, PROMPTS_DIR)
