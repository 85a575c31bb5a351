"""A/B experiments from prompts/experiments.yaml: arm specs with weights, stable hash assignment, forced arms.

An arm is `{name, weight, reranker: <kind>, timeout_ms?, ...the kind's own fields}`; the kind
(cascade.rerank.registry) validates its own fields, and guarded kinds require timeout_ms, the only
source of a request's deadline (cascade.arms turns it into the arm's budget).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from cascade.rerank.kinds import Kind, KindConfig
from cascade.rerank.registry import get_kind

EXPERIMENTS_FILE = Path(__file__).resolve().parents[1] / "prompts" / "experiments.yaml"
_COMMON = ("name", "weight", "reranker", "timeout_ms")


class ArmSpec(BaseModel):
    """One arm as the experiments file states it: its re-ranker kind, share of users and time budget."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1)
    weight: float = Field(default=1.0, ge=0)
    reranker: str
    timeout_ms: int | None = Field(default=None, gt=0)
    options: KindConfig = KindConfig()  # the kind's own fields (e.g. an llm arm's prompt)

    @model_validator(mode="before")
    @classmethod
    def _kind_fields(cls, raw: Any) -> Any:
        """Fields other than the common ones belong to the kind and are validated by its config model."""
        if not isinstance(raw, dict) or "options" in raw:
            return raw
        common = {k: raw[k] for k in _COMMON if k in raw}
        kind = get_kind(str(raw.get("reranker")))
        common["options"] = kind.config.model_validate({k: v for k, v in raw.items() if k not in _COMMON})
        return common

    @model_validator(mode="after")
    def _deadline_iff_guarded(self) -> ArmSpec:
        if self.kind.needs_deadline and self.timeout_ms is None:
            raise ValueError(f"arm {self.name!r}: reranker {self.reranker!r} needs timeout_ms > 0")
        if not self.kind.needs_deadline and self.timeout_ms is not None:
            raise ValueError(
                f"arm {self.name!r}: reranker {self.reranker!r} has no deadline; drop timeout_ms"
            )
        return self

    @property
    def kind(self) -> Kind:
        return get_kind(self.reranker)

    def files(self, prompts_dir: Path) -> list[Path]:
        """Files whose content decides this arm's answers."""
        return self.kind.files(self.options, prompts_dir)

    def reads_context(self, prompts_dir: Path) -> bool:
        """Whether the playlist title can change this arm's answer."""
        return self.kind.reads_context(self.options, prompts_dir)

    def runs(self) -> tuple[str, str]:
        """What the arm runs, without its name and weight: equal for arms that answer alike."""
        return (self.reranker, self.options.model_dump_json())


class Experiment(BaseModel):
    """Arms sharing the users by weight; `salt` makes assignments independent across experiments."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    salt: str = Field(min_length=1)
    arms: tuple[ArmSpec, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _check_arms(self) -> Experiment:
        names = [a.name for a in self.arms]
        if dupes := sorted({n for n in names if names.count(n) > 1}):
            raise ValueError(f"duplicate arm names {dupes}")
        if sum(a.weight for a in self.arms) <= 0:
            raise ValueError("arm weights must sum to more than 0")
        return self

    def arm(self, name: str) -> ArmSpec:
        """The arm called `name`; ValueError naming the known arms otherwise."""
        for a in self.arms:
            if a.name == name:
                return a
        raise ValueError(f"unknown arm {name!r}; arms are {[a.name for a in self.arms]}")

    def assign(self, user_id: int | str, forced: str | None = None) -> ArmSpec:
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
    """Parse and validate an experiments file; every file an arm names (a prompt) must exist."""
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
            for f in a.files(folder):
                if not f.is_file():
                    raise ValueError(f"{path}: experiment {exp_name!r} arm {a.name!r}: no file {f.name}")
    return doc
