"""In-process llama.cpp (llama-cpp-python): single-pass scoring from last-position logits, and
listwise generation constrained to unused labels.

The model runs on one worker thread (the event loop never blocks) and a lock serialises every use
of the llama context, which is not thread-safe. The KV cache keeps the last prompt, so a prompt
sharing a prefix with the previous one only evaluates the new suffix; `usage` counts the prompt tokens
seen and those actually evaluated.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import llama_cpp
import numpy as np
import numpy.typing as npt

from cascade.rerank.llm.backend import BackendError, ListResult, ScoreResult
from cascade.rerank.llm.constraint import PermutationConstraint, label_token_ids
from cascade.rerank.llm.llamacpp_compat import load_llama
from cascade.rerank.llm.prompts import ChatPrompt
from cascade.rerank.llm.settings import file_tag
from cascade.rerank.llm.tokenizer import LlamaTokenizer

T = TypeVar("T")


def common_prefix(a: list[int], b: list[int]) -> int:
    """Length of the longest common prefix of two token lists."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


class LlamaCppBackend:
    """LLMBackend running a GGUF in this process."""

    def __init__(
        self, model_path: Path, *, n_ctx: int = 3072, n_threads: int = 2, lora_path: Path | None = None
    ):
        self.name = "inproc:llamacpp" if lora_path is None else f"inproc:llamacpp+lora:{file_tag(lora_path)}"
        self.n_ctx = n_ctx
        self._llm = load_llama(model_path, n_ctx=n_ctx, n_threads=n_threads, lora_path=lora_path)
        self.tokenizer = LlamaTokenizer(self._llm)
        self._n_vocab = int(self._llm.n_vocab())
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llama-cpp")
        self._in_kv: list[int] = []
        self._label_ids: dict[tuple[str, ...], dict[int, str]] = {}
        self.usage = {"calls": 0, "prompt_tokens": 0, "evaluated_tokens": 0}

    async def _run(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    def _token_labels(self, labels: tuple[str, ...]) -> dict[int, str]:
        if labels not in self._label_ids:
            self._label_ids[labels] = label_token_ids(labels, self.tokenizer)
        return self._label_ids[labels]

    def _eval_prompt(self, tokens: list[int], reserve: int) -> None:
        """Evaluate `tokens`, reusing the KV cache for the prefix shared with the previous prompt."""
        if len(tokens) + reserve > self.n_ctx:
            raise BackendError(f"prompt of {len(tokens)} tokens (+{reserve}) exceeds n_ctx={self.n_ctx}")
        keep = common_prefix(self._in_kv, tokens)
        if keep == len(tokens):
            keep -= 1  # re-evaluate the last token to refresh its logits
        self._in_kv = self._in_kv[:keep]
        self._llm.n_tokens = keep
        self._llm.eval(tokens[keep:])
        self._in_kv = list(tokens)
        self.usage["calls"] += 1
        self.usage["prompt_tokens"] += len(tokens)
        self.usage["evaluated_tokens"] += len(tokens) - keep

    def _eval_one(self, token: int) -> None:
        self._llm.eval([token])
        self._in_kv.append(token)
        self.usage["evaluated_tokens"] += 1

    def _last_logits(self) -> npt.NDArray[np.single]:
        ptr = llama_cpp.llama_get_logits_ith(self._llm.ctx, -1)
        return np.ctypeslib.as_array(ptr, shape=(self._n_vocab,)).copy()

    def score_sync(self, prompt: ChatPrompt) -> ScoreResult:
        """Blocking single-pass scoring: log-softmax of the last position, both forms of each label."""
        with self._lock:
            tokens = self.tokenizer.encode_chat(prompt.system, prompt.user)
            token_labels = self._token_labels(prompt.labels)
            self._eval_prompt(tokens, reserve=1)
            logits = self._last_logits().astype(np.float64)
        m = float(logits.max())
        logz = m + float(np.log(np.exp(logits - m).sum()))
        out: dict[str, float] = {}
        for tid, label in token_labels.items():
            lp = float(logits[tid]) - logz
            out[label] = float(np.logaddexp(out[label], lp)) if label in out else lp
        return ScoreResult(out, prompt_tokens=len(tokens), completion_tokens=0)

    def rank_sync(self, prompt: ChatPrompt) -> ListResult:
        """Blocking listwise generation: greedy, each step limited to labels not yet used."""
        with self._lock:
            tokens = self.tokenizer.encode_chat(prompt.system, prompt.user)
            constraint = PermutationConstraint(self._token_labels(prompt.labels))
            depth = min(prompt.rank_depth, len(prompt.labels))
            self._eval_prompt(tokens, reserve=depth)
            out: list[str] = []
            for step in range(depth):
                scores = constraint(np.asarray(self._in_kv, dtype=np.intc), self._last_logits())
                tid = int(np.argmax(scores))
                out.append(constraint.accept(tid))
                if step + 1 < depth:
                    self._eval_one(tid)
        return ListResult(out, prompt_tokens=len(tokens), completion_tokens=depth, raw=" ".join(out))

    async def score(self, prompt: ChatPrompt) -> ScoreResult:
        """Single-pass scoring on the worker thread."""
        return await self._run(lambda: self.score_sync(prompt))

    async def rank(self, prompt: ChatPrompt) -> ListResult:
        """Listwise generation on the worker thread."""
        return await self._run(lambda: self.rank_sync(prompt))

    async def aclose(self) -> None:
        """Stop the worker thread (after its current job) and free the model."""
        self._executor.shutdown(wait=False, cancel_futures=True)
        await asyncio.to_thread(self._close)

    def _close(self) -> None:
        with self._lock:
            self._llm.close()
