"""The two-tower model in PyTorch: item tower (id + content) and user tower (id + demographics + history)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from cascade.retrieval.encode import N_AGE_BUCKETS, N_GENDERS, N_YEAR_BUCKETS
from cascade.retrieval.text import TEXT_DIM


@dataclass(frozen=True)
class TwoTowerConfig:
    """Architecture and training hyper-parameters."""

    dim: int = 64
    hidden: int = 128
    history_len: int = 50
    session_max: int = 5
    session_prob: float = 0.5
    item_id_dropout: float = 0.3
    user_id_dropout: float = 0.3
    temperature: float = 0.07
    logq_weight: float = 1.0
    batch_size: int = 1024
    epochs: int = 8
    # at most this many examples per fit (epochs shorten past 250k interactions; MovieLens-100k's
    # 640k are all seen): the cost stops growing with the data, a step budget as in production
    max_examples: int = 2_000_000
    lr: float = 2e-3
    weight_decay: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Sizes:
    """Vocabulary sizes the model is built for (row 0 of every table means 'absent')."""

    n_items: int
    n_users: int
    n_genres: int
    n_occupations: int


def _row_dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Zero whole rows with probability p (no rescaling: a dropped row looks like an absent id)."""
    if not training or p <= 0.0:
        return x
    keep = (torch.rand(x.shape[0], 1) >= p).to(x.dtype)
    return x * keep


class ItemTower(nn.Module):
    """Item vector from id embedding (dropped out in training), genres, release year and title text."""

    def __init__(self, sizes: Sizes, cfg: TwoTowerConfig) -> None:
        super().__init__()
        self.id_dropout = cfg.item_id_dropout
        self.id_emb = nn.Embedding(sizes.n_items + 1, cfg.dim, padding_idx=0)
        self.year_emb = nn.Embedding(N_YEAR_BUCKETS, 8)
        self.text_proj = nn.Linear(TEXT_DIM, cfg.dim)
        self.mlp = nn.Sequential(
            nn.Linear(cfg.dim + sizes.n_genres + 8 + cfg.dim, cfg.hidden),
            nn.ReLU(),
            nn.Linear(cfg.hidden, cfg.dim),
        )
        nn.init.normal_(self.id_emb.weight, std=0.05)
        with torch.no_grad():
            self.id_emb.weight[0].zero_()

    def forward(
        self, item_idx: torch.Tensor, genres: torch.Tensor, year: torch.Tensor, text: torch.Tensor
    ) -> torch.Tensor:
        """(n,) id rows, (n, G) genres, (n,) year buckets, (n, 384) text -> (n, dim) unit vectors."""
        ids = _row_dropout(self.id_emb(item_idx), self.id_dropout, self.training)
        x = torch.cat([ids, genres, self.year_emb(year), self.text_proj(text)], dim=1)
        return F.normalize(self.mlp(x), dim=1)


class UserTower(nn.Module):
    """User vector from id embedding, demographics, pooled history and pooled session items."""

    def __init__(self, sizes: Sizes, cfg: TwoTowerConfig) -> None:
        super().__init__()
        self.id_dropout = cfg.user_id_dropout
        self.id_emb = nn.Embedding(sizes.n_users + 1, cfg.dim, padding_idx=0)
        self.age_emb = nn.Embedding(N_AGE_BUCKETS, 8)
        self.gender_emb = nn.Embedding(N_GENDERS, 4)
        self.occ_emb = nn.Embedding(sizes.n_occupations + 1, 8)
        self.mlp = nn.Sequential(
            nn.Linear(cfg.dim + 8 + 4 + 8 + 2 * cfg.dim, cfg.hidden),
            nn.ReLU(),
            nn.Linear(cfg.hidden, cfg.dim),
        )
        nn.init.normal_(self.id_emb.weight, std=0.05)
        with torch.no_grad():
            self.id_emb.weight[0].zero_()

    def forward(
        self,
        user_idx: torch.Tensor,
        age: torch.Tensor,
        gender: torch.Tensor,
        occupation: torch.Tensor,
        history: torch.Tensor,
        session: torch.Tensor,
    ) -> torch.Tensor:
        """Index tensors (B,) and pooled item vectors (B, dim) x2 -> (B, dim) unit vectors."""
        ids = _row_dropout(self.id_emb(user_idx), self.id_dropout, self.training)
        demo = [self.age_emb(age), self.gender_emb(gender), self.occ_emb(occupation)]
        x = torch.cat([ids, *demo, history, session], dim=1)
        return F.normalize(self.mlp(x), dim=1)


class TwoTower(nn.Module):
    """Both towers; scores are inner products of unit vectors (cosine)."""

    def __init__(self, sizes: Sizes, cfg: TwoTowerConfig) -> None:
        super().__init__()
        self.sizes = sizes
        self.cfg = cfg
        self.item = ItemTower(sizes, cfg)
        self.user = UserTower(sizes, cfg)


def masked_mean(vectors: torch.Tensor, index: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of vectors[index] over the True entries of mask, per row; zeros where a row has none."""
    picked = vectors[index] * mask.unsqueeze(-1).to(vectors.dtype)
    count = mask.sum(dim=1, keepdim=True).clamp(min=1).to(vectors.dtype)
    return picked.sum(dim=1) / count
