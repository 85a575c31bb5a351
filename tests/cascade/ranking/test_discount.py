"""The impression discount: a function of how often and how long ago an item was shown and skipped."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError

from cascade.ranking.discount import DiscountSettings, ImpressionDiscount
from cascade.types import NOTHING_SHOWN, Shown

IDS = np.asarray([5, 7, 9, 11], dtype=np.int64)
SCORES = np.asarray([3.0, 2.5, 2.0, 1.0], dtype=np.float32)
DAY = 86_400.0


def test_nothing_shown_leaves_the_scores_untouched() -> None:
    d = ImpressionDiscount()
    assert d.apply(IDS, SCORES, NOTHING_SHOWN, 1e9) is SCORES
    unrelated = Shown.of({4: (3, 0.0), 100: (1, 0.0)})  # shown, but not among the candidates
    np.testing.assert_array_equal(d.apply(IDS, SCORES, unrelated, 10.0), SCORES)


def test_each_showing_multiplies_the_odds_by_the_factor() -> None:
    d = ImpressionDiscount(factor=0.5, half_life_s=DAY)
    shown = Shown.of({5: (1, 100.0), 9: (3, 100.0)})
    out = d.apply(IDS, SCORES, shown, now=100.0)  # shown just now: full weight
    assert out[0] == pytest.approx(3.0 + math.log(0.5))
    assert out[2] == pytest.approx(2.0 + 3 * math.log(0.5))
    assert out[[1, 3]].tolist() == SCORES[[1, 3]].tolist()  # never shown: unchanged
    # the pairwise odds of 5 over 7 (sigmoid of the score difference) are halved
    odds = math.exp(float(out[0] - out[1]))
    assert odds == pytest.approx(math.exp(0.5) * 0.5, rel=1e-5)


def test_a_showing_weighs_less_as_it_ages() -> None:
    d = ImpressionDiscount(factor=0.25, half_life_s=DAY)
    shown = Shown.of({7: (2, 0.0)})
    fresh, day, week = (d.penalty(IDS, shown, now)[1] for now in (0.0, DAY, 7 * DAY))
    assert fresh == pytest.approx(2 * math.log(0.25))
    assert day == pytest.approx(fresh / 2)  # one half-life
    assert week == pytest.approx(fresh / 2**7, rel=1e-5)
    assert d.penalty(IDS, shown, -DAY)[1] == pytest.approx(fresh)  # a request time before the showing


def test_the_discount_reorders_a_skipped_top_item() -> None:
    d = ImpressionDiscount(factor=0.5, half_life_s=DAY)
    out = d.apply(IDS, SCORES, Shown.of({5: (2, 0.0)}), now=60.0)
    assert IDS[np.argsort(-out, kind="stable")].tolist() == [7, 9, 5, 11]


def test_factor_one_is_off_and_bad_knobs_are_refused() -> None:
    assert ImpressionDiscount(factor=1.0).apply(IDS, SCORES, Shown.of({5: (9, 0.0)}), 0.0) is SCORES
    for bad in ({"factor": 0.0}, {"factor": 1.5}, {"half_life_s": 0.0}):
        with pytest.raises(ValueError):
            ImpressionDiscount(**bad)  # type: ignore[arg-type]
        with pytest.raises(ValidationError):
            DiscountSettings(**bad)  # type: ignore[arg-type]


def test_settings_switch_it_off() -> None:
    assert DiscountSettings().build() == ImpressionDiscount()
    assert DiscountSettings(enabled=False).build() is None
    assert DiscountSettings(factor=0.8, half_life_s=60).build() == ImpressionDiscount(0.8, 60.0)
