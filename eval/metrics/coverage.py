"""Catalog coverage: the share of the catalog that appears in at least one list."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def catalog_coverage(lists: Iterable[Sequence[int]], catalog_size: int, k: int | None = None) -> float:
    """|union of the lists' (top-k) items| / catalog_size."""
    if catalog_size <= 0:
        raise ValueError("catalog_size must be positive")
    seen: set[int] = set()
    for items in lists:
        seen.update(items[:k] if k is not None else items)
    return len(seen) / catalog_size
