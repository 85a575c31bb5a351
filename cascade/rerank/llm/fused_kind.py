"""The `llm_fused` kind: LLM label scores fused with the ranker's, the list built by the rules, guarded.

`tuned: <name>` reads the LLM weight and mmr_lambda from prompts/<name>.yaml (written by `care tune-fusion`),
overriding the arm's own fields.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cascade.rerank.base import FallbackOnly
from cascade.rerank.kinds import BuildContext, Built, Kind, KindConfig
from cascade.rerank.llm.factory import LLMUnavailable
from cascade.rerank.llm.fused import FusedLLMReranker, FusionSettings
from cascade.rerank.llm.prompts import prompt_path, template_variables
from cascade.rerank.llm.settings import ModelChoice
from cascade.rerank.rules import DEFAULT_CONFIG
from cascade.rerank.title.term import TitleSignal
from cascade.rerank.title_kind import rules_of
from cascade.types import FallbackReason

MAX_WINDOW = 20  # OpenAI-compatible servers return at most 20 top_logprobs by default


class Tuned(BaseModel):
    """prompts/<tuned>.yaml: what `care tune-fusion` chose."""

    model_config = ConfigDict(extra="allow", frozen=True)
    weight: float = Field(ge=0.0, le=20.0)
    mmr_lambda: float = Field(ge=0.0, le=1.0)
    position_prior: tuple[float, ...] = ()  # `care llm qualify`: subtracted per label position


class FusedConfig(KindConfig):
    """The fused arm's fields (see cascade.rerank.llm.fused)."""

    prompt: str = Field(default="fused", min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    llm_weight: float = Field(default=1.0, ge=0.0, le=20.0)
    mmr_lambda: float | None = Field(default=None, ge=0.0, le=1.0)
    tuned: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]+$")
    passes: int = Field(default=1, ge=1, le=8)
    max_scored: int = Field(default=20, ge=2, le=100)
    seed: int = 0
    title: TitleSignal = "none"
    title_weight: float = Field(default=0.0, ge=0.0, le=20.0)
    model: ModelChoice = Field(default="base", description="tuned: the LoRA adapter of `care tune`.")
    alone: bool = Field(default=False, description="Order by the LLM's scores alone (no fusion, no rules).")


def load_tuned(path: Path) -> Tuned:
    """Read a tuning file; ValueError naming it when unreadable or invalid."""
    try:
        return Tuned.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise ValueError(f"{path}: cannot use fusion tuning: {exc}") from exc


def effective(cfg: FusedConfig, prompts_dir: Path) -> tuple[float, float | None]:
    """(weight, mmr_lambda) after the tuning file, if the arm names one."""
    if cfg.tuned is None:
        return cfg.llm_weight, cfg.mmr_lambda
    t = load_tuned(prompts_dir / f"{cfg.tuned}.yaml")
    return t.weight, t.mmr_lambda


def _build(cfg: FusedConfig, ctx: BuildContext) -> Built:
    rules = rules_of(ctx)
    weight, lam = effective(cfg, ctx.prompts_dir)
    try:
        stage = ctx.llm_stage()
        backend = stage.backend_for(cfg.model)
    except LLMUnavailable:
        if ctx.mode == "quality":
            raise
        return Built(FallbackOnly(ctx.rules, FallbackReason.LLM_UNAVAILABLE))
    tpl = stage.prompt(cfg.prompt)
    if tpl.strategy != "single_pass" or tpl.spec.max_candidates > MAX_WINDOW:
        raise ValueError(f"prompt {cfg.prompt!r}: fusion needs single_pass windows of at most {MAX_WINDOW}")
    if tpl.spec.labels == "letters":
        raise ValueError(f"prompt {cfg.prompt!r}: fusion needs one-case labels (upper, digits or numbers)")
    prior = load_tuned(ctx.prompts_dir / f"{cfg.tuned}.yaml").position_prior if cfg.tuned else ()
    settings = FusionSettings(
        weight,
        cfg.passes,
        cfg.max_scored,
        cfg.seed,
        cfg.title,
        cfg.title_weight,
        alone=cfg.alone,
        prior=prior,
    )
    primary = FusedLLMReranker(backend, tpl, rules.with_mmr_lambda(lam), settings)
    guarded = stage.guard(primary, ctx.rules)
    head = tpl.version if cfg.model == "base" else f"{tpl.version}:{backend.name}"
    if cfg.alone:
        return Built(guarded, f"{head}:alone")
    return Built(guarded, f"{head}:w={weight:g}:lam={lam if lam is not None else 'rules'}")


def _files(cfg: FusedConfig, prompts_dir: Path) -> list[Path]:
    files = [prompt_path(cfg.prompt, prompts_dir), DEFAULT_CONFIG]
    return files + ([prompts_dir / f"{cfg.tuned}.yaml"] if cfg.tuned else [])


def _reads_context(cfg: FusedConfig, prompts_dir: Path) -> bool:
    path = prompt_path(cfg.prompt, prompts_dir)
    in_prompt = path.is_file() and "playlist" in template_variables(path)
    return in_prompt or (cfg.title != "none" and cfg.title_weight > 0)


KIND = Kind(
    "llm_fused",
    FusedConfig,
    _build,
    needs_deadline=True,
    uses_llm=True,
    files=_files,
    reads_context=_reads_context,
)
