"""The LLM backend interface: score labels at the first output position, or write an ordered list."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from cascade.rerank.llm.prompts import ChatPrompt


class BackendError(RuntimeError):
    """The backend failed to answer; `retryable` says whether trying again may help."""

    def __init__(self, message: str, *, retryable: bool = False):
        super().__init__(message)
        self.retryable = retryable


@dataclass
class ScoreResult:
    """Log-probabilities of candidate labels at the first output position (absent labels: not returned)."""

    logprobs: dict[str, float]
    prompt_tokens: int
    completion_tokens: int = 1


@dataclass
class ListResult:
    """Labels as the model wrote them, best first; may hold unknowns and duplicates (repaired later)."""

    labels: list[str]
    prompt_tokens: int
    completion_tokens: int
    parsed: bool = True
    raw: str = field(default="", repr=False)


@runtime_checkable
class LLMBackend(Protocol):
    """One way of running a prompt through a model."""

    name: str

    async def score(self, prompt: ChatPrompt) -> ScoreResult: ...

    async def rank(self, prompt: ChatPrompt) -> ListResult: ...

    async def aclose(self) -> None: ...
