"""A/B experiments from prompts/experiments.yaml: arms with weights, stable hash assignment, forced arms."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Literal

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

EXPERIMENTS_FILE = Path(__file__).resolve().parents[1] / "prompts" / "experiments.yaml"
RerankerKind = Literal["none", "rules", "llm"]


class Arm(BaseModel):
    """One variant: which re-ranker, its share of users, and its time budget."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1)
    weight: float = Field(ge=0)
    reranker: RerankerKind
    prompt: str | None = None  # prompts/<prompt>.yaml, for reranker: llm
    timeout_ms: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _prompt_iff_llm(self) -> Arm:
        if self.reranker == "llm" and not self.prompt:
            raise ValueError(f"arm {self.name!r}: reranker 'llm' needs a prompt")
        if self.reranker != "llm" and self.prompt:
            raise ValueError(f"arm {self.name!r}: only reranker 'llm' takes a prompt")
        if self.reranker == "llm" and self.timeout_ms <= 0:
            raise ValueError(f"arm {self.name!r}: reranker 'llm' needs timeout_ms > 0")
        return self


class Experiment(BaseModel):
    """Arms sharing the users by weight; `salt` makes assignments independent across experiments."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    salt: str = Field(min_length=1)
    arms: tuple[Arm, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _check_arms(self) -> Experiment:
        names = [a.name for a in self.arms]
        if dupes := sorted({n for n in names if names.count(n) > 1}):
            raise ValueError(f"duplicate arm names {dupes}")
        if sum(a.weight for a in self.arms) <= 0:
            raise ValueError("arm weights must sum to more than 0")
        return self

    def arm(self, name: str) -> Arm:
        """The arm called `name`; ValueError naming the known arms otherwise."""
        for a in self.arms:
            if a.name == name:
                return a
        raise ValueError(f"unknown arm {name!r}; arms are {[a.name for a in self.arms]}")

    def assign(self, user_id: int | str, forced: str | None = None) -> Arm:
        """The forced arm if given, else the arm the user's stable hash falls into by weight."""
        if forced is not None:
            return self.arm(forced)
        point = bucket(user_id, self.salt) * sum(a.weight for a in self.arms)
        acc = 0.0
        for a in self.arms:
            acc += a.weight
            if point < acc:
                return a
        return next(a for a in reversed(self.arms) if a.weight > 0)


class ExperimentsFile(BaseModel):
    """The schema of prompts/experiments.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    experiments: dict[str, Experiment] = Field(min_length=1)

    @property
    def default(self) -> str:
        """The first experiment in the file."""
        return next(iter(self.experiments))

    def get(self, name: str | None = None) -> Experiment:
        """An experiment by name (the first one when None); ValueError if unknown."""
        key = name or self.default
        if key not in self.experiments:
            raise ValueError(f"unknown experiment {key!r}; experiments are {sorted(self.experiments)}")
        return self.experiments[key]


def bucket(user_id: int | str, salt: str) -> float:
    """A stable point in [0, 1) from sha256 of salt and user id."""
    digest = hashlib.sha256(f"{salt}\x1f{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def load_experiments(path: Path | None = None, prompts_dir: Path | None = None) -> ExperimentsFile:
    """Parse and validate an experiments file; every llm arm's prompt file must exist."""
    path = path or EXPERIMENTS_FILE
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ValueError(f"{path}: cannot read: {exc}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ValueError(f"{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from exc
    try:
        doc = ExperimentsFile.model_validate(raw)
    except pydantic.ValidationError as exc:
        errs = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ValueError(f"{path}: {errs}") from exc
    folder = prompts_dir or path.parent
    for exp_name, exp in doc.experiments.items():
        for a in exp.arms:
            if a.prompt and not (folder / f"{a.prompt}.yaml").is_file():
                raise ValueError(
                    f"{path}: experiment {exp_name!r} arm {a.name!r}: no prompt file {a.prompt}.yaml"
                )
    return doc
