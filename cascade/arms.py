"""The arm resolver: experiment arm specs (cascade.experiments) become runnable arms, in one place.

The service and `care eval` both resolve arms here, each in one mode:
- serving: an arm's budget is its timeout_ms; LLM arms share the result cache, breaker and slots;
- quality: LLM arms get `QUALITY_BUDGET_MS` (the model's own answer unless it fails) and caches of
  their own.
A request's deadline, in one line: experiments.yaml `timeout_ms` -> `ArmSpec.timeout_ms` ->
`Arm.budget_ms` (this module, by mode) -> `RerankInput.deadline` = request start + budget
(`Pipeline.recommend`, once per request) -> the guard waits until it, then answers with the rules.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from cascade.data.dataset import Catalog
from cascade.experiments import ArmSpec, ExperimentsFile, load_experiments
from cascade.rerank.base import Arm, FallbackOnly, Mode, Reranker
from cascade.rerank.kinds import BuildContext
from cascade.rerank.llm.factory import LLMUnavailable
from cascade.rerank.llm.prompts import PROMPTS_DIR
from cascade.rerank.llm.settings import LLMSettings
from cascade.rerank.rules import DEFAULT_CONFIG as RULES_FILE
from cascade.rerank.rules import RulesReranker
from cascade.types import FallbackReason

if TYPE_CHECKING:  # the LLM stage loads llama.cpp: only the provider's owner imports it
    from cascade.rerank.llm.factory import LLMProvider, LLMStage

__all__ = [
    "QUALITY_BUDGET_MS",
    "Arm",
    "ArmResolver",
    "ArmSet",
    "Assignment",
    "ExperimentsError",
    "Mode",
    "arm_resolver",
    "watched_files",
]

QUALITY_BUDGET_MS = 600_000.0


class ExperimentsError(ValueError):
    """The experiments file or a file an arm names cannot be loaded; the message names the file."""


@dataclass(frozen=True)
class Assignment:
    """The arm a request runs on, in which experiment, and whether the request forced it."""

    arm: Arm
    experiment: str
    forced: bool


@dataclass(frozen=True)
class ArmSet:
    """Every resolved arm by (experiment, name), from one version of the experiments file.

    Immutable: a reload resolves a new set and swaps the reference, so a request keeps the arm it
    was given even if the file changes while it runs.
    """

    doc: ExperimentsFile
    arms: Mapping[tuple[str, str], Arm]
    source: str
    version: str  # content hash of the experiments file

    def names(self) -> list[str]:
        return sorted({name for _, name in self.arms})

    def forced(self, name: str) -> Assignment | None:
        """The arm named `name` (the default experiment's first, then the others'), or None."""
        order = [self.doc.default, *sorted(e for e in self.doc.experiments if e != self.doc.default)]
        for exp in order:
            arm = self.arms.get((exp, name))
            if arm is not None:
                return Assignment(arm, exp, forced=True)
        return None

    def assign(self, user_id: int) -> Assignment:
        """Deterministic assignment in the default experiment: hash(salt, user id) by weight."""
        spec = self.doc.get().assign(user_id)
        return Assignment(self.arms[(self.doc.default, spec.name)], self.doc.default, forced=False)


class ArmResolver:
    """Resolves arm specs for one mode; the rules re-ranker and the LLM stage are shared by its arms."""

    def __init__(
        self,
        rules: Reranker,
        mode: Mode,
        llm: LLMProvider | None = None,
        prompts_dir: Path = PROMPTS_DIR,
    ) -> None:
        self.rules, self.mode, self.llm, self.prompts_dir = rules, mode, llm, prompts_dir

    def resolve(self, spec: ArmSpec, prompts_dir: Path | None = None) -> Arm:
        """The runnable arm for `spec`; ValueError when a file it names is bad."""
        folder = prompts_dir or self.prompts_dir
        kind = spec.kind
        built = kind.build(spec.options, BuildContext(self.mode, self.rules, folder, self._stage(folder)))
        budget: float | None = None
        if kind.needs_deadline:
            assert spec.timeout_ms is not None  # ArmSpec enforces it for guarded kinds
            budget = float(spec.timeout_ms) if self.mode == "serving" else QUALITY_BUDGET_MS
        return Arm(spec.name, spec.reranker, built.reranker, budget, built.version, kind.uses_llm)

    def resolve_file(self, path: Path, prompts_dir: Path | None = None) -> ArmSet:
        """A fresh ArmSet from the files as they are now (ExperimentsError: keep the old one)."""
        folder = prompts_dir or self.prompts_dir
        try:
            raw = path.read_bytes()
            doc = load_experiments(path, folder)
        except (OSError, ValueError) as exc:
            raise ExperimentsError(str(exc)) from exc
        arms: dict[tuple[str, str], Arm] = {}
        for exp_name, exp in doc.experiments.items():
            for spec in exp.arms:
                try:
                    arms[(exp_name, spec.name)] = self.resolve(spec, folder)
                except (OSError, ValueError) as exc:  # PromptError is a ValueError
                    raise ExperimentsError(f"{path}: arm {spec.name!r}: {exc}") from exc
        return ArmSet(doc, arms, str(path), hashlib.sha256(raw).hexdigest()[:12])

    def shed(self, arm: Arm) -> Arm:
        """`arm` answered by the rules (no LLM call), for when the LLM is saturated."""
        shed = FallbackOnly(self.rules, FallbackReason.OVERLOADED)
        return replace(arm, kind="rules", reranker=shed, budget_ms=None, uses_llm=False)

    def _stage(self, folder: Path) -> _StageThunk:
        return _StageThunk(self.llm, folder)

    async def aclose(self) -> None:
        if self.llm is not None:
            await self.llm.aclose()


@dataclass(frozen=True)
class _StageThunk:
    """Builds the LLM stage only when a kind asks for it (so rules-only files never load a model)."""

    llm: LLMProvider | None
    folder: Path

    def __call__(self) -> LLMStage:
        if self.llm is None:
            raise LLMUnavailable("no LLM configured")
        return self.llm.stage(self.folder)


def arm_resolver(
    catalog: Catalog,
    mode: Mode,
    llm: LLMSettings | None = None,
    *,
    redis_url: str | None = None,
    cache_prefix: str = "care:llm:",
    prompts_dir: Path = PROMPTS_DIR,
) -> ArmResolver:
    """The resolver for a catalog: the rules from rules.yaml and, when `llm` is given, the LLM stage.

    The LLM's result cache lives in Redis when `redis_url` is given (serving), else in process. The
    model is loaded only when the first arm that uses it is resolved.
    """
    provider: LLMProvider | None = None
    if llm is not None:
        from cascade.rerank.llm.cache import MemoryCache, RedisCache, ResultCache
        from cascade.rerank.llm.factory import LLMProvider

        def cache() -> ResultCache:
            return RedisCache.from_url(redis_url, cache_prefix) if redis_url else MemoryCache()

        provider = LLMProvider(llm, mode, cache)
    return ArmResolver(RulesReranker.from_yaml(RULES_FILE, catalog=catalog), mode, provider, prompts_dir)


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
