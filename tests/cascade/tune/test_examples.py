"""Training examples from the real cascade as of each user's validation start."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from cascade.data.split import Split
from cascade.rerank.llm.prompts import load_prompt, prompt_path
from cascade.rerank.llm.tokenizer import LlamaTokenizer
from cascade.tune.examples import build_examples, load_examples, pick_window
from cascade.types import ItemText


def _items(n: int) -> list[ItemText]:
    return [ItemText(i, f"m{i}", 1990, ("Drama",)) for i in range(n)]


def test_pick_window_takes_the_top_and_swaps_in_a_deeper_positive() -> None:
    cands = _items(50)
    win, pos = pick_window(cands, {3, 30}, 20, np.random.default_rng(0))  # type: ignore[misc]
    assert sorted(c.item_id for c in win) == list(range(20))
    assert [win[j].item_id for j in pos] == [3]
    assert [c.item_id for c in win] != list(range(20))  # shuffled
    win, pos = pick_window(cands, {30}, 20, np.random.default_rng(0))  # type: ignore[misc]
    assert sorted(c.item_id for c in win) == [*range(19), 30]
    assert [win[j].item_id for j in pos] == [30]
    assert pick_window(cands, {99}, 20, np.random.default_rng(0)) is None


def test_examples_render_the_fused_prompt_with_validation_positives(
    tiny_run: tuple[Path, dict[str, Any]], ml_split: Split, forbidden: list[str]
) -> None:
    out, manifest = tiny_run
    train = load_examples(out / "examples_train.jsonl")
    held = load_examples(out / "examples_val.jsonl")
    assert len(train) == manifest["data"]["train_examples"] > 0
    assert {e.user_id for e in train}.isdisjoint({e.user_id for e in held})
    val = ml_split.val.by_user()
    for e in train + held:
        assert len(e.labels) == len(e.item_ids) <= 20 and e.labels[0] == "A"
        rel = set(map(int, val[e.user_id]))
        assert e.positives and {e.item_ids[j] for j in e.positives} <= rel
        assert all(e.item_ids[j] not in rel for j in range(len(e.labels)) if j not in e.positives)
        assert "Candidates:" in e.user and f'{e.labels[-1]}. "' in e.user
        assert (e.title is not None) == ("Playlist:" in e.user)
        assert e.title is None or e.title.lower() not in {t.lower() for t in forbidden}
    # one JSON object per line, the same examples
    assert len((out / "examples_train.jsonl").read_text().splitlines()) == len(train)
    assert (
        json.loads((out / "examples_train.jsonl").read_text().splitlines()[0])["user_id"] == train[0].user_id
    )


def test_build_examples_is_seeded(trained_artifacts: Path, gguf: Path) -> None:
    from cascade.runtime import load_runtime

    rt = load_runtime(trained_artifacts)
    tpl = load_prompt(prompt_path("fused"), LlamaTokenizer.from_gguf(gguf))
    users = [1, 2, 3, 4, 5, 6]
    a = build_examples(rt, tpl, users, seed=0, title_share=0.5)
    b = build_examples(rt, tpl, users, seed=0, title_share=0.5)
    c = build_examples(rt, tpl, users, seed=1, title_share=0.5)
    assert a == b
    assert [e.item_ids for e in a] != [e.item_ids for e in c]  # another seed, other shuffles
    assert 0 < sum(e.title is not None for e in a + c) < len(a + c)
