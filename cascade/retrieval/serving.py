"""The user tower as a few numpy matmuls, exported from the trained torch module for per-request use."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch

from cascade.retrieval.two_tower import UserTower

FloatArray = npt.NDArray[np.float32]


def _np(t: torch.Tensor) -> FloatArray:
    return np.ascontiguousarray(t.detach().cpu().numpy(), dtype=np.float32)


@dataclass(frozen=True)
class NumpyUserTower:
    """Embedding tables and MLP weights of the user tower (eval mode: no dropout)."""

    user_id: FloatArray
    age: FloatArray
    gender: FloatArray
    occupation: FloatArray
    w1: FloatArray  # (in, hidden), transposed for x @ w1
    b1: FloatArray
    w2: FloatArray  # (hidden, dim)
    b2: FloatArray

    @staticmethod
    def from_torch(tower: UserTower) -> NumpyUserTower:
        """Copy the weights out of a trained tower."""
        lin1, lin2 = tower.mlp[0], tower.mlp[2]
        assert isinstance(lin1, torch.nn.Linear) and isinstance(lin2, torch.nn.Linear)
        return NumpyUserTower(
            _np(tower.id_emb.weight), _np(tower.age_emb.weight), _np(tower.gender_emb.weight),
            _np(tower.occ_emb.weight), _np(lin1.weight.T), _np(lin1.bias), _np(lin2.weight.T), _np(lin2.bias),
        )  # fmt: skip

    def __call__(
        self, user: int, age: int, gender: int, occupation: int, history: FloatArray, session: FloatArray
    ) -> FloatArray:
        """One unit-norm user vector (dim,) from indices and pooled history/session vectors."""
        x = np.concatenate(
            [
                self.user_id[user],
                self.age[age],
                self.gender[gender],
                self.occupation[occupation],
                history,
                session,
            ]
        )
        h = np.maximum(x @ self.w1 + self.b1, 0.0)
        out = h @ self.w2 + self.b2
        vec: FloatArray = (out / max(float(np.linalg.norm(out)), 1e-12)).astype(np.float32)
        return vec
