"""The `rules_title` kind: the rules over z(ranker) + weight * z(title term) (lexicon or MiniLM)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from cascade.rerank.fusion import rerank_fused
from cascade.rerank.kinds import BuildContext, Built, Kind, KindConfig
from cascade.rerank.rules import DEFAULT_CONFIG, RulesReranker
from cascade.rerank.title.term import TitleSignal, title_term
from cascade.types import RerankInput, RerankOutput


class TitleRulesConfig(KindConfig):
    """signal: how the title is read; title_weight: of its z-scored term against z(ranker)."""

    signal: TitleSignal = "lexicon"
    title_weight: float = Field(default=1.0, ge=0.0, le=20.0)
    mmr_lambda: float | None = Field(default=None, ge=0.0, le=1.0)


class TitleRules:
    """Rules that read the playlist title as a relevance term."""

    def __init__(self, rules: RulesReranker, cfg: TitleRulesConfig, name: str) -> None:
        self.rules, self.cfg, self.name = rules.with_mmr_lambda(cfg.mmr_lambda), cfg, name

    async def rerank(self, inp: RerankInput) -> RerankOutput:
        term = title_term(self.cfg.signal, inp)
        terms = [] if term is None else [(self.cfg.title_weight, term)]
        out = rerank_fused(self.rules, inp, terms, self.name)
        out.stats["title_term"] = float(term is not None)
        return out


def rules_of(ctx: BuildContext) -> RulesReranker:
    """The resolver's rules re-ranker (the kinds that fuse scores need its MMR and caps)."""
    if not isinstance(ctx.rules, RulesReranker):
        raise ValueError(f"score fusion needs the rule re-ranker, not {type(ctx.rules).__name__}")
    return ctx.rules


def _build(cfg: TitleRulesConfig, ctx: BuildContext) -> Built:
    return Built(TitleRules(rules_of(ctx), cfg, f"rules_title:{cfg.signal}"))


def _files(_cfg: TitleRulesConfig, _prompts_dir: Path) -> list[Path]:
    return [DEFAULT_CONFIG, Path(__file__).parent / "title" / "lexicon.py"]


def _reads_context(_cfg: TitleRulesConfig, _prompts_dir: Path) -> bool:
    return True


KIND = Kind("rules_title", TitleRulesConfig, _build, files=_files, reads_context=_reads_context)
