"""The `rules` kind: MMR diversity with franchise and genre caps (also every guarded kind's fallback)."""

from __future__ import annotations

from pathlib import Path

from cascade.rerank.kinds import BuildContext, Built, Kind, KindConfig
from cascade.rerank.rules import DEFAULT_CONFIG


def _build(_cfg: KindConfig, ctx: BuildContext) -> Built:
    return Built(ctx.rules)


def _files(_cfg: KindConfig, _prompts_dir: Path) -> list[Path]:
    return [DEFAULT_CONFIG]


KIND = Kind("rules", KindConfig, _build, files=_files)
