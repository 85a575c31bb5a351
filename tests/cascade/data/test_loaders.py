from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cascade.data.dataset import Dataset
from cascade.data.fetch import ml100k_dir
from cascade.data.loaders import DataFormatError, load, load_atomic


def _copy_atomic(tmp_path: Path) -> Path:
    dst = tmp_path / "ml"
    shutil.copytree(ml100k_dir(), dst)
    return dst


def test_atomic_layout_loads_titles_years_genres(ml100k: Dataset) -> None:
    cat = ml100k.catalog
    r = cat.row(1)
    assert cat.titles[r] == "Toy Story" and cat.years[r] == 1995
    assert cat.genres[r] == ("Animation", "Children's", "Comedy")
    assert ml100k.users.occupation[0] == "technician"


def test_truncated_file_names_file_and_line(tmp_path: Path) -> None:
    folder = _copy_atomic(tmp_path)
    path = folder / "ml-100k.inter"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFormatError, match=r"ml-100k\.inter:\d+: .*truncated"):
        load(folder)


def test_malformed_field_names_file_and_line(tmp_path: Path) -> None:
    folder = _copy_atomic(tmp_path)
    path = folder / "ml-100k.inter"
    lines = path.read_text().split("\n")
    lines[5] = "196\t242\tthree\t881250949"
    path.write_text("\n".join(lines))
    with pytest.raises(DataFormatError, match=r"ml-100k\.inter:6: rating is not a number"):
        load_atomic(folder)


def test_unknown_item_reference_is_rejected(tmp_path: Path) -> None:
    folder = _copy_atomic(tmp_path)
    path = folder / "ml-100k.inter"
    with path.open("a") as f:
        f.write("1\t99999\t3\t881250949\n")
    with pytest.raises(DataFormatError, match="item id 99999 is not in the item file"):
        load(folder)


def test_grouplens_layout_matches_atomic(tmp_path: Path, ml100k: Dataset) -> None:
    """Write the original u.data/u.item/u.user layout from the atomic files and load it back."""
    from cascade.data.dataset import GENRES

    folder = tmp_path / "gl"
    folder.mkdir()
    inter = ml100k.interactions
    with (folder / "u.data").open("w") as f:
        for u, i, r, t in zip(inter.user, inter.item, inter.rating, inter.ts, strict=True):
            f.write(f"{u}\t{i}\t{int(r)}\t{t}\n")
    cat = ml100k.catalog
    with (folder / "u.item").open("w", encoding="latin-1") as f:
        for r, i in enumerate(cat.item_ids):
            flags = "|".join("1" if g in cat.genres[r] else "0" for g in GENRES)
            year = f" ({cat.years[r]})" if cat.years[r] else ""
            f.write(f"{i}|{cat.titles[r]}{year}|01-Jan-{cat.years[r] or 1995}||http://x|{flags}\n")
    users = ml100k.users
    with (folder / "u.user").open("w", encoding="latin-1") as f:
        for r, u in enumerate(users.user_ids):
            f.write(f"{u}|{users.age[r]}|{users.gender[r]}|{users.occupation[r]}|00000\n")
    ds = load(folder)
    assert len(ds.interactions) == 100_000 and len(ds.catalog) == 1682
    assert ds.catalog.titles == cat.titles
    assert ds.catalog.genres == cat.genres


def test_missing_folder_is_clear(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"neither u\.data"):
        load(tmp_path)
