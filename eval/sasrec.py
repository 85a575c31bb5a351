"""A small SASRec (Kang & McAuley 2018): causal self-attention over the item sequence, full-softmax next item.

Small enough to train in about a minute on 2 CPU cores: 64-d, 2 blocks, 1 head, sequences cut to
the last 50 items, a random 51-item window per user and epoch, item embeddings tied with the output
layer, cross-entropy over the whole catalog at every position. The number of epochs is tuned on the
validation window (scored every `eval_every` epochs); the model is then refit on train + validation
with that number of epochs for the test window.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch
from torch import nn
from torch.nn import functional as F

from cascade.retrieval.training import deterministic_torch

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class SASRecConfig:
    dim: int = 64
    blocks: int = 2
    heads: int = 1
    maxlen: int = 50
    dropout: float = 0.2
    lr: float = 2e-3
    batch_size: int = 128
    epochs: int = 120  # upper bound of the validation tuning
    eval_every: int = 20


class SASRec(nn.Module):
    """Item + position embeddings -> causal transformer blocks -> tied full-softmax output."""

    def __init__(self, n_items: int, cfg: SASRecConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.items = nn.Embedding(n_items + 1, cfg.dim, padding_idx=0)  # row 0: padding
        self.pos = nn.Embedding(cfg.maxlen, cfg.dim)
        layer = nn.TransformerEncoderLayer(
            cfg.dim, cfg.heads, cfg.dim * 2, cfg.dropout, batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, cfg.blocks, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(cfg.dim)
        self.drop = nn.Dropout(cfg.dropout)
        self.register_buffer("causal", torch.triu(torch.ones(cfg.maxlen, cfg.maxlen, dtype=torch.bool), 1))

    def hidden(self, seq: torch.Tensor) -> torch.Tensor:
        """(B, L) item rows + 1, right-aligned, 0 = padding -> (B, L, dim)."""
        length = seq.shape[1]
        keep = (seq != 0).unsqueeze(-1).float()  # padding positions are zeroed, as in SASRec
        h = (self.items(seq) * (self.cfg.dim**0.5) + self.pos(torch.arange(length))[None]) * keep
        causal: torch.Tensor = self.causal  # type: ignore[assignment]
        h = self.encoder(self.drop(h), mask=causal[:length, :length])
        return self.norm(h)  # type: ignore[no-any-return]

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        return h @ self.items.weight[1:].T


def _window(rows: I64, maxlen: int, end: int) -> I64:
    """The maxlen + 1 items ending at `end` (exclusive), left-padded with -1."""
    w = rows[max(0, end - maxlen - 1) : end]
    return np.concatenate([np.full(maxlen + 1 - len(w), -1, dtype=np.int64), w])


def _batches(
    seqs: list[I64], cfg: SASRecConfig, rng: np.random.Generator
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """One random window per user: inputs are rows + 1 (0 padding), targets rows (-1 ignored)."""
    order = rng.permutation(len(seqs))
    out = []
    for b in range(0, len(order), cfg.batch_size):
        wins = []
        for i in order[b : b + cfg.batch_size]:
            s = seqs[i]
            end = int(rng.integers(min(len(s), cfg.maxlen + 1), len(s) + 1))
            wins.append(_window(s, cfg.maxlen, end))
        w = np.stack(wins)
        out.append((torch.from_numpy(w[:, :-1] + 1), torch.from_numpy(w[:, 1:])))
    return out


def train_sasrec(
    seqs: dict[int, I64],
    n_items: int,
    cfg: SASRecConfig,
    seed: int,
    epochs: int,
    on_eval: Callable[[int, SASRec], None] | None = None,
) -> SASRec:
    """Adam over `epochs` epochs; `on_eval(epoch, model)` every cfg.eval_every epochs (model in eval mode)."""
    usable = [s for s in seqs.values() if len(s) >= 2]
    rng = np.random.default_rng(seed)
    with deterministic_torch(seed):
        model = SASRec(n_items, cfg)
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=(0.9, 0.98))
        for epoch in range(1, epochs + 1):
            model.train()
            for inp, tgt in _batches(usable, cfg, rng):
                logits = model.logits(model.hidden(inp))
                loss = F.cross_entropy(logits.reshape(-1, n_items), tgt.reshape(-1), ignore_index=-1)
                opt.zero_grad()
                loss.backward()  # type: ignore[no-untyped-call]
                opt.step()
            if on_eval is not None and epoch % cfg.eval_every == 0:
                model.eval()
                on_eval(epoch, model)
        model.eval()
    return model


def sasrec_scorer(model: SASRec, seqs: dict[int, I64]) -> Callable[[Sequence[int]], F64]:
    """Next-item scores over every catalog row from each user's last maxlen items."""
    maxlen = model.cfg.maxlen

    def score(users: Sequence[int]) -> F64:
        empty = np.empty(0, dtype=np.int64)
        w = np.stack([_window(seqs.get(u, empty), maxlen - 1, len(seqs.get(u, empty))) for u in users])
        with torch.inference_mode():
            h = model.hidden(torch.from_numpy(w + 1))[:, -1]
            return model.logits(h).double().numpy()  # type: ignore[no-any-return]

    return score
