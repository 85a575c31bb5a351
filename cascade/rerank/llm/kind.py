"""The `llm` kind: the guarded LLM re-ranker for one prompt, with the rules as its fallback."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from cascade.rerank.base import FallbackOnly
from cascade.rerank.kinds import BuildContext, Built, Kind, KindConfig
from cascade.rerank.llm.factory import LLMUnavailable
from cascade.rerank.llm.prompts import prompt_path, template_variables
from cascade.rerank.rules import DEFAULT_CONFIG
from cascade.types import FallbackReason


class LLMKindConfig(KindConfig):
    """prompts/<prompt>.yaml is the template the model reads."""

    prompt: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")


def _build(cfg: LLMKindConfig, ctx: BuildContext) -> Built:
    try:
        stage = ctx.llm_stage()
    except LLMUnavailable:
        if ctx.mode == "quality":
            raise  # measuring the model without a model is an error, not a fallback
        return Built(FallbackOnly(ctx.rules, FallbackReason.LLM_UNAVAILABLE))
    # a bad prompt raises PromptError (a ValueError): the resolver refuses the whole file
    return Built(stage.reranker(cfg.prompt, ctx.rules), stage.prompt(cfg.prompt).version)


def _files(cfg: LLMKindConfig, prompts_dir: Path) -> list[Path]:
    return [prompt_path(cfg.prompt, prompts_dir), DEFAULT_CONFIG]


def _reads_context(cfg: LLMKindConfig, prompts_dir: Path) -> bool:
    path = prompt_path(cfg.prompt, prompts_dir)
    return path.is_file() and "playlist" in template_variables(path)


KIND = Kind(
    "llm",
    LLMKindConfig,
    _build,
    needs_deadline=True,
    uses_llm=True,
    files=_files,
    reads_context=_reads_context,
)
