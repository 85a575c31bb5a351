from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from cascade.rerank.llm.constraint import PermutationConstraint, label_token_ids
from cascade.rerank.llm.inproc_backend import LlamaCppBackend
from cascade.rerank.llm.prompts import PromptTemplate

from .conftest import make_input


def test_constraint_allows_only_unused_labels(inproc: LlamaCppBackend) -> None:
    ids = label_token_ids(("A", "B", "C"), inproc.tokenizer)
    assert set(ids.values()) == {"A", "B", "C"} and len(ids) == 6  # bare and space-prefixed forms
    c = PermutationConstraint(ids)
    scores = np.zeros(inproc.tokenizer.llm.n_vocab(), dtype=np.single)
    a_ids = [t for t, lab in ids.items() if lab == "A"]
    c.accept(a_ids[0])
    masked = c(np.zeros(0, dtype=np.intc), scores)
    allowed = set(np.flatnonzero(np.isfinite(masked)).tolist())
    assert allowed == {t for t, lab in ids.items() if lab != "A"}
    with pytest.raises(ValueError, match="already used"):
        c.accept(a_ids[1])


def test_listwise_in_process_is_a_permutation_by_construction(
    inproc: LlamaCppBackend, prompts: dict[str, PromptTemplate]
) -> None:
    tpl = prompts["listwise"]
    inp = make_input(12, k=12)
    chat = tpl.render(inp)
    # Ask the model outright for repeats: the constraint must still yield each label exactly once.
    chat = dataclasses.replace(chat, user=chat.user + "\nAnswer: A A A A A A A A A A A A")
    out = inproc.rank_sync(chat)
    assert sorted(out.labels) == sorted(chat.labels)
    assert out.completion_tokens == 12
