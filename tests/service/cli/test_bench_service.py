"""`care bench service --tail`'s options: bad paced loads and accept modes are refused by name, before
any server starts."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from service.cli import app


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--rate", "0"], "--rate"),
        (["--rate", "-5"], "--rate"),
        (["--share", "2"], "--share"),
        (["--accept", "fifo"], "--accept"),
        (["--slots", "0"], "--slots"),
    ],
)
def test_bad_tail_options_are_refused_by_name(args: list[str], named: str) -> None:
    r = CliRunner().invoke(app, ["bench", "service", "--tail", *args])
    assert r.exit_code == 2, r.output
    assert named in r.output
