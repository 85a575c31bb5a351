from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cascade.data import loaders
from cascade.data.dataset import GENRES, Dataset
from cascade.data.fetch import ml100k_dir
from cascade.data.loaders import DataFormatError, load
from cascade.data.synth import synth

USERS, ITEMS, N = 300, 200, 5000


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synth(USERS, ITEMS, N, seed=3, out=tmp_path_factory.mktemp("synth"))


@pytest.fixture(scope="module")
def small_ds(small: Path) -> Dataset:
    return load(small)


def _flat(text: str) -> str:
    """CLI output with rich's box borders and line wrapping undone."""
    return " ".join(text.replace("│", " ").split())


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_loads_with_exact_counts(small: Path, small_ds: Dataset) -> None:
    assert sorted(p.name for p in small.iterdir()) == ["synth.inter", "synth.item", "synth.user"]
    assert len(small_ds.interactions) == N
    assert len(small_ds.catalog) == ITEMS and len(small_ds.users.user_ids) == USERS
    assert np.array_equal(np.unique(small_ds.interactions.user), np.arange(1, USERS + 1))
    assert np.bincount(small_ds.interactions.user)[1:].min() >= 5
    assert set(small_ds.users.gender) <= {"M", "F"}
    assert all(7 <= a <= 73 for a in small_ds.users.age)
    assert set(np.unique(small_ds.interactions.rating)) <= {1.0, 2.0, 3.0, 4.0, 5.0}


def test_items_have_titles_years_and_known_genres(small_ds: Dataset) -> None:
    cat = small_ds.catalog
    assert all(t.strip() for t in cat.titles) and len(set(cat.titles)) > ITEMS // 2
    assert cat.years.min() >= 1920 and cat.years.max() <= 2025
    assert all(1 <= len(gs) <= 3 and "unknown" not in gs and set(gs) <= set(GENRES) for gs in cat.genres)


def test_same_seed_same_bytes_other_seed_other_bytes(small: Path, tmp_path: Path) -> None:
    again = synth(USERS, ITEMS, N, seed=3, out=tmp_path / "again")
    other = synth(USERS, ITEMS, N, seed=4, out=tmp_path / "other")
    assert _files(again) == _files(small)
    assert _files(other)["synth.inter"] != _files(small)["synth.inter"]


