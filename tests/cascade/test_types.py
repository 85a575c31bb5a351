"""What a user view excludes from every candidate source."""

from __future__ import annotations

from cascade.types import UserView


def test_excluded_joins_seen_history_and_session() -> None:
    view = UserView(1, True, history=(3, 5), session_items=(8,), seen=frozenset({3, 5, 13}))
    assert view.excluded() == frozenset({3, 5, 8, 13})
    assert UserView(2, False).excluded() == frozenset()
