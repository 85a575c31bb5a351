"""What a re-ranker kind is: a config model (the arm's own YAML fields) and a builder.

An arm in prompts/experiments.yaml names its kind with `reranker:`; cascade.rerank.registry maps
that name to a `Kind`, as Feast maps online-store types to classes. A new kind is one module that
defines its `Kind` and one entry in the registry; the arm resolver (cascade.arms), the service and
`care eval` need no change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from cascade.rerank.base import Mode, Reranker

if TYPE_CHECKING:
    from cascade.rerank.llm.factory import LLMStage


class KindConfig(BaseModel):
    """The kind-specific fields of an arm (none by default); unknown fields are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class Built:
    """A built re-ranker and the version of what decides its answers (a prompt's), if any."""

    reranker: Reranker
    version: str | None = None


@dataclass(frozen=True)
class BuildContext:
    """What a builder may use: the mode, the shared rules re-ranker, prompts, and the LLM stage."""

    mode: Mode
    rules: Reranker
    prompts_dir: Path
    llm_stage: Callable[[], LLMStage]  # raises LLMUnavailable when no LLM stage can be built


def _no_files(_cfg: Any, _prompts_dir: Path) -> list[Path]:
    return []


def _no_context(_cfg: Any, _prompts_dir: Path) -> bool:
    return False


@dataclass(frozen=True)
class Kind:
    """One re-ranker kind.

    needs_deadline: the kind is guarded (an arm must give timeout_ms; its requests carry a deadline).
    uses_llm: it spends LLM calls (the service sheds it under load; eval runs it on the LLM sample).
    files: files whose content decides its answers (must exist; keys eval's result cache).
    reads_context: whether the playlist title can change its answer.
    """

    name: str
    config: type[KindConfig]
    build: Callable[[Any, BuildContext], Built]
    needs_deadline: bool = False
    uses_llm: bool = False
    files: Callable[[Any, Path], list[Path]] = _no_files
    reads_context: Callable[[Any, Path], bool] = _no_context
