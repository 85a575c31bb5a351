"""`care bench collab` reads each configuration as CollabConfig fields and refuses anything else by name."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cascade.bench.collab import parse
from cascade.features.collab import CollabConfig
from service.cli import app


def test_a_configuration_sets_fields_and_the_rankers_seed() -> None:
    cfg, seed = parse('{"neighbours": 800, "rank": 64, "seed": 1}')
    assert (cfg.neighbours, cfg.rank, seed) == (800, 64, 1)
    assert parse("{}") == (CollabConfig(), 7)


@pytest.mark.parametrize(
    ("bad", "message"),
    [("{neighbours: 3}", "not JSON"), ("[1]", "JSON object"), ('{"k": 3}', "unknown fields ['k']")],
)
def test_a_bad_configuration_is_named(bad: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse(bad)
    res = CliRunner().invoke(app, ["bench", "collab", "--config", bad])
    assert res.exit_code == 2 and "--config" in res.output
