"""Context titles: the documented rule on tiny catalogs, and determinism on the real data."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cascade.data.dataset import Catalog, Dataset
from cascade.data.split import Split
from eval.context import context_title, context_titles, decade_label, dominant_decade, dominant_genres


def _catalog(rows: Sequence[tuple[int, tuple[str, ...]]]) -> Catalog:
    return Catalog(
        np.arange(1, len(rows) + 1, dtype=np.int64),
        [f"t{i}" for i in range(len(rows))],
        np.asarray([y for y, _ in rows], dtype=np.int64),
        [g for _, g in rows],
    )


def test_decade_label() -> None:
    assert decade_label(1994) == "90s"
    assert decade_label(1930) == "30s"
    assert decade_label(1909) == "00s"
    assert decade_label(2003) == "2000s"


def test_dominant_genres_rule() -> None:
    assert dominant_genres([("Thriller",), ("Thriller", "Crime"), ("Drama",)]) == ["Thriller"]
    # second genre at >= 75% of the first joins it
    assert dominant_genres([("Comedy", "Romance")] * 3 + [("Comedy",)]) == ["Comedy", "Romance"]
    # ties between genres: MovieLens column order (Comedy before Romance)
    assert dominant_genres([("Romance",), ("Comedy",)]) == ["Comedy", "Romance"]
    assert dominant_genres([("unknown",)]) == []


def test_dominant_decade_ties_prefer_later() -> None:
    assert dominant_decade([1981, 1995, 1984, 1999]) == 1990
    assert dominant_decade([0, 0]) is None


def test_context_title_examples() -> None:
    cat = _catalog([(1995, ("Thriller",)), (1996, ("Thriller", "Crime")), (1985, ("Drama",))])
    assert context_title([1, 2, 3], cat) == "90s thrillers"
    cat2 = _catalog([(1984, ("Comedy", "Romance"))] * 3 + [(1985, ("Comedy",))])
    assert context_title([1, 2, 3, 4], cat2) == "80s comedy & romance"  # 3 of 4 = 75%
    assert context_title([], cat2) is None
    # only the last 20 items count
    cat3 = _catalog([(1950, ("Western",))] * 30 + [(1990, ("Horror",))] * 20)
    assert context_title(list(range(1, 51)), cat3) == "90s horror"


def test_real_titles_deterministic(ml100k: Dataset, ml_split: Split) -> None:
    hist = {u: list(h) for u, h in ml_split.history_before("test").by_user().items()}
    first = context_titles(hist, ml100k.catalog)
    again = context_titles(dict(reversed(list(hist.items()))), ml100k.catalog)
    assert first == again
    assert len(first) == 943 and all(t for t in first.values())
