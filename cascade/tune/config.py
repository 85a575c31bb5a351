"""`care tune`'s settings (recorded in the manifest; a checkpoint resumes only under the same ones)."""

from __future__ import annotations

import hashlib

from pydantic import BaseModel, ConfigDict, Field

from cascade.tune.examples import Negatives
from cascade.tune.model import TARGETS, Precision


class TuneConfig(BaseModel):
    """Data, LoRA and optimisation settings of one tuning run."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    seed: int = 0
    prompt: str = Field(default="fused", description="Prompt file the examples are rendered with.")
    max_users: int | None = Field(default=None, ge=2, description="Users to build examples from (None: all).")
    val_users: int = Field(default=48, ge=1, description="Users held out for early stopping.")
    title_share: float = Field(default=2 / 3, ge=0.0, le=1.0)
    negatives: Negatives = Field(
        default="hard",
        description="Training windows: the ranker's top 20 (hard), or its top 10 and 10 random unseen "
        "catalog items (mixed). Held-out windows are always hard (what serving scores).",
    )
    rank: int = Field(default=8, ge=1)
    alpha: float = Field(default=16.0, gt=0)
    dropout: float = Field(default=0.05, ge=0.0, lt=1.0)
    targets: tuple[str, ...] = TARGETS
    lr: float = Field(default=5e-4, gt=0)
    weight_decay: float = Field(default=0.0, ge=0.0)
    epochs: int = Field(default=1, ge=1)
    grad_accum: int = Field(default=8, ge=1)
    warmup_steps: int = Field(default=5, ge=0)
    max_steps: int | None = Field(default=None, ge=1, description="Optimizer steps (None: the epochs).")
    eval_every: int = Field(default=15, ge=1, description="Optimizer steps between validations.")
    patience: int = Field(default=3, ge=1, description="Validations without improvement before stopping.")
    max_minutes: float | None = Field(default=None, gt=0, description="Stop (keeping the best) after this.")
    device: str = "auto"
    precision: Precision = "auto"

    def digest(self) -> str:
        """What a checkpoint must match to be resumed (the time budget and device may change)."""
        skip = {"max_minutes", "device", "precision", "max_steps", "patience"}
        if self.negatives == "hard":  # the default: digests (and checkpoints) from before the option hold
            skip.add("negatives")
        keep = self.model_dump(exclude=skip)
        return hashlib.sha256(repr(sorted(keep.items())).encode()).hexdigest()[:16]
