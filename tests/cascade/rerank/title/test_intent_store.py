import asyncio
import json
from pathlib import Path

import pytest

from cascade.llm import LLMSettings
from cascade.rerank.title.intent_store import IntentStore, LLMIntents, intent_of, title_key
from cascade.rerank.title.llm_intent import LLMIntentReader, model_tag, reader_for
from cascade.rerank.title.term import read_intent, text_intents


def test_title_key_folds_case_and_spaces() -> None:
    assert title_key("  Late-Night   SLOW burners ") == "late-night slow burners"


def test_the_store_is_shared_through_its_file(tmp_path: Path) -> None:
    path = tmp_path / "intents.jsonl"
    IntentStore(path).put("m1", "Rainy Sunday", {"Drama": 1.5, "Comedy": -0.5})
    other = IntentStore(path)  # another process
    assert other.get("m1", "rainy  sunday") == {"Drama": 1.5, "Comedy": -0.5}
    assert other.get("m2", "rainy sunday") is None  # another model's answers are not this one's
    with path.open("a", encoding="utf-8") as f:
        f.write('{"tag": "m1", "title": "torn')  # a half-written line is skipped
    assert IntentStore(path).get("m1", "rainy sunday") is not None
    assert json.loads(path.read_text().splitlines()[0])["title"] == "rainy sunday"


def test_intent_of_is_a_softmax_of_the_scores() -> None:
    intent = intent_of({"Horror": 2.0, "Comedy": 0.0}, "80s frights")
    assert intent.genres["Horror"] > intent.genres["Comedy"] > 0
    assert sum(intent.genres.values()) == pytest.approx(1.0)
    assert intent.decades == (1980, 1989) and intent.source == "llm"


def test_a_cold_title_reads_lexicon_and_minilm_and_is_not_computed_without_a_reader(tmp_path: Path) -> None:
    intents = LLMIntents(IntentStore(tmp_path / "i.jsonl"), "m1")
    cold = read_intent("llm", "a night of ghouls and ghosts", intents)
    assert cold.source == "llm-cold" and "Horror" in cold.predicted()
    assert not intents.request("a night of ghouls and ghosts")  # no reader: nothing queued
    lex, mini = text_intents("a night of ghouls and ghosts")
    assert read_intent("combined", "a night of ghouls and ghosts", intents).genres == cold.genres
    intents.store.put("m1", "a night of ghouls and ghosts", {"Horror": 3.0, "Comedy": 0.0})
    assert read_intent("llm", "a night of ghouls and ghosts", intents).source == "llm"
    warm = read_intent("combined", "a night of ghouls and ghosts", intents)
    assert warm.source == "combined" and warm.genres != cold.genres
    no_llm = read_intent("combined", "a night of ghouls and ghosts", intents, llm_weight=0.0)
    assert no_llm.source == "combined-text" and lex.genres and mini.genres


def test_model_tag_names_the_model() -> None:
    from cascade.llm import HTTPBackendConfig

    http = LLMSettings(backend=HTTPBackendConfig(base_url="http://x/v1", model="m"))
    assert model_tag(LLMSettings()) == model_tag(LLMSettings())
    assert model_tag(LLMSettings()) != model_tag(http)


def test_the_embedded_model_fills_a_cold_title_in_the_background(tmp_path: Path) -> None:
    """A request never waits: the lookup is cold at once; the reader runs on the loop afterwards."""
    reader = reader_for(LLMSettings())
    intents = LLMIntents(IntentStore(tmp_path / "i.jsonl"), reader.tag)

    async def factory() -> LLMIntentReader:
        return reader

    intents.set_factory(factory)

    async def serve() -> tuple[bool, bool]:
        first = intents.lookup("swashbuckling pirates") is None
        queued = intents.request("swashbuckling pirates")
        assert not intents.request("swashbuckling pirates")  # queued once
        while intents.lookup("swashbuckling pirates") is None:
            await asyncio.sleep(0.05)
        await reader.aclose()
        return first, queued

    assert asyncio.run(serve()) == (True, True)
    intent = intents.lookup("swashbuckling pirates")
    assert intent is not None and len(intent.genres) == 18
    assert sum(intent.genres.values()) == pytest.approx(1.0)
