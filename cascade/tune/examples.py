"""Training examples from the validation window, rendered with the fused arm's own prompt template.

Per user, as of the start of their validation window (point-in-time features, the offline pipeline):
the cascade ranks the catalog with the example's playlist title in the context, the ranker's top
`window` candidates are the window (the candidates the fused arm scores when serving), a positive
from deeper in the top 50 replaces the last one when the window has none, and the window is
shuffled. Positives are the window's items the user interacted with in the validation window.

Negatives "hard" (the default) is the above. "mixed" keeps only the ranker's top half of the window
(a deeper positive swapped in as above) and fills the other half with random catalog items the user
has not seen (history as of the window start) and that are not positives: easier negatives whose
fit to the history and title the model can learn, next to the hard ones it is served with.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt

from cascade.ranking.titles import intent_title
from cascade.rerank.llm.prompts import PromptTemplate
from cascade.runtime import window_start
from cascade.types import Context, ItemText

if TYPE_CHECKING:
    from cascade.runtime import Runtime

Negatives = Literal["hard", "mixed"]


@dataclass(frozen=True)
class Example:
    """One prompt with its labelled candidates; `positives` index `labels` and `item_ids`."""

    user_id: int
    system: str
    user: str
    labels: tuple[str, ...]
    item_ids: tuple[int, ...]
    positives: tuple[int, ...]
    title: str | None


def _top_with_positive(
    cands: Sequence[ItemText], relevant: Collection[int], size: int, rng: np.random.Generator
) -> list[ItemText] | None:
    """The top `size` candidates, a deeper positive replacing the last when none; None: no positive."""
    top = list(cands[:size])
    if not any(c.item_id in relevant for c in top):
        deeper = [c for c in cands[size:] if c.item_id in relevant]
        if not deeper:
            return None
        top[-1] = deeper[int(rng.integers(len(deeper)))]
    return top


def _shuffled(
    window: list[ItemText], relevant: Collection[int], rng: np.random.Generator
) -> tuple[list[ItemText], list[int]]:
    order = rng.permutation(len(window))
    shuffled = [window[i] for i in order]
    return shuffled, [j for j, c in enumerate(shuffled) if c.item_id in relevant]


def pick_window(
    cands: Sequence[ItemText], relevant: Collection[int], size: int, rng: np.random.Generator
) -> tuple[list[ItemText], list[int]] | None:
    """The top `size` candidates (a deeper positive swapped in if none), shuffled; None: no positive."""
    top = _top_with_positive(cands, relevant, size, rng)
    return None if top is None else _shuffled(top, relevant, rng)


def pick_mixed_window(
    cands: Sequence[ItemText],
    relevant: Collection[int],
    size: int,
    rng: np.random.Generator,
    *,
    pool: npt.NDArray[np.int64],
    seen: Collection[int],
    item_text: Callable[[int], ItemText],
) -> tuple[list[ItemText], list[int]] | None:
    """The top size // 2 candidates (a deeper positive swapped in if none) and random items of `pool`
    that are neither seen, positives nor already in the window, up to `size`, shuffled; None: no
    positive in reach."""
    top = _top_with_positive(cands, relevant, size // 2, rng)
    if top is None:
        return None
    taken = {c.item_id for c in top} | set(seen) | set(relevant)
    free = pool[~np.isin(pool, np.fromiter(taken, dtype=np.int64, count=len(taken)))]
    n_random = min(size - len(top), len(free))
    drawn = rng.choice(free, size=n_random, replace=False) if n_random else free[:0]
    return _shuffled(top + [item_text(int(i)) for i in drawn], relevant, rng)


def build_examples(
    runtime: Runtime,
    prompt: PromptTemplate,
    users: Iterable[int],
    *,
    seed: int,
    forbidden_titles: Collection[str] = (),
    title_share: float = 2 / 3,
    negatives: Negatives = "hard",
    on_user: Callable[[], None] = lambda: None,
) -> list[Example]:
    """One example per user with a positive in reach (users without one are skipped); `negatives`:
    the ranker's window ("hard") or its top half next to random unseen catalog items ("mixed")."""
    split, catalog = runtime.split, runtime.dataset.catalog
    val_items = {u: set(map(int, items)) for u, items in split.val.by_user().items()}
    starts = window_start(split.val)
    pipeline = runtime.offline_pipeline("val")
    size = prompt.spec.max_candidates
    pool = np.sort(catalog.item_ids.astype(np.int64))
    out: list[Example] = []
    for u in users:
        rng = np.random.default_rng([seed, u])
        rel = val_items.get(u, set())
        title = None
        if rel and rng.random() < title_share:
            title = intent_title(rel, catalog, rng, forbidden_titles, noisy=False)
        ctx = Context(playlist_title=title, timestamp=float(starts.get(u, runtime.as_of_end)))
        ranked = pipeline.rank(u, ctx)
        inp = pipeline.rerank_input(u, ranked, ctx, 10)
        if negatives == "hard":
            picked = pick_window(inp.candidates, rel, size, rng)
        else:
            picked = pick_mixed_window(
                inp.candidates, rel, size, rng, pool=pool, seen=ranked.user.view.excluded(),
                item_text=pipeline.item_text,
            )  # fmt: skip
        on_user()
        if picked is None:
            continue
        window, positives = picked
        chat = prompt.render(replace(inp, candidates=tuple(window), scores=()))
        out.append(
            Example(
                u,
                chat.system,
                chat.user,
                chat.labels,
                tuple(c.item_id for c in window),
                tuple(positives),
                title,
            )
        )
    return out


def save_examples(path: Path, examples: Sequence[Example]) -> None:
    """One JSON object per line."""
    path.write_text("".join(json.dumps(asdict(e)) + "\n" for e in examples), encoding="utf-8")


def load_examples(path: Path) -> list[Example]:
    """What save_examples wrote."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        out.append(
            Example(
                d["user_id"], d["system"], d["user"], tuple(d["labels"]), tuple(d["item_ids"]),
                tuple(d["positives"]), d["title"],
            )
        )  # fmt: skip
    return out
