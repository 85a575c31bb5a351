"""Admission control, the service's one load-shedding object: 429 at the door, no LLM when saturated."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Admission:
    """Counts requests in flight on the guarded routes (one event loop per process: no lock needed)."""

    max_inflight: int  # beyond: 429 before any handler runs
    llm_inflight: int  # beyond: arms that use the LLM answer with the rules (fallback_reason overloaded)
    inflight: int = 0

    def try_enter(self) -> bool:
        """Admit one request unless `max_inflight` are already in flight."""
        if self.inflight >= self.max_inflight:
            return False
        self.inflight += 1
        return True

    def leave(self) -> None:
        self.inflight -= 1

    @property
    def llm_saturated(self) -> bool:
        """Too many requests in flight to start another LLM call."""
        return self.inflight > self.llm_inflight
