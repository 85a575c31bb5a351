"""No gain is claimed for a fused arm that serves with LLM weight 0: it makes no LLM call.

Such an arm is the rules (or the rules with a title term, or with another MMR lambda); a difference
it shows against the rules arm is not the LLM's. `care eval` marks its comparisons: no interval of
it counts as excluding zero, and the report says why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cascade.experiments import ArmSpec
from cascade.llm import PROMPTS_DIR, fused_llm_weight

NO_CONTEXT = "[no-context]"


def refused_gains(specs: Sequence[ArmSpec], prompts_dir: Any = PROMPTS_DIR) -> dict[str, str]:
    """Fused arms whose effective LLM weight is 0, by name, with the reason."""
    return {
        s.name: "LLM weight 0 (its tuning chose no LLM): no LLM call, so no difference of it is an LLM gain"
        for s in specs
        if fused_llm_weight(s, prompts_dir) == 0.0
    }


def refuse(vs_rules: Mapping[str, Mapping[str, Any]], refused: Mapping[str, str]) -> None:
    """Mark the comparisons of refused arms (any context) so that none counts as excluding zero."""
    for comps in vs_rules.values():
        for label, comp in comps.items():
            if label.removesuffix(NO_CONTEXT) in refused:
                for metric in comp.values():
                    metric["excludes_zero"] = 0.0
                    metric["refused"] = 1.0
