"""The labelled title set and the title metrics: TitleFit@k and steerability.

eval/titles.yaml holds free-form playlist titles, each labelled with the MovieLens genres it means
(and a decade range where it names one). TitleFit@k of a list for a title is the share of its top k
sharing at least one labelled genre with the title. Each user is paired with two titles of disjoint
genres (A and B); steerability is how much each list fits its own title more than the other's:
steer@k = ((fit(A-list, A) - fit(B-list, A)) + (fit(B-list, B) - fit(A-list, B))) / 2.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cascade.data.dataset import GENRES
from cascade.rerank.title.intent import TitleIntent

TITLES_FILE = Path(__file__).with_name("titles.yaml")
# words that name a genre outright: a free-form title uses none of them
GENRE_WORDS = re.compile(
    r"\b(action|adventures?|animat\w*|children'?s?|comed\w*|crime|documentar\w*|drama\w*|fantas\w*|"
    r"noir|horror|musicals?|myster\w*|romance|romantic|sci-?fi|science fiction|thrillers?|war|westerns?)\b"
)


class LabelledTitle(BaseModel):
    """One title with the genres it means and, optionally, an inclusive decade range."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    title: str = Field(min_length=1, max_length=80)
    genres: tuple[str, ...] = Field(min_length=1)
    decades: tuple[int, int] | None = None
    free_form: bool

    @field_validator("genres")
    @classmethod
    def _known(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if bad := [g for g in v if g not in GENRES or g == "unknown"]:
            raise ValueError(f"unknown genres {bad}")
        return v

    @model_validator(mode="after")
    def _free_form_has_no_genre_word(self) -> LabelledTitle:
        word = GENRE_WORDS.search(self.title.lower())
        if self.free_form and word:
            raise ValueError(f"free-form title {self.title!r} names the genre word {word.group(0)!r}")
        if self.decades is not None and self.decades[0] > self.decades[1]:
            raise ValueError(f"decades {self.decades} run backwards")
        return self


class TitleSet(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    titles: tuple[LabelledTitle, ...] = Field(min_length=2)


def load_titles(path: Path = TITLES_FILE) -> tuple[LabelledTitle, ...]:
    """Read and validate a title set; errors name the file (and the title's index)."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return TitleSet.model_validate(raw).titles
    except OSError as exc:
        raise ValueError(f"{path}: cannot read: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: invalid YAML: {exc}") from exc
    except pydantic.ValidationError as exc:
        errs = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ValueError(f"{path}: {errs}") from exc


def title_fit(
    items: Sequence[int], genres: Mapping[int, Sequence[str]], title: LabelledTitle, k: int
) -> float:
    """Share of the top k sharing a labelled genre with the title (nan for an empty list)."""
    top = list(items[:k])
    if not top:
        return float("nan")
    want = set(title.genres)
    return sum(1 for i in top if want & set(genres.get(i, ()))) / len(top)


def decade_fit(items: Sequence[int], years: Mapping[int, int], title: LabelledTitle, k: int) -> float:
    """Share of the top k released in the title's decades (nan when it names none, or an empty list)."""
    top = list(items[:k])
    if title.decades is None or not top:
        return float("nan")
    lo, hi = title.decades
    return sum(1 for i in top if lo <= years.get(i, 0) <= hi) / len(top)


def steerability(fit_aa: float, fit_ba: float, fit_bb: float, fit_ab: float) -> float:
    """How much each list fits its own title more than the other list does (fit_xy: x's list, y's title)."""
    return ((fit_aa - fit_ba) + (fit_bb - fit_ab)) / 2.0


def pair_titles(
    users: Sequence[int], titles: Sequence[LabelledTitle], seed: int
) -> dict[int, tuple[LabelledTitle, LabelledTitle]]:
    """Per user, two titles of disjoint genres (seeded; A cycles through the set so every title is used)."""
    rng = np.random.default_rng(seed)
    order = [int(i) for i in rng.permutation(len(titles))]
    out: dict[int, tuple[LabelledTitle, LabelledTitle]] = {}
    for n, u in enumerate(users):
        a = titles[order[n % len(order)]]
        options = [t for t in titles if not set(t.genres) & set(a.genres)]
        if not options:
            raise ValueError(f"title {a.title!r} has no title of disjoint genres to pair with")
        out[u] = (a, options[int(rng.integers(len(options)))])
    return out


def intent_quality(titles: Sequence[LabelledTitle], read: Callable[[str], TitleIntent]) -> dict[str, float]:
    """A reader's intents against the labelled genres, micro-averaged over the titles: precision and
    recall of its predicted genres (TitleIntent.predicted), its mean probability on the labelled
    genres (mass), and the share of titles it read anything in (read)."""
    hit = predicted = labelled = read_any = 0
    mass: list[float] = []
    for t in titles:
        intent = read(t.title)
        said, want = intent.predicted(), set(t.genres)
        hit += len(said & want)
        predicted += len(said)
        labelled += len(want)
        read_any += bool(said)
        mass.append(sum(float(intent.genres.get(g, 0.0)) for g in want))
    return {
        "precision": hit / predicted if predicted else float("nan"),
        "recall": hit / labelled if labelled else float("nan"),
        "mass": float(np.mean(mass)) if mass else float("nan"),
        "read": read_any / len(titles) if titles else float("nan"),
    }
