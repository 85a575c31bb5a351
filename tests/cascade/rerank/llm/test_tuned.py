"""Arms on the tuned model (model: tuned): the adapter GGUF loads in llama.cpp and changes the scores,
a missing adapter is the rules fallback when serving and an error when measuring, `alone` orders by
the LLM, and the adapter identifies the tuned arms' answers."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import torch

from cascade.data.dataset import Dataset
from cascade.experiments import ArmSpec
from cascade.rerank.base import FallbackOnly
from cascade.rerank.kinds import BuildContext
from cascade.rerank.llm.factory import LLMStage, LLMUnavailable
from cascade.rerank.llm.fused import FusedLLMReranker, FusionSettings, use_score_store
from cascade.rerank.llm.prompts import PROMPTS_DIR
from cascade.rerank.llm.settings import HTTPBackendConfig, InProcessBackendConfig, LLMSettings
from cascade.rerank.rules import RulesReranker
from cascade.tune.export import write_adapter_gguf
from cascade.types import Context, FallbackReason, ItemText, RerankInput

pytestmark = pytest.mark.anyio

HIDDEN, KV, LAYERS = 576, 192, 30  # SmolLM2-135M: 9 heads and 3 KV heads of 64


@pytest.fixture(scope="module")
def adapter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random rank-4 adapter on every layer's q, k and v: large enough to move the label scores."""
    g = torch.Generator().manual_seed(0)
    state = {}
    for i in range(LAYERS):
        for mod, out in (("q_proj", HIDDEN), ("k_proj", KV), ("v_proj", KV)):
            pre = f"base_model.model.model.layers.{i}.self_attn.{mod}"
            state[f"{pre}.lora_A.weight"] = torch.randn(4, HIDDEN, generator=g) * 0.05
            state[f"{pre}.lora_B.weight"] = torch.randn(out, 4, generator=g) * 0.05
    path = tmp_path_factory.mktemp("adapter") / "adapter.gguf"
    return write_adapter_gguf(path, state, alpha=8.0, n_head=9, n_head_kv=3)


class DictStore:
    """A ScoreStore in a dict."""

    def __init__(self) -> None:
        self.d: dict[str, list[float]] = {}

    def get(self, key: str) -> list[float] | None:
        return self.d.get(key)

    def put(self, key: str, values: Sequence[float]) -> None:
        self.d[key] = list(values)


def _input(ml100k: Dataset, n: int = 20) -> RerankInput:
    cat = ml100k.catalog
    cands = tuple(
        ItemText(int(cat.item_ids[r]), cat.titles[r], int(cat.years[r]), cat.genres[r]) for r in range(n)
    )
    recent = tuple(
        ItemText(int(cat.item_ids[r]), cat.titles[r], int(cat.years[r]), cat.genres[r]) for r in range(40, 43)
    )
    return RerankInput(
        7, Context(playlist_title="rainy afternoon"), cands, tuple(float(n - j) for j in range(n)), recent, 10
    )


def _spec(**fields: object) -> ArmSpec:
    return ArmSpec.model_validate({"name": "t", "reranker": "llm_fused", "timeout_ms": 150, **fields})


async def test_tuned_backend_applies_the_adapter(adapter: Path, ml100k: Dataset) -> None:
    settings = LLMSettings(backend=InProcessBackendConfig(tuned_adapter=adapter))
    stage = LLMStage.from_settings(settings)
    try:
        base, tuned = stage.backend_for("base"), stage.backend_for("tuned")
        assert tuned is not base and tuned is stage.backend_for("tuned")  # built once
        assert tuned.name.startswith("inproc:llamacpp+lora:") and base.name == "inproc:llamacpp"
        assert stage.derive().backend_for("tuned") is tuned  # shared by sibling stages
        rules = RulesReranker.from_yaml(catalog=ml100k.catalog)
        tpl = stage.prompt("fused")
        inp = _input(ml100k)
        a, _ = await FusedLLMReranker(base, tpl, rules, FusionSettings(weight=1.0)).llm_scores(inp)
        store = DictStore()
        use_score_store(store)  # the alone arm below reads these very window scores
        try:
            b, _ = await FusedLLMReranker(tuned, tpl, rules, FusionSettings(weight=1.0)).llm_scores(inp)
            alone = FusedLLMReranker(tuned, tpl, rules, FusionSettings(weight=1.0, alone=True))
            out = await alone.rerank(inp)
        finally:
            use_score_store(None)
        assert np.abs(a - b).max() > 0.05
        assert out.item_ids == [inp.candidates[int(i)].item_id for i in np.argsort(-b, kind="stable")]
    finally:
        await stage.aclose()


def test_describe_names_the_adapter(adapter: Path, tmp_path: Path) -> None:
    s = LLMSettings(backend=InProcessBackendConfig(tuned_adapter=adapter))
    assert "adapter" not in s.describe() and s.describe("tuned")["adapter"] != "absent"
    assert s.tuned_available()
    gone = LLMSettings(backend=InProcessBackendConfig(tuned_adapter=tmp_path / "none.gguf"))
    assert gone.describe("tuned")["adapter"] == "absent" and not gone.tuned_available()
    http = LLMSettings(backend=HTTPBackendConfig(base_url="http://vllm:8000/v1", tuned_model="care"))
    assert http.describe("tuned")["tuned_model"] == "care" and http.tuned_available()


async def test_missing_adapter_is_the_fallback_when_serving_and_an_error_when_measuring(
    tmp_path: Path, ml100k: Dataset
) -> None:
    settings = LLMSettings(backend=InProcessBackendConfig(tuned_adapter=tmp_path / "none.gguf"))
    stage = LLMStage.from_settings(settings)
    rules = RulesReranker.from_yaml(catalog=ml100k.catalog)
    spec = _spec(model="tuned", alone=True)
    try:
        with pytest.raises(LLMUnavailable, match="run `care tune`"):
            stage.backend_for("tuned")
        serving = spec.kind.build(spec.options, BuildContext("serving", rules, PROMPTS_DIR, lambda: stage))
        assert isinstance(serving.reranker, FallbackOnly)
        out = await serving.reranker.rerank(_input(ml100k))
        assert out.fallback_reason == FallbackReason.LLM_UNAVAILABLE
        with pytest.raises(LLMUnavailable):
            spec.kind.build(spec.options, BuildContext("quality", rules, PROMPTS_DIR, lambda: stage))
    finally:
        await stage.aclose()


def test_tuned_fields_are_validated() -> None:
    assert _spec(model="tuned").options.model_dump()["model"] == "tuned"  # type: ignore[attr-defined]
    with pytest.raises(ValueError):
        _spec(model="other")
