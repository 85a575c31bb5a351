"""Readers for MovieLens-100k in RecBole's atomic layout and in the original GroupLens layout."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import numpy as np

from cascade.data.dataset import GENRES, Catalog, Dataset, Interactions, Users

T = TypeVar("T")
_YEAR_IN_TITLE = re.compile(r"\s*\((\d{4})\)\s*$")


class DataFormatError(ValueError):
    """Malformed input, with the file and 1-based line that caused it."""

    def __init__(self, path: Path, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.path, self.line = path, line


def _rows(
    path: Path, sep: str, n_fields: int, encoding: str, header: bool
) -> Iterator[tuple[int, list[str]]]:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    raw = path.read_bytes()
    if raw and not raw.endswith(b"\n"):
        raise DataFormatError(path, raw.count(b"\n") + 1, "file is truncated (last line has no newline)")
    text = raw.decode(encoding)
    lines = text.split("\n")[:-1] if text else []
    if header:
        if not lines:
            raise DataFormatError(path, 1, "missing header line")
        lines = lines[1:]
    start = 2 if header else 1
    for n, line in enumerate(lines, start=start):
        if not line.strip():
            raise DataFormatError(path, n, "empty line")
        parts = line.rstrip("\r").split(sep)
        if len(parts) != n_fields:
            raise DataFormatError(
                path, n, f"expected {n_fields} fields separated by {sep!r}, got {len(parts)}"
            )
        yield n, parts


def _num(path: Path, line: int, name: str, value: str, conv: Callable[[str], T]) -> T:
    try:
        return conv(value)
    except ValueError:
        raise DataFormatError(path, line, f"{name} is not a number: {value!r}") from None


def _interactions(path: Path, sep: str, header: bool) -> Interactions:
    users, items, ratings, stamps = [], [], [], []
    for n, (u, i, r, t) in _rows(path, sep, 4, "utf-8", header):
        users.append(_num(path, n, "user id", u, int))
        items.append(_num(path, n, "item id", i, int))
        ratings.append(_num(path, n, "rating", r, float))
        stamps.append(int(_num(path, n, "timestamp", t, float)))
    if not users:
        raise DataFormatError(path, 1, "no interactions")
    return Interactions(
        np.asarray(users, dtype=np.int64),
        np.asarray(items, dtype=np.int64),
        np.asarray(ratings, dtype=np.float32),
        np.asarray(stamps, dtype=np.int64),
    )


def _check_refs(inter: Interactions, catalog: Catalog, users: Users, path: Path, first_line: int) -> None:
    """Every interaction names a known user and item."""
    known_items = set(catalog.item_ids.tolist())
    known_users = set(users.user_ids.tolist())
    for n, (u, i) in enumerate(zip(inter.user.tolist(), inter.item.tolist(), strict=True), start=first_line):
        if i not in known_items:
            raise DataFormatError(path, n, f"item id {i} is not in the item file")
        if u not in known_users:
            raise DataFormatError(path, n, f"user id {u} is not in the user file")


def load_atomic(folder: Path, name: str = "ml-100k") -> Dataset:
    """RecBole atomic files: <name>.inter, <name>.item, <name>.user (tab-separated, typed header)."""
    inter_path, item_path, user_path = (folder / f"{name}.{ext}" for ext in ("inter", "item", "user"))
    item_ids, titles, years, genres = [], [], [], []
    for n, (i, title, year, cls) in _rows(item_path, "\t", 4, "utf-8", header=True):
        item_ids.append(_num(item_path, n, "item id", i, int))
        m = _YEAR_IN_TITLE.search(title)
        titles.append(_YEAR_IN_TITLE.sub("", title).strip())
        # the shipped file spells a missing year as a word ("unkonwn"); treat any word as unknown
        word = not year.strip() or year.strip().isalpha()
        years.append((int(m.group(1)) if m else 0) if word else _num(item_path, n, "release year", year, int))
        gs = tuple(cls.split()) if cls.strip() else ("unknown",)
        bad = [g for g in gs if g not in GENRES]
        if bad:
            raise DataFormatError(item_path, n, f"unknown genre(s) {bad}")
        genres.append(gs)
    catalog = Catalog(np.asarray(item_ids, dtype=np.int64), titles, np.asarray(years, dtype=np.int64), genres)
    users = _users(user_path, "\t", header=True)
    inter = _interactions(inter_path, "\t", header=True)
    _check_refs(inter, catalog, users, inter_path, first_line=2)
    return Dataset(inter, catalog, users, source=str(folder))


def _users(path: Path, sep: str, header: bool, encoding: str = "utf-8") -> Users:
    ids, ages, genders, occs = [], [], [], []
    for n, (u, age, gender, occ, _zip) in _rows(path, sep, 5, encoding, header):
        ids.append(_num(path, n, "user id", u, int))
        ages.append(_num(path, n, "age", age, int))
        if gender not in ("M", "F"):
            raise DataFormatError(path, n, f"gender must be M or F, got {gender!r}")
        genders.append(gender)
        occs.append(occ)
    return Users(np.asarray(ids, dtype=np.int64), np.asarray(ages, dtype=np.int64), genders, occs)


def load_grouplens(folder: Path) -> Dataset:
    """The original GroupLens layout: u.data (tab), u.item and u.user ('|', latin-1)."""
    item_path = folder / "u.item"
    item_ids, titles, years, genres = [], [], [], []
    for n, parts in _rows(item_path, "|", 5 + len(GENRES), "latin-1", header=False):
        item_ids.append(_num(item_path, n, "item id", parts[0], int))
        title = parts[1]
        m = _YEAR_IN_TITLE.search(title)
        year = int(m.group(1)) if m else 0
        if not year and parts[2][-4:].isdigit():
            year = int(parts[2][-4:])
        titles.append(_YEAR_IN_TITLE.sub("", title).strip())
        years.append(year)
        flags = parts[5:]
        if any(f not in ("0", "1") for f in flags):
            raise DataFormatError(item_path, n, "genre flags must be 0 or 1")
        genres.append(tuple(g for g, f in zip(GENRES, flags, strict=True) if f == "1") or ("unknown",))
    catalog = Catalog(np.asarray(item_ids, dtype=np.int64), titles, np.asarray(years, dtype=np.int64), genres)
    users = _users(folder / "u.user", "|", header=False, encoding="latin-1")
    inter = _interactions(folder / "u.data", "\t", header=False)
    _check_refs(inter, catalog, users, folder / "u.data", first_line=1)
    return Dataset(inter, catalog, users, source=str(folder))


def load(folder: Path) -> Dataset:
    """Either layout, detected from the files present."""
    if (folder / "u.data").is_file():
        return load_grouplens(folder)
    atomic = sorted(folder.glob("*.inter"))
    if len(atomic) == 1:
        return load_atomic(folder, atomic[0].stem)
    raise FileNotFoundError(
        f"{folder}: neither u.data (GroupLens) nor one *.inter file (atomic layout) found"
    )
