"""Training examples from the real cascade as of each user's validation start."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from cascade.data.split import Split
from cascade.rerank.llm.prompts import load_prompt, prompt_path
from cascade.rerank.llm.tokenizer import LlamaTokenizer
from cascade.tune.examples import build_examples, load_examples, pick_mixed_window, pick_window
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


def _mixed(
    relevant: set[int], seed: int, pool: range = range(200), seen: frozenset[int] = frozenset(range(100, 150))
) -> tuple[list[ItemText], list[int]] | None:
    """The ranker's 50 candidates are items 0..49 in order; the catalog is `pool`."""
    return pick_mixed_window(
        _items(50), relevant, 20, np.random.default_rng(seed), pool=np.asarray(pool, dtype=np.int64),
        seen=seen, item_text=lambda i: ItemText(i, f"m{i}", 1990, ("Drama",)),
    )  # fmt: skip


def test_mixed_window_is_the_top_half_and_random_unseen_non_positive_items() -> None:
    seen = frozenset(range(100, 150))
    for seed in range(20):
        win, pos = _mixed({3, 160}, seed)  # type: ignore[misc]
        ids = [c.item_id for c in win]
        assert len(ids) == len(set(ids)) == 20
        assert set(range(10)) <= set(ids)  # the ranker's top 10 (hard negatives and the positive)
        assert ids != sorted(ids)  # shuffled
        rand = set(ids) - set(range(10))
        assert len(rand) == 10 and rand <= set(range(200))
        assert not rand & seen  # nothing the user has seen
        assert 160 not in ids  # a positive is never drawn as a random negative
        assert [ids[j] for j in pos] == [3]
        assert all(c.title == f"m{c.item_id}" for c in win)
    # no positive in the top 10: a deeper one replaces the 10th, as in the hard window
    win, pos = _mixed({30}, 0)  # type: ignore[misc]
    ids = [c.item_id for c in win]
    assert set(range(9)) | {30} <= set(ids) and [ids[j] for j in pos] == [30]
    assert len(set(ids) - set(range(9)) - {30}) == 10
    assert _mixed({99}, 0) is None  # no positive in reach


def test_mixed_window_is_seeded_and_stops_at_the_free_catalog() -> None:
    assert _mixed({3}, 7) == _mixed({3}, 7)
    draws = {tuple(sorted(c.item_id for c in _mixed({3}, s)[0])) for s in range(5)}  # type: ignore[index]
    assert len(draws) == 5  # other seeds, other random negatives
    # only items 10..14 are free (0..9 in the window, 15..19 seen): a window of 15
    win, pos = _mixed({3}, 0, pool=range(20), seen=frozenset(range(15, 20)))  # type: ignore[misc]
    assert sorted(c.item_id for c in win) == list(range(15))
    assert [win[j].item_id for j in pos] == [3]


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
