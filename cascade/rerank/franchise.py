"""Franchise and series groups derived from item titles (Star Trek, Batman, Die Hard 2, Part II...)."""

from __future__ import annotations

import re
import weakref
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cascade.data.dataset import Catalog

# Series roots known up front: a title whose normalised name starts with one of them joins it.
KNOWN_ROOTS: frozenset[str] = frozenset(
    {
        "star trek", "star wars", "batman", "die hard", "alien", "godfather", "free willy", "jaws",
        "home alone", "indiana jones", "terminator", "jurassic park", "mighty ducks", "amityville",
        "highlander", "naked gun", "young guns", "mortal kombat", "three colors",
    }
)  # fmt: skip

# Members whose title does not name their series.
ALIASES: dict[str, str] = {
    "aliens": "alien",
    "raiders of the lost ark": "indiana jones",
    "empire strikes back": "star wars",
    "return of the jedi": "star wars",
    "lost world": "jurassic park",
    "d2": "mighty ducks",
    "d3": "mighty ducks",
}

# Bases that a shared name would wrongly group (regnal numbers read as sequel numbers).
NOT_SERIES: frozenset[str] = frozenset({"henry", "richard"})

_PAREN = re.compile(r"\s*\([^)]*\)\s*$")
_ARTICLE_TAIL = re.compile(r"^(.*?),\s*(the|a|an|les|la|le|il|das|der|die|el)$", re.IGNORECASE)
_ARTICLE_HEAD = re.compile(r"^(?:the|a|an)\s+")
_SEQUEL = re.compile(r"\s+(?:part\s+)?(?:[2-9]|ii|iii|iv|v|vi|vii|viii|ix|x|3-?d|(?:19|20)\d\d)$")
_PUNCT = re.compile(r"[^\w\s:]")
_SPACES = re.compile(r"\s+")


def normalise(title: str) -> str:
    """Lowercase title with trailing parentheses/years removed, articles moved, punctuation stripped."""
    t = title.strip()
    while True:
        stripped = _PAREN.sub("", t)
        if stripped == t or not stripped:
            break
        t = stripped
    # Articles move back to the front, also before a subtitle: "Godfather: Part II, The".
    m = _ARTICLE_TAIL.match(t)
    if m:
        t = f"{m.group(2)} {m.group(1)}"
    t = t.lower().replace("-", " ")
    t = _PUNCT.sub("", t)
    return _SPACES.sub(" ", t).strip()


def _strip_sequel(name: str) -> str:
    """Drop trailing sequel markers ("ii", "2", "part ii", "3 d", a year) while something remains."""
    name = name.replace("3 d", "3-d")
    while True:
        stripped = _SEQUEL.sub("", name).strip()
        if stripped == name or not stripped:
            return name
        name = stripped


def _parse(title: str) -> tuple[str, bool]:
    """(base name, whether the title has a subtitle after ':')."""
    norm = normalise(title)
    head, colon, _ = norm.partition(":")
    main = head.strip() or norm
    main = _ARTICLE_HEAD.sub("", main) or main
    base = _strip_sequel(main)
    return ALIASES.get(base, base), bool(colon)


def base_name(title: str) -> str:
    """The series candidate of one title: the name before ':' without article or sequel marker."""
    return _parse(title)[0]


class FranchiseIndex:
    """Group keys for titles; roots are discovered from a catalog's titles plus the known roots."""

    def __init__(self, titles: Iterable[str] = ()) -> None:
        parsed = [_parse(t) for t in titles]
        counts = Counter(b for b, _ in parsed)
        # A shared base is a prefix root only when some title puts a subtitle after it ("Amityville:
        # ..."), so that "Scream 2" or two films named "Fear" do not pull in "Fear of a Black Hat".
        signalled = {b for b, sig in parsed if sig and counts[b] >= 2 and b not in NOT_SERIES}
        self._roots: tuple[str, ...] = tuple(sorted(signalled | KNOWN_ROOTS, key=lambda r: (-len(r), r)))
        self._keys: dict[str, str] = {}
        self._ids: dict[str, int] = {}

    def key(self, title: str) -> str:
        """The group key of a title (its own base name when it belongs to no known series)."""
        cached = self._keys.get(title)
        if cached is not None:
            return cached
        base = base_name(title)
        key = base
        for root in self._roots:  # longest first
            if base == root or base.startswith(root + " "):
                key = root
                break
        self._keys[title] = key
        return key

    def group_id(self, title: str) -> int:
        """A small integer per distinct key, stable for the life of the index."""
        return self._ids.setdefault(self.key(title), len(self._ids))


def franchise_groups(titles: Sequence[str]) -> list[str | None]:
    """A group key per title, or None where no other title shares it."""
    index = FranchiseIndex(titles)
    keys = [index.key(t) for t in titles]
    counts = Counter(keys)
    return [k if counts[k] >= 2 else None for k in keys]


_Entry = tuple["weakref.ref[Catalog]", int, FranchiseIndex, dict[int, str]]
_CACHE: dict[int, _Entry] = {}


def _entry(catalog: Catalog) -> _Entry:
    """The cache entry of a catalog, rebuilt when its version moves or another catalog took its id."""
    hit = _CACHE.get(id(catalog))
    if hit is not None and hit[0]() is catalog and hit[1] == catalog.version:
        return hit
    index = FranchiseIndex(catalog.titles)
    keys = [index.key(t) for t in catalog.titles]
    counts = Counter(keys)
    groups = {int(i): k for i, k in zip(catalog.item_ids, keys, strict=True) if counts[k] >= 2}
    entry: _Entry = (weakref.ref(catalog), catalog.version, index, groups)
    _CACHE[id(catalog)] = entry
    return entry


def catalog_index(catalog: Catalog) -> FranchiseIndex:
    """The franchise index of a catalog (cached)."""
    return _entry(catalog)[2]


def catalog_groups(catalog: Catalog) -> dict[int, str]:
    """Item id -> group key for every catalog item sharing its group with another item (cached)."""
    return _entry(catalog)[3]