def test_popularity_is_skewed(small_ds: Dataset) -> None:
    counts = np.sort(np.bincount(small_ds.interactions.item, minlength=ITEMS + 1)[1:])[::-1]
    assert counts[: ITEMS // 10].sum() > 0.3 * N


def test_no_duplicate_pairs_and_time_increases_per_user(small_ds: Dataset) -> None:
    inter = small_ds.interactions
    assert len(np.unique(inter.user * (ITEMS + 1) + inter.item)) == N
    times = inter.by_user_with_time()[1]
    assert all(np.all(np.diff(t) > 0) for t in times.values())


def _genre_rows(ds: Dataset) -> tuple[np.ndarray, list[int]]:
    """Multi-hot genre rows of every interaction, grouped by user in time order, and the group sizes."""
    per_user = list(ds.interactions.by_user().values())
    cat = ds.catalog
    return cat.genre_matrix()[cat.rows(np.concatenate(per_user))], [len(v) for v in per_user]


def test_taste_clusters_show_in_genres(small_ds: Dataset) -> None:
    """A user's items share genres more than random items do (ML-100k: 1.08x; this set: 1.08x)."""
    rows, sizes = _genre_rows(small_ds)
    cuts = np.cumsum(sizes)[:-1]

    def focus(m: np.ndarray) -> float:
        return float(np.mean([np.linalg.norm(part.mean(axis=0)) for part in np.split(m, cuts)]))

    assert focus(rows) > 1.04 * focus(rows[np.random.default_rng(0).permutation(len(rows))])


def test_tastes_drift_over_a_history(small_ds: Dataset) -> None:
    """A history's first and last thirds differ more than its even and odd positions (ML-100k: 1.54x,
    this set: 1.25x)."""
    rows, sizes = _genre_rows(small_ds)
    drift, parity = [], []
    for part, n in zip(np.split(rows, np.cumsum(sizes)[:-1]), sizes, strict=True):
        if n >= 15:
            drift.append(np.abs(part[: n // 3].mean(0) - part[-(n // 3) :].mean(0)).sum())
            parity.append(np.abs(part[0::2].mean(0) - part[1::2].mean(0)).sum())
    assert len(drift) > 50 and np.mean(drift) > 1.1 * np.mean(parity)


def _assert_same(a: Dataset, b: Dataset) -> None:
    for x, y in (
        *((getattr(a.interactions, f), getattr(b.interactions, f)) for f in ("user", "item", "rating", "ts")),
        (a.catalog.item_ids, b.catalog.item_ids),
        (a.catalog.years, b.catalog.years),
        (a.users.user_ids, b.users.user_ids),
        (a.users.age, b.users.age),
    ):
        assert x.dtype == y.dtype and np.array_equal(x, y)
    assert a.catalog.titles == b.catalog.titles and a.catalog.genres == b.catalog.genres
    assert a.users.gender == b.users.gender and a.users.occupation == b.users.occupation


def _line_by_line(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Dataset:
    with monkeypatch.context() as m:
        m.setattr(loaders, "_fast_int_columns", lambda *_a: None)
        return load(folder)


def test_fast_and_line_by_line_loaders_agree(small: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _assert_same(load(small), _line_by_line(small, monkeypatch))


def test_fast_paths_keep_ml100k_identical(ml100k: Dataset, monkeypatch: pytest.MonkeyPatch) -> None:
    _assert_same(load(ml100k_dir()), _line_by_line(ml100k_dir(), monkeypatch))
    _assert_same(ml100k, _line_by_line(ml100k_dir(), monkeypatch))


def _copy(small: Path, folder: Path) -> Path:
    folder.mkdir()
    for p in small.iterdir():
        (folder / p.name).write_bytes(p.read_bytes())
    return folder


@pytest.mark.parametrize(
    ("ext", "bad", "message"),
    [
        ("inter", "7\t12\t4.5x\t1500000000", "rating is not a number"),
        ("inter", "7\t12\t4", "expected 4 fields"),
        ("inter", "", "empty line"),
        ("inter", "7\t12\t4\t15e8 ", None),  # the line-by-line path accepts it: same arrays as it gives
        ("user", "100\t30\tX\tother\t01234", "gender must be M or F"),
        ("user", "100\t30.5\tM\tother\t01234", "age is not a number"),
        ("item", "100\tA Film\t1990\tDrama Noir", r"unknown genre\(s\) \['Noir'\]"),
        ("item", "100\tA Film (1931)\tunknown\tDrama", None),  # a word for the year: the title's year
    ],
)
def test_malformed_line_falls_back_and_names_it(
    small: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ext: str, bad: str, message: str | None
) -> None:
    folder = _copy(small, tmp_path / "bad")
    path = folder / f"synth.{ext}"
    lines = path.read_text().split("\n")
    lines[100] = bad  # line 101 of the file, the 100th row
    path.write_text("\n".join(lines))
    if message is not None:
        with pytest.raises(DataFormatError, match=rf"synth\.{ext}:101: {message}"):
            load(folder)
        return
    ds = load(folder)
    _assert_same(ds, _line_by_line(folder, monkeypatch))
    if ext == "inter":
        assert ds.interactions.ts[99] == 1_500_000_000 and ds.interactions.rating[99] == 4.0
    else:
        assert ds.catalog.titles[99] == "A Film" and ds.catalog.years[99] == 1931


def test_unknown_user_is_named_with_its_line(small: Path, tmp_path: Path) -> None:
    folder = _copy(small, tmp_path / "ref")
    with (folder / "synth.inter").open("a") as f:
        f.write(f"{USERS + 1}\t1\t3\t1500000000\n")
    message = rf"synth\.inter:{N + 2}: user id {USERS + 1} is not in the user file"
    with pytest.raises(DataFormatError, match=message):
        load(folder)


def test_cli_writes_and_rejects_bad_sizes(tmp_path: Path) -> None:
    from service.cli import app

    runner = CliRunner()
    args = ["data", "synth", "--users", "20", "--items", "30", "--seed", "1", "--out", str(tmp_path / "s")]
    ok = runner.invoke(app, [*args, "--interactions", "150"])
    assert ok.exit_code == 0, ok.output
    assert "interactions=150" in ok.output and len(load(tmp_path / "s").interactions) == 150
    for n, why in (("50", "least 5 x --users"), ("301", "most --users x --items / 2"), ("0", "positive")):
        bad = runner.invoke(app, [*args, "--interactions", n])
        assert bad.exit_code == 2 and why in _flat(bad.output), bad.output
    bad = runner.invoke(app, ["data", "synth", "--users", "-3", "--items", "30", "--interactions", "10",
                              "--out", str(tmp_path / "t")])  # fmt: skip
    why = "Invalid value for --users: must be a positive integer"
    assert bad.exit_code == 2 and why in _flat(bad.output), bad.output
