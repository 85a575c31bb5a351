"""The arm resolver: a contract run against every registered re-ranker kind in both modes, and arm sets."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from cascade.arms import QUALITY_BUDGET_MS, ArmResolver, ExperimentsError, arm_resolver
from cascade.data.dataset import Catalog, Dataset
from cascade.experiments import ArmSpec
from cascade.llm import PROMPTS_DIR, HTTPBackendConfig, InProcessBackendConfig, LLMSettings
from cascade.ports import free_port
from cascade.rerank.base import Mode
from cascade.rerank.llm.factory import LLMUnavailable
from cascade.rerank.registry import KINDS
from cascade.types import Context, FallbackReason, ItemText, RerankInput

pytestmark = pytest.mark.anyio

# One valid arm per registered kind: a kind added to the registry without an example fails below.
# The guarded kinds' budget is far above the dead backend's error path (first call of a new resolver:
# up to 60 ms measured on a loaded 2-core machine), so a slow machine still reports "error", not "timeout".
EXAMPLES: dict[str, dict[str, Any]] = {
    "none": {},
    "rules": {},
    "llm": {"prompt": "single_pass", "timeout_ms": 2000},
    "rules_title": {"signal": "lexicon", "title_weight": 1.0},
    "llm_fused": {"llm_weight": 1.0, "timeout_ms": 2000},
}
MODES: tuple[Mode, ...] = ("serving", "quality")


@pytest.fixture(scope="module")
def catalog(ml100k: Dataset) -> Catalog:
    return ml100k.catalog


def _dead_llm() -> LLMSettings:
    """An HTTP backend on a closed loopback port: every call fails fast with a connection error."""
    return LLMSettings(
        backend=HTTPBackendConfig(base_url=f"http://127.0.0.1:{free_port()}/v1"), max_attempts=1
    )


def _input(catalog: Catalog, n: int = 12) -> RerankInput:
    ids = catalog.item_ids[:n].tolist()
    cands = tuple(
        ItemText(int(i), catalog.titles[r], int(catalog.years[r]), catalog.genres[r])
        for r, i in enumerate(ids)
    )
    return RerankInput(
        7, Context(playlist_title="90s comedies"), cands, tuple(float(n - j) for j in range(n)), (), 5
    )


def _spec(kind: str) -> ArmSpec:
    return ArmSpec.model_validate({"name": f"arm-{kind}", "weight": 1, "reranker": kind, **EXAMPLES[kind]})


def test_every_registered_kind_has_an_example() -> None:
    assert set(EXAMPLES) == set(KINDS)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", sorted(KINDS))
async def test_resolved_arm_contract(kind: str, mode: Mode, catalog: Catalog) -> None:
    resolver = arm_resolver(catalog, mode, _dead_llm())
    spec = _spec(kind)
    arm = resolver.resolve(spec)
    k = KINDS[kind]
    assert (arm.name, arm.kind, arm.uses_llm) == (spec.name, kind, k.uses_llm)
    if k.needs_deadline:
        assert arm.budget_ms == (
            float(EXAMPLES[kind]["timeout_ms"]) if mode == "serving" else QUALITY_BUDGET_MS
        )
    else:
        assert arm.budget_ms is None
    inp = _input(catalog)
    deadline = None if arm.budget_ms is None else time.monotonic() + min(arm.budget_ms, 2000.0) / 1000.0
    out = await arm.reranker.rerank(replace(inp, deadline=deadline))
    given = [c.item_id for c in inp.candidates]
    assert set(out.item_ids) <= set(given) and len(set(out.item_ids)) == len(out.item_ids) >= inp.k
    assert out.fallback_reason is None or isinstance(out.fallback_reason, FallbackReason)
    if k.uses_llm:  # the backend is down: the rules answer, saying why
        assert out.reranker == "rules" and out.fallback_reason == FallbackReason.ERROR
        with pytest.raises(ValueError, match="deadline"):
            await arm.reranker.rerank(inp)  # a guarded kind refuses an input without the request's deadline
    await resolver.aclose()


@pytest.mark.parametrize("mode", MODES)
def test_kinds_that_need_no_llm_never_build_it(mode: Mode, catalog: Catalog, tmp_path: Path) -> None:
    missing = LLMSettings(backend=InProcessBackendConfig(model_path=tmp_path / "absent.gguf"))
    resolver = arm_resolver(catalog, mode, missing)
    for kind, k in KINDS.items():
        if not k.uses_llm:
            assert resolver.resolve(_spec(kind)).kind == kind
    assert resolver.llm is not None and resolver.llm._base is None  # no model was loaded


async def test_llm_unavailable_serves_rules_in_serving_and_fails_in_quality(
    catalog: Catalog, tmp_path: Path
) -> None:
    missing = LLMSettings(backend=InProcessBackendConfig(model_path=tmp_path / "absent.gguf"))
    arm = arm_resolver(catalog, "serving", missing).resolve(_spec("llm"))
    out = await arm.reranker.rerank(replace(_input(catalog), deadline=time.monotonic() + 1))
    assert (out.reranker, out.fallback_reason) == ("rules", FallbackReason.LLM_UNAVAILABLE)
    with pytest.raises(LLMUnavailable, match=r"absent\.gguf"):
        arm_resolver(catalog, "quality", missing).resolve(_spec("llm"))
    no_llm = arm_resolver(catalog, "serving", None).resolve(_spec("llm"))
    out = await no_llm.reranker.rerank(replace(_input(catalog), deadline=time.monotonic() + 1))
    assert out.fallback_reason == FallbackReason.LLM_UNAVAILABLE


async def test_shed_answers_with_the_rules_and_says_overloaded(catalog: Catalog) -> None:
    resolver = arm_resolver(catalog, "serving", _dead_llm())
    arm = resolver.resolve(_spec("llm"))
    shed = resolver.shed(arm)
    assert (shed.name, shed.version, shed.uses_llm, shed.budget_ms) == (arm.name, arm.version, False, None)
    out = await shed.reranker.rerank(_input(catalog))
    assert (out.reranker, out.fallback_reason) == ("rules", FallbackReason.OVERLOADED)
    await resolver.aclose()


FILE = """\
experiments:
  main:
    salt: s
    arms:
      - {name: rules, weight: 1, reranker: rules}
      - {name: none, weight: 1, reranker: none}
      - {name: llm, weight: 0, reranker: llm, prompt: single_pass, timeout_ms: 90}
  other:
    salt: t
    arms:
      - {name: only-here, weight: 1, reranker: none}
