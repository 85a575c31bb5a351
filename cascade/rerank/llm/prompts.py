"""Prompt templates as YAML files (strategy, system text, Jinja2 user template), validated at load."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import jinja2
import jinja2.meta
import jinja2.sandbox
import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field

from cascade.rerank.llm.labels import LabelScheme, labels_for
from cascade.rerank.llm.sanitize import clean_text
from cascade.rerank.llm.tokenizer import Tokenizer
from cascade.types import ItemText, RerankInput

PROMPTS_DIR = Path(__file__).resolve().parents[3] / "prompts"
ALLOWED_VARIABLES = frozenset({"candidates", "playlist", "recent", "k", "n"})
REQUIRED_VARIABLES = frozenset({"candidates"})
Strategy = Literal["listwise", "single_pass"]


class PromptError(ValueError):
    """A prompt file is malformed; the message names the file (and line where known)."""


class OutputSpec(BaseModel):
    """How the answer is shaped: listwise answers are {key: [labels]} over HTTP."""

    model_config = ConfigDict(extra="forbid")
    key: str = "ranking"


class PromptFile(BaseModel):
    """The YAML schema of prompts/<name>.yaml."""

    model_config = ConfigDict(extra="forbid")
    version: str
    strategy: Strategy
    description: str = ""
    system: str
    user: str
    labels: LabelScheme
    max_candidates: int = Field(ge=2, le=52)
    max_recent: int = Field(default=5, ge=0, le=20)
    title_chars: int = Field(default=60, ge=8, le=200)
    playlist_chars: int = Field(default=80, ge=8, le=200)
    token_budget: int = Field(ge=64, le=8192)
    output: OutputSpec = OutputSpec()


@dataclass(frozen=True)
class ChatPrompt:
    """A rendered prompt: the messages plus the closed label set it ranks."""

    system: str
    user: str
    labels: tuple[str, ...]
    strategy: Strategy
    rank_depth: int  # how many labels a listwise answer must order
    output_key: str


def _env() -> jinja2.sandbox.ImmutableSandboxedEnvironment:
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(
        undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False
    )
    env.filters["data"] = clean_text
    return env


class PromptTemplate:
    """A validated prompt file, ready to render RerankInputs."""

    def __init__(self, spec: PromptFile, name: str, source: str, template: jinja2.Template):
        self.spec = spec
        self.name = name
        self.template = template
        self.version = f"{name}@{spec.version}#{hashlib.sha256(source.encode()).hexdigest()[:10]}"

    @property
    def strategy(self) -> Strategy:
        return self.spec.strategy

    def n_used(self, n_candidates: int) -> int:
        """How many of the ranker's candidates go into the prompt."""
        return min(n_candidates, self.spec.max_candidates)

    def render(self, inp: RerankInput) -> ChatPrompt:
        """The chat prompt for the top candidates of `inp`; titles cleaned and truncated as data."""
        s = self.spec
        cands = inp.candidates[: s.max_candidates]
        labels = labels_for(s.labels, len(cands))
        ctx = {
            "candidates": [
                self._item(c, s.title_chars) | {"label": lab} for lab, c in zip(labels, cands, strict=True)
            ],
            "recent": [self._item(r, s.title_chars) for r in inp.recent[: s.max_recent]],
            "playlist": clean_text(inp.context.playlist_title, s.playlist_chars)
            if inp.context.playlist_title
            else None,
            "k": min(inp.k, len(cands)),
            "n": len(cands),
        }
        user = self.template.render(**ctx).strip()
        return ChatPrompt(s.system.strip(), user, labels, s.strategy, min(inp.k, len(cands)), s.output.key)

    @staticmethod
    def _item(it: ItemText, chars: int) -> dict[str, Any]:
        genres = ", ".join(clean_text(g, 20) for g in it.genres[:4])
        return {"title": clean_text(it.title, chars), "year": int(it.year), "genres": genres}


def _fail(path: Path, msg: str, line: int | None = None) -> PromptError:
    where = f"{path}:{line}" if line is not None else str(path)
    return PromptError(f"{where}: {msg}")


