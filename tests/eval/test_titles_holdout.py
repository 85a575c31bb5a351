"""eval/titles_holdout.yaml is frozen: written before tuning, read only by the final comparison."""

from pathlib import Path

import pytest

from eval.cli import eval_cli
from eval.titlefit import TITLES_FILE, load_titles

ROOT = Path(__file__).resolve().parents[2]
HOLDOUT = ROOT / "eval" / "titles_holdout.yaml"


def test_the_holdout_is_a_valid_title_set_of_at_least_60_new_titles() -> None:
    titles = load_titles(HOLDOUT)
    assert len(titles) >= 60
    assert sum(t.free_form for t in titles) * 2 >= len(titles)
    names = {" ".join(t.title.lower().split()) for t in titles}
    assert len(names) == len(titles)
    tuned_on = {" ".join(t.title.lower().split()) for t in load_titles(TITLES_FILE)}
    assert not names & tuned_on
    assert HOLDOUT.read_text(encoding="utf-8").startswith("# FROZEN")


def test_no_code_reads_the_holdout() -> None:
    """Only `care eval --protocol titles --titles eval/titles_holdout.yaml` does: no source, prompt or
    config file names it, so no default and no tuning path can reach it."""
    named = [
        p.relative_to(ROOT).as_posix()
        for top in ("cascade", "eval", "service", "prompts", "deploy")
        for p in (ROOT / top).rglob("*")
        if p.is_file() and p.suffix in (".py", ".yaml", ".yml", ".toml", ".json") and p != HOLDOUT
        and "titles_holdout" in p.read_text(encoding="utf-8", errors="replace")
    ]  # fmt: skip
    assert named == []


def test_titles_needs_the_title_protocol() -> None:
    with pytest.raises(ValueError, match="--titles needs --protocol titles"):
        eval_cli(titles=HOLDOUT, protocol="derived")
