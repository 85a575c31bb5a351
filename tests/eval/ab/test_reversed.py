"""The deliberately bad arm: what it serves, and that only the simulation's own server can load it."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from cascade.experiments import load_experiments
from cascade.llm import PROMPTS_DIR
from cascade.rerank.registry import KINDS
from cascade.types import Context, ItemText, RerankInput
from eval.ab.reversed import KIND_NAME, SERVER_MODULE, ReversedTopK, registered
from eval.ab.simulate import server_process

EXPERIMENTS = f"""\
experiments:
  e:
    salt: s
    arms:
      - {{name: none, weight: 1, reranker: none}}
      - {{name: bad, weight: 1, reranker: {KIND_NAME}}}
"""


def test_it_serves_the_top_k_in_reverse() -> None:
    cands = tuple(ItemText(i, f"t{i}", 1990, ("Drama",)) for i in range(1, 16))
    inp = RerankInput(1, Context(), cands, tuple(float(-i) for i in range(15)), (), 10)
    out = asyncio.run(ReversedTopK().rerank(inp))
    assert out.item_ids == [10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 11, 12, 13, 14, 15] and out.reranker == KIND_NAME
    deep = asyncio.run(ReversedTopK(depth=12).rerank(inp))
    assert deep.item_ids == [12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 13, 14, 15]


def test_no_experiments_file_can_select_it_outside_the_block(tmp_path: Path) -> None:
    path = tmp_path / "experiments.yaml"
    path.write_text(EXPERIMENTS)
    assert KIND_NAME not in KINDS
    with pytest.raises(ValueError, match=f"unknown reranker '{KIND_NAME}'"):
        load_experiments(path, PROMPTS_DIR)
    with registered():
        assert load_experiments(path, PROMPTS_DIR).get().arm("bad").reranker == KIND_NAME
    assert KIND_NAME not in KINDS
    # what `care serve` imports never registers it
    code = (
        "import service.cli, service.main, service.app, eval.ab.trust\n"
        "from cascade.rerank.registry import KINDS\n"
        f"assert {KIND_NAME!r} not in KINDS, sorted(KINDS)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)


def test_the_simulations_server_serves_it(tmp_path: Path, trained_artifacts: Path) -> None:
    path = tmp_path / "experiments.yaml"
    path.write_text(EXPERIMENTS)
    # the discount off: both arms rank the same state (the first answer would discount the second's)
    env = {"CARE_ARTIFACTS": str(trained_artifacts), "CARE_EXPERIMENTS_FILE": str(path),
           "CARE_PROMPTS_DIR": str(PROMPTS_DIR), "CARE_REDIS_URL": "", "CARE_IMPRESSIONS": "off",
           "CARE_DISCOUNT__ENABLED": "false"}  # fmt: skip
    with server_process(env, SERVER_MODULE) as server:
        for user in (1, 2, 3):
            got = {}
            for arm in ("none", "bad"):
                r = httpx.post(
                    f"{server.url}/recommend", json={"user_id": user, "k": 10, "arm": arm}, timeout=60
                )
                assert r.status_code == 200, r.text
                got[arm] = [int(it["item_id"]) for it in r.json()["items"]]
            assert len(got["none"]) == 10 and got["bad"] == got["none"][::-1]
