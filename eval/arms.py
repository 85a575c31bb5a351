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
from cascade.rerank.base import Reranker
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
    """Every distinct arm of every experiment in the file (validated by cascade.experiments), in file
    order, with none and rules first."""
    from cascade.experiments import load_experiments

    doc = load_experiments(path, PROMPTS_DIR)
    specs: list[ArmSpec] = [ArmSpec("none", "none")]
    seen: set[tuple[str, str | None]] = {("none", None)}
    rules_timeout: float | None = None
    for exp in doc.experiments.values():
        for a in exp.arms:
            timeout = float(a.timeout_ms) if a.timeout_ms else None
            if a.reranker == "rules":
                rules_timeout = rules_timeout if rules_timeout is not None else timeout
                continue
            if (a.reranker, a.prompt) in seen:
                continue
            seen.add((a.reranker, a.prompt))
            specs.append(ArmSpec(a.name, a.reranker, a.prompt, timeout))
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
    """Builds pipeline Arms through the serving factory (cascade.rerank.llm.factory); the LLM stage
    (model, tokenizer) is loaded once, lazily, and shared by the LLM arms. Each LLM arm gets its own
    result cache, so no arm is ever answered from another's cached result."""

    catalog: Any  # cascade.data.dataset.Catalog
    llm: LLMOptions = field(default_factory=LLMOptions)
    mode: DeadlineMode = "quality"
    _stages: list[Any] = field(default_factory=list)

    def rules(self) -> RulesReranker:
        return RulesReranker.from_yaml(RULES_CONFIG, catalog=self.catalog)

    def build(self, spec: ArmSpec) -> Arm:
        from cascade.experiments import Arm as ConfigArm
        from cascade.rerank.llm.factory import build_arm_reranker

        serving_ms = spec.timeout_ms or 150.0
        budget_ms = serving_ms if self.mode == "serving" else QUALITY_BUDGET_S * 1000.0
        cfg_arm = ConfigArm(name=spec.name, weight=1, reranker=spec.reranker, prompt=spec.prompt,
                            timeout_ms=int(budget_ms) if spec.reranker == "llm" else 0)  # fmt: skip
        stage = self._stage() if spec.reranker == "llm" else None
        reranker: Reranker = build_arm_reranker(cfg_arm, self.rules(), stage)
        timeout = spec.timeout_ms if self.mode == "serving" else None
        return Arm(spec.name, reranker, timeout, spec.prompt)

    def _settings(self) -> Any:
        from cascade.rerank.llm.factory import LLMSettings
        from cascade.rerank.llm.http_backend import HTTPBackendConfig

        quality = self.mode == "quality"
        common: dict[str, Any] = {
            "model_path": self.llm.model_path,
            "n_threads": self.llm.n_threads,
            # quality mode measures the model: no circuit breaking, no retries hiding failures
            "failure_threshold": 10**9 if quality else 5,
            "max_attempts": 1 if quality else 2,
        }
        if self.llm.base_url:
            http = HTTPBackendConfig(
                base_url=self.llm.base_url,
                model=self.llm.model,
                dialect=self.llm.dialect,
                read_timeout_s=QUALITY_BUDGET_S if quality else 30.0,
            )
            return LLMSettings(backend="http", http=http, **common)
        return LLMSettings(backend="inproc", **common)

    def _stage(self) -> Any:
        from cascade.rerank.llm.cache import MemoryCache
        from cascade.rerank.llm.factory import LLMStage

        if self.llm.model_path is None and not self.llm.base_url:
            from cascade.rerank.llm.models import pull_smollm2

            self.llm.model_path = pull_smollm2()
        if not self._stages:
            self._stages.append(LLMStage.from_settings(self._settings()))
        first = self._stages[0]
        return first.derive(cache=MemoryCache())  # same model; a result cache of its own per arm

    async def aclose(self) -> None:
        if self._stages:
            await self._stages[0].aclose()
            self._stages.clear()
