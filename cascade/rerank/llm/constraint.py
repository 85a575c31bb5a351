"""A logits processor that lets decoding emit only candidate labels not yet used."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from cascade.rerank.llm.labels import label_variants
from cascade.rerank.llm.tokenizer import Tokenizer


def label_token_ids(labels: tuple[str, ...], tokenizer: Tokenizer) -> dict[int, str]:
    """Token id -> label: the bare form (must be one token) and the space-prefixed form where it is one."""
    out: dict[int, str] = {}
    for label in labels:
        bare, spaced = label_variants(label)
        tid = tokenizer.single_token(bare)
        if tid is None:
            raise ValueError(f"label {bare!r} is not a single token")
        out[tid] = label
        if (sid := tokenizer.single_token(spaced)) is not None:
            out[sid] = label
    return out


class PermutationConstraint:
    """Masks every token except the forms of unused labels; same signature as llama_cpp.LogitsProcessor."""

    def __init__(self, token_labels: dict[int, str]):
        self.token_labels = token_labels
        self.used: list[str] = []
        self._ids = np.fromiter(token_labels.keys(), dtype=np.int64)

    def allowed(self) -> npt.NDArray[np.int64]:
        """Token ids that may come next."""
        used = set(self.used)
        return np.array([t for t in self._ids if self.token_labels[int(t)] not in used], dtype=np.int64)

    def __call__(
        self, input_ids: npt.NDArray[np.intc], scores: npt.NDArray[np.single]
    ) -> npt.NDArray[np.single]:
        allowed = self.allowed()
        if allowed.size == 0:
            raise ValueError("every label is already used")
        out = np.full_like(scores, -np.inf)
        out[allowed] = scores[allowed]
        return out

    def accept(self, token_id: int) -> str:
        """Record a chosen token; returns its label."""
        label = self.token_labels[token_id]
        if label in self.used:
            raise ValueError(f"label {label!r} was already used")
        self.used.append(label)
        return label
