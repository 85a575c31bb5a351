"""Readers for MovieLens-100k in RecBole's atomic layout and in the original GroupLens layout."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from cascade.data.dataset import GENRES, Catalog, Dataset, IntArray, Interactions, Users

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


_FAST_CHUNK = 1 << 24  # bytes parsed at a time by the vectorized path
_FAST_DIGITS = 18  # an int64 holds any 18-digit number
_EXACT_FLOAT = 1 << 53  # below this, int(float(s)) == int(s) and float32(float(s)) == float32(int(s))


def _int_chunk(b: npt.NDArray[np.uint8], out: list[IntArray], row: int) -> int | None:
    """Parse whole lines of len(out) tab-separated ASCII decimal integers into out[j][row:]; returns the
    number of lines, or None when the bytes are anything else."""
    n_fields = len(out)
    seps = np.flatnonzero(b < 11)  # tab and newline, and any other control byte, which fails below
    if not len(seps) or len(seps) % n_fields:
        return None
    kinds = b[seps].reshape(-1, n_fields)
    if not (kinds[:, :-1] == 9).all() or not (kinds[:, -1] == 10).all():
        return None
    lens = np.empty_like(seps)
    lens[0] = seps[0]
    lens[1:] = np.diff(seps) - 1
    if int(lens.min()) < 1 or int(lens.max()) > _FAST_DIGITS:
        return None
    n = len(kinds)
    if row + n > len(out[0]):
        return None
    term = np.empty(n, dtype=np.int64)
    for j in range(n_fields):
        last, width = seps[j::n_fields] - 1, lens[j::n_fields]
        value = out[j][row : row + n]
        value[:] = 0
        narrowest = int(width.min())
        for d in range(int(width.max())):  # every byte between separators is read once, here
            if d < narrowest:
                digit = b[last - d]
            else:  # a shorter number reads "0" past its first digit
                m = width > d
                digit = np.where(m, b[np.where(m, last - d, 0)], np.uint8(48))
            digit -= np.uint8(48)
            if int(digit.max()) > 9:
                return None
            np.multiply(digit, np.int64(10**d), out=term)
            value += term
    return n


def _fast_int_columns(path: Path, n_fields: int, header: bool) -> list[IntArray] | None:
    """The vectorized reading of a file of plain integers (tab-separated), or None for anything else:
    the caller then takes the line-by-line path, which accepts more and names any malformed line."""
    if not path.is_file():
        return None
    raw = path.read_bytes()
    if not raw.endswith(b"\n"):
        return None
    start = 0
    if header:
        start = raw.index(b"\n") + 1
        try:
            raw[: start - 1].decode("utf-8")
        except UnicodeDecodeError:
            return None
    n_lines = raw.count(b"\n") - int(header)
    if not n_lines:
        return None
    out = [np.empty(n_lines, dtype=np.int64) for _ in range(n_fields)]
    row = 0
    while start < len(raw):
        end = raw.find(b"\n", min(start + _FAST_CHUNK, len(raw)) - 1) + 1
        got = _int_chunk(np.frombuffer(raw, dtype=np.uint8, count=end - start, offset=start), out, row)
        if got is None:
            return None
        row, start = row + got, end
    return out if row == n_lines else None


def _interactions(path: Path, sep: str, header: bool) -> Interactions:
    if sep == "\t":
        cols = _fast_int_columns(path, 4, header)
        if cols is not None and int(cols[2].max()) < _EXACT_FLOAT and int(cols[3].max()) < _EXACT_FLOAT:
            return Interactions(cols[0], cols[1], cols[2].astype(np.float64).astype(np.float32), cols[3])
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
    bad_item = ~np.isin(inter.item, catalog.item_ids)
    bad = bad_item | ~np.isin(inter.user, users.user_ids)
    if bad.any():
        k = int(np.argmax(bad))
        if bad_item[k]:
            raise DataFormatError(path, first_line + k, f"item id {inter.item[k]} is not in the item file")
        raise DataFormatError(path, first_line + k, f"user id {inter.user[k]} is not in the user file")


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