def _worst_case_input(spec: PromptFile) -> RerankInput:
    from cascade.types import Context

    title = ("The Extraordinary Adventures of Somebody Long-Named, Part " * 4)[: spec.title_chars]
    item = ItemText(0, title, 1999, ("Adventure", "Children's", "Documentary", "Film-Noir"))
    cands = tuple(ItemText(i, title, 1999, item.genres) for i in range(spec.max_candidates))
    return RerankInput(
        user_id=0,
        context=Context(
            playlist_title=("Songs and films for a very long rainy weekend " * 4)[: spec.playlist_chars]
        ),
        candidates=cands,
        scores=tuple(0.0 for _ in cands),
        recent=tuple(item for _ in range(spec.max_recent)),
        k=spec.max_candidates,
    )


def load_prompt(path: Path, tokenizer: Tokenizer) -> PromptTemplate:
    """Parse and validate a prompt file: schema, placeholders, single-token labels, token budget."""
    try:
        source = path.read_text()
    except OSError as exc:
        raise _fail(path, f"cannot read: {exc}") from exc
    try:
        raw = yaml.safe_load(source)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise _fail(
            path, f"invalid YAML: {getattr(exc, 'problem', exc)}", mark.line + 1 if mark else None
        ) from exc
    if not isinstance(raw, dict):
        raise _fail(path, "top level must be a mapping")
    try:
        spec = PromptFile.model_validate(raw)
    except pydantic.ValidationError as exc:
        errs = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise _fail(path, errs) from exc
    env = _env()
    try:
        ast = env.parse(spec.user)
    except jinja2.TemplateSyntaxError as exc:
        raise _fail(path, f"user template: {exc.message}", exc.lineno) from exc
    used = jinja2.meta.find_undeclared_variables(ast)
    if unknown := used - ALLOWED_VARIABLES:
        raise _fail(
            path,
            f"user template uses unknown variables {sorted(unknown)}; allowed: {sorted(ALLOWED_VARIABLES)}",
        )
    if missing := REQUIRED_VARIABLES - used:
        raise _fail(path, f"user template must use {sorted(missing)}")
    try:
        labels = labels_for(spec.labels, spec.max_candidates)
    except ValueError as exc:
        raise _fail(path, str(exc)) from exc
    for label in labels:
        if tokenizer.single_token(label) is None:
            raise _fail(path, f"label {label!r} is not a single token in the model's tokenizer")
    tpl = PromptTemplate(spec, path.stem, source, env.from_string(spec.user))
    try:
        chat = tpl.render(_worst_case_input(spec))
    except jinja2.TemplateError as exc:
        raise _fail(path, f"user template does not render: {exc}", getattr(exc, "lineno", None)) from exc
    n_tokens = len(tokenizer.encode_chat(chat.system, chat.user))
    if n_tokens > spec.token_budget:
        raise _fail(
            path, f"worst-case prompt is {n_tokens} tokens, over the token_budget of {spec.token_budget}"
        )
    return tpl


def template_variables(path: Path) -> set[str]:
    """The variables a prompt file's user template reads (empty when it has none or does not parse)."""
    try:
        raw = yaml.safe_load(path.read_text())
        user = raw.get("user", "") if isinstance(raw, dict) else ""
        return set(jinja2.meta.find_undeclared_variables(_env().parse(str(user))))
    except (OSError, yaml.YAMLError, jinja2.TemplateSyntaxError):
        return set()


def prompt_path(name: str, prompts_dir: Path | None = None) -> Path:
    """prompts/<name>.yaml."""
    return (prompts_dir or PROMPTS_DIR) / f"{name}.yaml"


def required_ctx(prompts_dir: Path | None = None) -> int:
    """The context size every prompt file in a folder fits in: token budget + one token per label + slack."""
    need = 512
    for path in sorted((prompts_dir or PROMPTS_DIR).glob("*.yaml")):
        raw = yaml.safe_load(path.read_text())
        if isinstance(raw, dict) and "token_budget" in raw and "max_candidates" in raw:
            need = max(need, int(raw["token_budget"]) + int(raw["max_candidates"]) + 16)
    return need
