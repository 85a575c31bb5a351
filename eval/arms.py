"""The one adapter from experiment arms (prompts/experiments.yaml, or names given by flag) to pipeline Arms.

Eval arms are deduplicated by what they run: two config arms with the same re-ranker and prompt
(e.g. rerank-v1's llm-single-pass and context-ablation's with-context) are evaluated once, under the
first name. LLM arms are built as in serving: LLMReranker(prompt) inside GuardedReranker with the
rules re-ranker as the fallback. Deadline modes:

- quality (default): no deadline (Arm.timeout_ms None and a guard budget of `QUALITY_BUDGET_S`), so
  every request gets the model's own answer unless the model fails.
- serving: the arm's timeout_ms from the experiments file, as the service applies it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from cascade.pipeline import Arm
from cascade.rerank.base import IdentityReranker, Reranker
from cascade.rerank.rules import DEFAULT_CONFIG as RULES_CONFIG
from cascade.rerank.rules import RulesReranker

REPO = Path(__file__).resolve().parents[1]
EXPERIMENTS_FILE = REPO / "prompts" / "experiments.yaml"
PROMPTS_DIR = REPO / "prompts"
QUALITY_BUDGET_S = 600.0
DeadlineMode = Literal["quality", "serving"]


@dataclass(frozen=True)
class ArmSpec:
    """What an eval arm runs; `fingerprint()` keys the result cache."""

    name: str
    reranker: Literal["none", "rules", "llm"]
    prompt: str | None = None
    timeout_ms: float | None = None  # the serving deadline from the config

    @property
    def reads_context(self) -> bool:
        """Whether the playlist title can change this arm's answer (an LLM prompt that uses it)."""
        if self.reranker != "llm" or not self.prompt:
            return False
        path = PROMPTS_DIR / f"{self.prompt}.yaml"
        user = (yaml.safe_load(path.read_text()) or {}).get("user", "") if path.is_file() else ""
        return "playlist" in str(user)

    def files(self) -> list[Path]:
        out = [RULES_CONFIG] if self.reranker in ("rules", "llm") else []
        if self.prompt:
            out.append(PROMPTS_DIR / f"{self.prompt}.yaml")
        return out

    def fingerprint(self, extra: dict[str, Any]) -> str:
        """Hash of the spec, the contents of the files it reads, and `extra` (backend, mode, data)."""
        h = hashlib.sha256()
        h.update(json.dumps({"spec": self.__dict__, "extra": extra}, sort_keys=True, default=str).encode())
        for f in self.files():
            h.update(f.read_bytes() if f.is_file() else b"<missing>")
        return h.hexdigest()[:16]


@dataclass
class LLMOptions:
    """Which model serves the LLM arms: embedded GGUF (default) or an OpenAI-compatible endpoint."""

    base_url: str | None = None
    model: str = "default"
    dialect: Literal["vllm", "llamacpp"] = "llamacpp"
    model_path: Path | None = None
    n_threads: int = 2

    def describe(self) -> dict[str, Any]:
        if self.base_url:
            return {"backend": "http", "base_url": self.base_url, "model": self.model,
                    "dialect": self.dialect}  # fmt: skip
        from cascade.rerank.llm.models import SMOLLM2_FILE

        return {"backend": "embedded", "model": self.model_path.name if self.model_path else SMOLLM2_FILE}


def config_arms(path: Path = EXPERIMENTS_FILE) -> list[ArmSpec]:
    """Every distinct arm of every experiment in the file, in file order, plus none and rules."""
    raw = yaml.safe_load(path.read_text()) if path.is_file() else {}
    specs: list[ArmSpec] = [ArmSpec("none", "none")]
    seen = {("none", None)}
    rules_timeout: float | None = None
    for exp in (raw or {}).get("experiments", {}).values():
        for a in exp.get("arms", []):
            kind, prompt = a.get("reranker", "rules"), a.get("prompt")
            timeout = float(a["timeout_ms"]) if a.get("timeout_ms") else None
            if kind == "rules" and rules_timeout is None:
                rules_timeout = timeout
            if (kind, prompt) in seen or kind == "rules":
                continue
            seen.add((kind, prompt))
            specs.append(ArmSpec(str(a["name"]), kind, prompt, timeout))
    specs.insert(1, ArmSpec("rules", "rules", None, rules_timeout))
    return specs


