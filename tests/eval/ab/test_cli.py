"""Option parsing of `care ab`: times and skews, with messages that name the bad value."""

from __future__ import annotations

import pytest

from eval.ab.cli import parse_skew
from eval.ab.report import parse_time


def test_parse_time_accepts_unix_seconds_and_iso() -> None:
    assert parse_time("1700000000.5", 0.0) == 1700000000.5
    assert parse_time("2023-11-14T22:13:20", 0.0) == 1700000000.0
    assert parse_time("2023-11-14T23:13:20+01:00", 0.0) == 1700000000.0
    assert parse_time(None, 7.0) == 7.0
    with pytest.raises(ValueError, match="tomorrow"):
        parse_time("tomorrow", 0.0)


def test_parse_skew() -> None:
    assert parse_skew("none=5") == ("none", 5.0)
    assert parse_skew("rules=-2.5") == ("rules", -2.5)
    assert parse_skew(None) is None
    for bad in ("none", "=5", "none=x"):
        with pytest.raises(ValueError, match="ARM=POINTS"):
            parse_skew(bad)
