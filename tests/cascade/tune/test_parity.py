"""Parity: the served tuned model (llama.cpp, base GGUF + adapter GGUF) against the training-time torch
model (transformers + peft), on fixed prompts: the tiny run's examples."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from cascade.rerank.llm.fused import window_logprobs
from cascade.rerank.llm.inproc_backend import LlamaCppBackend
from cascade.rerank.llm.prompts import ChatPrompt
from cascade.rerank.llm.tokenizer import LlamaTokenizer
from cascade.tune.examples import Example, load_examples
from cascade.tune.model import Verbalizer, label_scores, load_adapter, load_base
from cascade.tune.train import LAST_DIR


def _torch_scores(model: Any, v: Verbalizer, examples: list[Example]) -> list[np.ndarray]:
    dev = torch.device("cpu")
    with torch.no_grad():
        return [label_scores(model, v, e.system, e.user, e.labels, dev).numpy() for e in examples]


def _served_scores(gguf: Path, adapter: Path | None, examples: list[Example]) -> list[np.ndarray]:
    backend = LlamaCppBackend(gguf, n_ctx=1024, n_threads=2, lora_path=adapter)
    try:
        out = []
        for e in examples:
            res = backend.score_sync(ChatPrompt(e.system, e.user, e.labels, "single_pass", 1, "ranking"))
            out.append(window_logprobs(res.logprobs, e.labels))
        return out
    finally:
        backend._executor.shutdown(wait=True)
        backend._close()


@pytest.fixture(scope="module")
def scores(tiny_run: tuple[Path, dict[str, Any]], gguf: Path) -> dict[str, list[np.ndarray]]:
    out, _ = tiny_run
    examples = load_examples(out / "examples_train.jsonl") + load_examples(out / "examples_val.jsonl")
    v = Verbalizer(LlamaTokenizer.from_gguf(gguf))
    base = load_base(gguf, torch.device("cpu"))
    torch_base = _torch_scores(base, v, examples)
    # the final step's export: two steps always move it, while the best-by-validation adapter may be
    # step 0 (no change) when two steps do not beat zero-shot on two held-out users of this machine's data
    last = out / LAST_DIR
    tuned = load_adapter(base, last / "adapter")
    tuned.eval()
    return {
        "torch_base": torch_base,
        "torch_tuned": _torch_scores(tuned, v, examples),
        "served_tuned": _served_scores(gguf, last / "adapter.gguf", examples),
    }


def _top_order(x: np.ndarray, n: int = 3) -> list[int]:
    return [int(i) for i in np.argsort(-x, kind="stable")[:n]]


def test_served_top_order_matches_training_time_scores(scores: dict[str, list[np.ndarray]]) -> None:
    served, ref = scores["served_tuned"], scores["torch_tuned"]
    same_top1 = np.mean([int(np.argmax(a) == np.argmax(b)) for a, b in zip(served, ref, strict=True)])
    assert same_top1 >= 0.95
    rho = [
        np.corrcoef(np.argsort(np.argsort(-a)), np.argsort(np.argsort(-b)))[0, 1]
        for a, b in zip(served, ref, strict=True)
    ]
    assert float(np.mean(rho)) >= 0.9


def test_the_adapter_is_applied_with_llama_cpp_row_order(scores: dict[str, list[np.ndarray]]) -> None:
    """The tuned scores moved away from the base, and llama.cpp follows torch's tuned model, not the base."""
    served, tuned, base = scores["served_tuned"], scores["torch_tuned"], scores["torch_base"]
    moved = np.mean([np.abs(t - b).max() for t, b in zip(tuned, base, strict=True)])
    to_tuned = np.mean([np.abs(s - t).mean() for s, t in zip(served, tuned, strict=True)])
    to_base = np.mean([np.abs(s - b).mean() for s, b in zip(served, base, strict=True)])
    assert moved > 0.5
    assert to_tuned < 0.5 * to_base