"""


def _resolver(catalog: Catalog) -> ArmResolver:
    return arm_resolver(catalog, "serving", _dead_llm(), prompts_dir=PROMPTS_DIR)


def test_arm_set_assigns_forces_and_versions(catalog: Catalog, tmp_path: Path) -> None:
    path = tmp_path / "experiments.yaml"
    path.write_text(FILE)
    arms = _resolver(catalog).resolve_file(path, PROMPTS_DIR)
    assert arms.names() == ["llm", "none", "only-here", "rules"]
    assert {arms.assign(u).arm.name for u in range(200)} == {"rules", "none"}  # weight 0: forced only
    forced = arms.forced("only-here")
    assert forced is not None and (forced.experiment, forced.forced) == ("other", True)
    assert arms.forced("nope") is None
    llm = arms.forced("llm")
    assert llm is not None and llm.arm.budget_ms == 90.0 and str(llm.arm.version).startswith("single_pass@")
    path.write_text(FILE.replace("weight: 0", "weight: 2"))
    assert _resolver(catalog).resolve_file(path, PROMPTS_DIR).version != arms.version


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("prompt: single_pass", "prompt: absent"), "no file absent.yaml"),
        (("reranker: none}", "reranker: gpt}"), "unknown reranker 'gpt'"),
        (("timeout_ms: 90", "timeout_ms: 0"), "timeout_ms"),
    ],
)
def test_bad_files_raise_naming_the_file(
    catalog: Catalog, tmp_path: Path, edit: tuple[str, str], message: str
) -> None:
    path = tmp_path / "experiments.yaml"
    path.write_text(FILE.replace(*edit, 1))
    with pytest.raises(ExperimentsError) as err:
        _resolver(catalog).resolve_file(path, PROMPTS_DIR)
    assert str(path) in str(err.value) and message in str(err.value)


def test_a_bad_prompt_file_refuses_the_whole_set(catalog: Catalog, tmp_path: Path) -> None:
    folder = tmp_path / "prompts"
    folder.mkdir()
    for f in PROMPTS_DIR.glob("*.yaml"):
        (folder / f.name).write_text(f.read_text())
    (folder / "single_pass.yaml").write_text((PROMPTS_DIR / "single_pass.yaml").read_text() + "\nbogus: 1\n")
    path = folder / "experiments.yaml"
    path.write_text(FILE)
    with pytest.raises(ExperimentsError, match=r"arm 'llm'.*single_pass\.yaml"):
        arm_resolver(catalog, "serving", _dead_llm(), prompts_dir=folder).resolve_file(path, folder)
