"""The one adapter from the experiments config (cascade.experiments) and the LLM stage to pipeline Arms.

An ArmSet is an immutable snapshot: a reload builds a new one and swaps the reference, so a request
keeps the arm it was given even if the config changes while it runs.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from cascade.experiments import Experiment, ExperimentsFile, load_experiments
from cascade.pipeline import Arm
from cascade.rerank.base import IdentityReranker, Reranker
from cascade.types import RerankInput, RerankOutput

log = logging.getLogger("care.service.arms")


class ExperimentsError(ValueError):
    """The experiments file or a prompt cannot be loaded; the message names the file."""


@dataclass(frozen=True)
class ArmChoice:
    """The arm a request runs on, and how it got it."""

    arm: Arm
    experiment: str
    forced: bool


@dataclass(frozen=True)
class ArmSet:
    """Every arm by name, the default experiment that assigns users, and where it came from."""

    doc: ExperimentsFile
    arms: Mapping[tuple[str, str], Arm]  # (experiment, arm name) -> Arm
    source: str
    version: str  # content hash of the experiments file
    fast: Arm  # the no-LLM path (rules) under overload
    llm_arms: frozenset[str]

    def names(self) -> list[str]:
        return sorted({name for _, name in self.arms})

    def forced(self, name: str) -> ArmChoice | None:
        """The arm named `name` (the default experiment's first, then the others'), or None."""
        order = [self.doc.default, *sorted(e for e in self.doc.experiments if e != self.doc.default)]
        for exp in order:
            arm = self.arms.get((exp, name))
            if arm is not None:
                return ArmChoice(arm, exp, forced=True)
        return None

    def assign(self, user_id: int) -> ArmChoice:
        """Deterministic assignment in the default experiment: hash(salt, user id) by weight."""
        spec = self.doc.get().assign(user_id)
        return ArmChoice(self.arms[(self.doc.default, spec.name)], self.doc.default, forced=False)


class Unavailable:
    """Stands in for a re-ranker that could not be built: answers with the fallback, says why."""

    def __init__(self, fallback: Reranker, reason: str) -> None:
        self.name = fallback.name
        self._fallback, self._reason = fallback, reason

    async def rerank(self, inp: RerankInput) -> RerankOutput:
        out = await self._fallback.rerank(inp)
        out.fallback_reason = self._reason
        return out


# (prompt name, prompts dir, fallback, timeout_ms) -> (guarded LLM re-ranker, prompt version)
LLMBuilder = Callable[[str, Path, Reranker, int], tuple[Reranker, str]]


@dataclass
class RerankerFactory:
    """Builds re-rankers for arms; shared objects (rules, LLM stage) live across reloads."""

    rules: Reranker
    llm: LLMBuilder | None = None

    def build(self, exp: Experiment, name: str, prompts_dir: Path) -> tuple[Reranker, str | None]:
        spec = exp.arm(name)
        if spec.reranker == "none":
            return IdentityReranker(), None
        if spec.reranker == "rules":
            return self.rules, None
        assert spec.prompt is not None
        if self.llm is None:
            return Unavailable(self.rules, "llm_unavailable"), None
        return self.llm(spec.prompt, prompts_dir, self.rules, spec.timeout_ms)


def build_arms(
    experiments_file: Path,
    prompts_dir: Path,
    factory: RerankerFactory,
    default_timeout_ms: float,
) -> ArmSet:
    """A fresh ArmSet from the files as they are now (ExperimentsError: the caller keeps the old one)."""
    try:
        raw = experiments_file.read_bytes()
        doc = load_experiments(experiments_file, prompts_dir)
    except (OSError, ValueError) as exc:
        raise ExperimentsError(str(exc)) from exc
    arms: dict[tuple[str, str], Arm] = {}
    llm_arms: set[str] = set()
    for exp_name, exp in doc.experiments.items():
        for spec in exp.arms:
            try:
                reranker, prompt_version = factory.build(exp, spec.name, prompts_dir)
            except (OSError, ValueError) as exc:  # PromptError is a ValueError
                raise ExperimentsError(f"{experiments_file}: arm {spec.name!r}: {exc}") from exc
            timeout = float(spec.timeout_ms) if spec.timeout_ms > 0 else default_timeout_ms
            arms[(exp_name, spec.name)] = Arm(spec.name, reranker, timeout, prompt_version)
            if spec.reranker == "llm":
                llm_arms.add(spec.name)
    version = hashlib.sha256(raw).hexdigest()[:12]
    fast = Arm("fast", factory.rules, None)
    return ArmSet(doc, arms, str(experiments_file), version, fast, frozenset(llm_arms))


def watched_files(experiments_file: Path, prompts_dir: Path) -> dict[Path, tuple[int, int]]:
    """The files whose change triggers a reload, with (mtime_ns, size); missing files: (-1, -1)."""
    paths = [experiments_file]
    if prompts_dir.is_dir():
        paths += sorted(p for p in prompts_dir.iterdir() if p.suffix in (".yaml", ".yml"))
    out: dict[Path, tuple[int, int]] = {}
    for p in paths:
        try:
            st = p.stat()
            out[p] = (st.st_mtime_ns, st.st_size)
        except OSError:
            out[p] = (-1, -1)
    return out
