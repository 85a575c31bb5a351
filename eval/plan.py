"""What an evaluation runs (`Plan`), shared by the runner and the order-sensitivity check."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cascade.experiments import ArmSpec
from cascade.runtime import Runtime
from eval.harness import EvalConfig
from eval.scoring import ItemInfo


@dataclass
class Plan:
    """What an evaluation runs: users, their titles, start times and truth, and the arms."""

    cfg: EvalConfig
    runtime: Runtime
    out: Path
    cache_dir: Path
    users: list[int]
    llm_users: list[int]
    titles: dict[int, str | None]
    starts: dict[int, int]
    truth: dict[int, set[int]]
    info: ItemInfo
    specs: list[ArmSpec]

    @property
    def user_sets(self) -> dict[str, list[int]]:
        """ "all" users, and the LLM sub-sample when LLM arms run on fewer users."""
        sets = {"all": self.users}
        if any(s.kind.uses_llm for s in self.specs) and self.llm_users != self.users:
            sets["llm"] = self.llm_users
        return sets
