"""The LLM's title readings, cached per (model, title) on disk, and filled without a request waiting.

`IntentStore` is a JSONL file ($CARE_HOME/title_intents.jsonl) of calibrated per-genre scores; every
process reads it and appends to it. `LLMIntents` is a process's view: `lookup` answers from the file
(None while the title is cold), `request` computes a cold title in the background on the running
event loop (serving), `warm` computes a list of titles before they are needed (eval).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import Protocol

import numpy as np

from cascade import paths
from cascade.rerank.title.intent import GENRE_NAMES, TitleIntent, softmax, title_decades

log = logging.getLogger(__name__)
LLM_TEMPERATURE = 1.0  # softmax temperature over the calibrated log-odds
MAX_PENDING = 64  # cold titles queued for the background reader at most
RELOAD_S = 1.0  # how often a lookup may re-read the file for other processes' entries


def store_path() -> Path:
    """$CARE_HOME/title_intents.jsonl."""
    return paths.care_home() / "title_intents.jsonl"


def title_key(title: str) -> str:
    """A title as the cache keys it: lower case, spaces collapsed."""
    return " ".join(title.lower().split())


def intent_of(scores: Mapping[str, float], title: str, temperature: float = LLM_TEMPERATURE) -> TitleIntent:
    """softmax(calibrated log-odds / temperature) over the scored genres; the decade the title names."""
    names = [g for g in GENRE_NAMES if g in scores]
    if not names:
        return TitleIntent({}, title_decades(title), "llm")
    p = softmax(np.asarray([scores[g] for g in names], dtype=np.float64), temperature)
    return TitleIntent(dict(zip(names, p.tolist(), strict=True)), title_decades(title), "llm")


class IntentStore:
    """(model tag, title) -> per-genre scores, in a JSONL file shared by processes (last line wins)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or store_path()
        self._rows: dict[tuple[str, str], dict[str, float]] = {}
        self._seen: tuple[int, int] = (-1, -1)
        self._checked = 0.0
        self._lock = threading.Lock()

    def _reload(self) -> None:
        now = time.monotonic()
        if now - self._checked < RELOAD_S:
            return
        self._checked = now
        try:
            st = self.path.stat()
        except OSError:
            return
        if (st.st_mtime_ns, st.st_size) == self._seen:
            return
        self._seen = (st.st_mtime_ns, st.st_size)
        with self.path.open(encoding="utf-8") as f:
            for line in f:
                try:
                    doc = json.loads(line)
                    self._rows[(str(doc["tag"]), str(doc["title"]))] = {
                        str(g): float(v) for g, v in dict(doc["scores"]).items()
                    }
                except (ValueError, KeyError, TypeError):
                    continue  # a torn or foreign line: skip it

    def get(self, tag: str, title: str) -> dict[str, float] | None:
        """The cached scores, or None."""
        with self._lock:
            key = (tag, title_key(title))
            if key not in self._rows:
                self._reload()
            return self._rows.get(key)

    def put(self, tag: str, title: str, scores: Mapping[str, float]) -> None:
        """Keep the scores here and append them to the file."""
        key = title_key(title)
        row = {"tag": tag, "title": key, "scores": dict(scores)}
        with self._lock:
            self._rows[(tag, key)] = dict(scores)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(row, sort_keys=True) + "\n")


class ScoreReader(Protocol):
    """What computes a title's scores (cascade.rerank.title.llm_intent.LLMIntentReader)."""

    tag: str

    async def scores(self, title: str) -> dict[str, float]: ...


ReaderFactory = Callable[[], Awaitable[ScoreReader]]


class LLMIntents:
    """A process's LLM title intents: the store, the model tag it reads, a background reader."""

    def __init__(self, store: IntentStore, tag: str, temperature: float = LLM_TEMPERATURE) -> None:
        self.store, self.tag, self.temperature = store, tag, temperature
        self._factory: ReaderFactory | None = None
        self._pending: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._reader: ScoreReader | None = None

    def lookup(self, title: str) -> TitleIntent | None:
        """The LLM's intent from the cache; None while the title is cold."""
        scores = self.store.get(self.tag, title)
        return None if scores is None else intent_of(scores, title, self.temperature)

    @property
    def has_factory(self) -> bool:
        """Whether cold titles are computed in the background."""
        return self._factory is not None

    def set_factory(self, factory: ReaderFactory | None) -> None:
        """How the background reader is built (serving: the arm's LLM stage); None: never compute."""
        self._factory = factory

    def request(self, title: str) -> bool:
        """Queue a cold title for the background reader on the running loop; False when not queued."""
        key = title_key(title)
        if self._factory is None or key in self._pending or len(self._pending) >= MAX_PENDING:
            return False
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False
        self._pending.add(key)
        task = loop.create_task(self._fill(title))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _fill(self, title: str) -> None:
        try:
            if self._reader is None:
                assert self._factory is not None
                self._reader = await self._factory()
                self.tag = self._reader.tag
            if self.store.get(self.tag, title) is None:
                self.store.put(self.tag, title, await self._reader.scores(title))
        except Exception as exc:  # the LLM is optional: a failure leaves the title cold
            log.warning("title intent for %r not computed: %s: %s", title, type(exc).__name__, exc)
            self._factory = None
        finally:
            self._pending.discard(title_key(title))

    async def warm(self, titles: Iterable[str], reader: ScoreReader) -> int:
        """Compute every cold title now with `reader` (offline); returns how many were computed."""
        self.tag = reader.tag
        done = 0
        for t in dict.fromkeys(titles):
            if self.store.get(self.tag, t) is None:
                self.store.put(self.tag, t, await reader.scores(t))
                done += 1
        return done
