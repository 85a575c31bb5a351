"""The title protocol end to end on the real trained cascade: 4 users, two labelled titles each."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from eval.harness import EvalConfig
from eval.title_protocol import evaluate_titles

if TYPE_CHECKING:
    from cascade.runtime import Runtime

pytestmark = pytest.mark.slow

TITLES = """titles:
  - {title: "scary ghost stories", genres: [Horror], free_form: true}
  - {title: "songs and dances of the 50s", genres: [Musical], decades: [1950, 1959], free_form: true}
  - {title: "cowboys at sundown", genres: [Western], free_form: true}
"""


def test_kept_fit_and_intent_quality_per_arm(eval_runtime: Runtime, tmp_path: Path) -> None:
    titles = tmp_path / "titles.yaml"
    titles.write_text(TITLES, encoding="utf-8")
    cfg = EvalConfig(users=4, seed=3, arms=["none", "rules", "rules-lexicon", "rules-intent"], n_boot=100,
                     baselines=False, out=tmp_path / "report", cache_dir=tmp_path / "cache",
                     progress=False)  # fmt: skip
    out = evaluate_titles(cfg, titles, runtime=eval_runtime)
    rep = json.loads((out / "report.json").read_text())
    s = rep["systems"]["all"]
    assert set(s) == {"none", "rules", "rules-lexicon", "rules-intent"}
    assert s["none"]["kept_titled@10"] == 1.0  # the ranker's own order under the title
    assert 0.5 <= s["rules-intent"]["kept_titled@10"] < 1.0  # own_share 0.5 holds half of it
    assert all(0.0 <= m["kept@10"] <= 1.0 and 0.0 <= m["titlefit@10"] <= 1.0 for m in s.values())
    assert s["rules-intent"]["titlefit@10"] > s["rules"]["titlefit@10"]
    quality = rep["intent_quality"]
    assert {"uniform (chance)", "lexicon", "minilm", "lexicon+minilm"} <= set(quality)
    assert "llm" not in quality  # no arm read the LLM: its intents were not computed
    assert quality["minilm"]["precision"] > quality["uniform (chance)"]["precision"]
    assert rep["titles"]["file"] == str(titles)
    assert "kept@10" in (out / "report.md").read_text()
