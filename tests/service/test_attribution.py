"""Attribution rules: the request id first, then the most recent impression within the window."""

from __future__ import annotations

from cascade.impressions import Impression
from service.attribution import attribute

NOW = 1_700_000_000.0


def imp(ts: float, rid: str, user: int, items: tuple[int, ...]) -> Impression:
    return Impression(ts, rid, user, "main", "rules", "rules", None, None, items, 1.0, 0.1, False)


RECENT = [imp(NOW - 10, "new", 1, (5, 6, 7)), imp(NOW - 100, "old", 1, (7, 8, 9))]  # newest first


def test_by_request_id_even_when_a_newer_impression_showed_the_item() -> None:
    m = attribute(1, 7, "old", RECENT, NOW, 600)
    assert m is not None and m.how == "request_id" and m.impression.request_id == "old" and m.position == 1


def test_without_request_id_the_most_recent_impression_that_showed_it() -> None:
    m = attribute(1, 7, None, RECENT, NOW, 600)
    assert m is not None and m.how == "window" and m.impression.request_id == "new" and m.position == 3
    m = attribute(1, 9, None, RECENT, NOW, 600)
    assert m is not None and m.impression.request_id == "old" and m.position == 3


def test_unknown_request_id_falls_back_to_the_window() -> None:
    m = attribute(1, 6, "nope", RECENT, NOW, 600)
    assert m is not None and m.how == "window" and m.impression.request_id == "new"


def test_outside_the_window_or_never_shown_or_another_user_is_unattributed() -> None:
    assert attribute(1, 9, None, RECENT, NOW, 50) is None
    assert attribute(1, 42, None, RECENT, NOW, 600) is None
    assert attribute(2, 7, "new", RECENT, NOW, 600) is None
