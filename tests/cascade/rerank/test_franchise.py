"""Franchise groups derived from MovieLens-100k titles."""

from __future__ import annotations

from collections import Counter

import pytest

from cascade.data.dataset import Catalog
from cascade.data.fetch import load_default
from cascade.rerank.franchise import base_name, catalog_groups, catalog_index, franchise_groups, normalise


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    """The real MovieLens-100k catalog."""
    return load_default().catalog


@pytest.fixture(scope="module")
def group_of(catalog: Catalog) -> dict[str, str | None]:
    """Title -> group key over the whole catalog."""
    return dict(zip(catalog.titles, franchise_groups(catalog.titles), strict=True))


def _same_group(group_of: dict[str, str | None], titles: list[str]) -> None:
    """Assert that all titles exist and share one non-None group."""
    groups = {group_of[t] for t in titles}
    assert len(groups) == 1 and None not in groups, {t: group_of[t] for t in titles}


def test_normalise_moves_articles_and_strips_years_and_punctuation() -> None:
    assert normalise("Godfather: Part II, The") == "the godfather: part ii"
    assert normalise("Toy Story (1995)") == "toy story"
    assert normalise("Batman & Robin") == "batman robin"
    assert base_name("Star Trek VI: The Undiscovered Country") == "star trek"
    assert base_name("Jaws 3-D") == "jaws"


def test_star_trek_films_share_a_group(group_of: dict[str, str | None], catalog: Catalog) -> None:
    trek = [t for t in catalog.titles if t.startswith("Star Trek")]
    assert len(trek) >= 6
    _same_group(group_of, trek)


@pytest.mark.parametrize(
    "titles",
    [
        ["Batman", "Batman Returns", "Batman Forever", "Batman & Robin"],
        ["Die Hard", "Die Hard 2", "Die Hard: With a Vengeance"],
        ["Godfather, The", "Godfather: Part II, The"],
        ["Alien", "Aliens", "Alien 3", "Alien: Resurrection"],
        ["Free Willy", "Free Willy 2: The Adventure Home", "Free Willy 3: The Rescue"],
        ["Jaws", "Jaws 2", "Jaws 3-D"],
        ["Home Alone", "Home Alone 3"],
        ["Raiders of the Lost Ark", "Indiana Jones and the Last Crusade"],
    ],
)
def test_series_share_a_group(group_of: dict[str, str | None], titles: list[str]) -> None:
    _same_group(group_of, titles)


def test_unrelated_titles_do_not_group(group_of: dict[str, str | None]) -> None:
    assert group_of["Toy Story"] is None
    assert group_of["Twelve Monkeys"] is None
    assert group_of["Richard III"] is None  # a regnal number is no sequel marker
    assert group_of["Star Wars"] != group_of["Star Trek: Generations"]
    assert group_of["Fear of a Black Hat"] != group_of["Fear"]
    assert group_of["Batman"] != group_of["Die Hard"]


def test_number_of_groups_is_sane(group_of: dict[str, str | None], catalog: Catalog) -> None:
    sizes = Counter(g for g in group_of.values() if g is not None)
    assert 30 <= len(sizes) <= 120, len(sizes)
    grouped = sum(1 for g in franchise_groups(catalog.titles) if g is not None)
    assert grouped < len(catalog) // 5  # most films belong to no series


def test_catalog_map_is_cached_and_consistent(catalog: Catalog) -> None:
    groups = catalog_groups(catalog)
    assert catalog_groups(catalog) is groups
    assert catalog_index(catalog) is catalog_index(catalog)
    row = catalog.titles.index("Die Hard 2")
    assert groups[int(catalog.item_ids[row])] == "die hard"
    assert set(groups.values()) == {g for g in franchise_groups(catalog.titles) if g is not None}


def test_new_titles_join_known_series() -> None:
    groups = franchise_groups(["Batman Begins", "Batman", "Heat", "Heat"])
    assert groups[0] == groups[1] == "batman"
    assert groups[2] == "heat"  # same-name titles (duplicates, remakes) group too