def select_arms(names: list[str] | None, path: Path = EXPERIMENTS_FILE) -> list[ArmSpec]:
    """Arms by name: config arm names, or 'llm:<prompt>' for any prompt file; all when None.

    The rules arm is always included (it is the reference of every comparison)."""
    known = config_arms(path)
    if not names:
        return known
    by_name = {a.name: a for a in known}
    out: list[ArmSpec] = []
    for n in names:
        if n in by_name:
            out.append(by_name[n])
        elif n.startswith("llm:"):
            prompt = n.split(":", 1)[1]
            if not (PROMPTS_DIR / f"{prompt}.yaml").is_file():
                raise ValueError(f"no prompt file prompts/{prompt}.yaml")
            timeout = next((a.timeout_ms for a in known if a.prompt == prompt), None)
            out.append(ArmSpec(n, "llm", prompt, timeout))
        else:
            raise ValueError(f"unknown arm {n!r}; known: {sorted(by_name)} or llm:<prompt>")
    if not any(a.reranker == "rules" for a in out):
        out.insert(0, by_name["rules"])
    return list({a.name: a for a in out}.values())


@dataclass
class ArmFactory:
    """Builds pipeline Arms; loads the LLM backend once and shares it between LLM arms."""

    catalog: Any  # cascade.data.dataset.Catalog
    llm: LLMOptions = field(default_factory=LLMOptions)
    mode: DeadlineMode = "quality"
    _backend: Any = None
    _tokenizer: Any = None

    def rules(self) -> RulesReranker:
        return RulesReranker.from_yaml(RULES_CONFIG, catalog=self.catalog)

    def build(self, spec: ArmSpec) -> Arm:
        timeout = spec.timeout_ms if self.mode == "serving" else None
        reranker: Reranker
        if spec.reranker == "none":
            reranker = IdentityReranker()
        elif spec.reranker == "rules":
            reranker = self.rules()
        else:
            reranker = self._llm_reranker(spec)
        return Arm(spec.name, reranker, timeout, spec.prompt)

    def _ensure_backend(self) -> None:
        if self._backend is not None:
            return
        if self.llm.base_url:
            from cascade.rerank.llm.http_backend import HTTPBackendConfig, OpenAIHTTPBackend
            from cascade.rerank.llm.models import smollm2_path
            from cascade.rerank.llm.tokenizer import LlamaTokenizer

            self._backend = OpenAIHTTPBackend(
                HTTPBackendConfig(base_url=self.llm.base_url, model=self.llm.model, dialect=self.llm.dialect)
            )
            # prompt validation counts tokens with the embedded model's tokenizer (vocab only)
            self._tokenizer = LlamaTokenizer.from_gguf(self.llm.model_path or smollm2_path())
        else:
            from cascade.rerank.llm.inproc_backend import LlamaCppBackend
            from cascade.rerank.llm.models import pull_smollm2

            path = self.llm.model_path or pull_smollm2()
            self._backend = LlamaCppBackend(path, n_threads=self.llm.n_threads)
            self._tokenizer = self._backend.tokenizer

    def _llm_reranker(self, spec: ArmSpec) -> Reranker:
        from cascade.rerank.llm.cache import MemoryCache
        from cascade.rerank.llm.guard import GuardedReranker, GuardSettings
        from cascade.rerank.llm.prompts import load_prompt
        from cascade.rerank.llm.reranker import LLMReranker

        self._ensure_backend()
        prompt = load_prompt(PROMPTS_DIR / f"{spec.prompt}.yaml", self._tokenizer)
        primary = LLMReranker(self._backend, prompt, name=spec.name)
        budget = QUALITY_BUDGET_S if self.mode == "quality" else (spec.timeout_ms or 150.0) / 1000.0
        settings = GuardSettings(timeout_s=budget, failure_threshold=10**9 if self.mode == "quality" else 5)
        return GuardedReranker(primary, self.rules(), MemoryCache(), settings)

    async def aclose(self) -> None:
        if self._backend is not None:
            await self._backend.aclose()
            self._backend = None
