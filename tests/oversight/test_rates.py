"""Every rate with its 95% interval, rounded once (`accord.rates`; issue 18)."""

from __future__ import annotations

import math

import pytest

from accord import rates
from accord.rates import Rate


@pytest.mark.parametrize(
    ("wrong", "n", "low", "high"),
    # Newcombe (1998), Stat Med 17:857-872, table I, method 3 (score interval, no correction)
    [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611),
     (1, 29, 0.0061, 0.1718)],
)  # fmt: skip
def test_wilson_interval_matches_published_values(
    wrong: int, n: int, low: float, high: float
) -> None:
    assert rates.wilson(wrong, n) == pytest.approx((low, high), abs=5e-5)


def test_none_found_still_shows_how_many_there_could_be() -> None:
    """The simulation's case: 0 wrongful of 351 disclosures is 0.0 per 10,000, and a true
    rate of up to z^2 / (n + z^2) = 108.3 per 10,000 could well have given it."""
    r = Rate(0, 351)
    z2 = rates.Z95**2
    assert 10_000 * z2 / (351 + z2) == pytest.approx(108.3, abs=0.05)
    assert r.text() == "0.0 per 10,000 (95% interval 0.0 to 108.3; 0 of 351)"
    assert r.text(counts=False, compact=True) == "0.0 (0.0–108.3)"
    figures = r.to_json()
    assert (figures["value"], figures["low"], figures["high"]) == (0.0, 0.0, 108.3)
    assert (figures["part"], figures["whole"], figures["confidence"]) == (0, 351, 0.95)


def test_one_rounding_a_figure_is_the_same_wherever_it_is_written() -> None:
    """5 of 351 is 142.45014... per 10,000: rounding to 142.45 first (as JSON did) and then
    to one place gave 142.4 in a headline whose table said 142.5."""
    exact = 10_000 * 5 / 351
    assert f"{round(exact, 2):.1f}" == "142.4"  # the double rounding this module removes
    r = Rate(5, 351)
    assert f"{exact:.1f}" == "142.5"
    assert r.to_json()["value"] == 142.5
    assert r.text().startswith("142.5 per 10,000 (95% interval ")
    assert r.text(counts=False, compact=True).startswith("142.5 (")
    assert rates.figure(5 / 351) == "142.5"
    low, high = rates.wilson(5, 351)
    assert r.to_json()["low"] == round(10_000 * low, 1) and r.to_json()["high"] == round(
        10_000 * high, 1
    )
    assert round(10_000 * low, 1) < 142.5 < round(10_000 * high, 1)


def test_percentages_and_missing_figures() -> None:
    assert Rate(528, 537, rates.PERCENT).text() == "98.3% (95% interval 96.8% to 99.1%; 528 of 537)"
    assert Rate(0, 0).text() == "none to count"
    assert Rate(0, 0).to_json()["value"] is None
    assert rates.figure(None) == "–"
    assert rates.format_rate(None, None, None) == "–"
    assert rates.format_rate(0.1, 0.05, 0.2, per=rates.PERCENT) == (
        "10.0% (95% interval 5.0% to 20.0%)"
    )


def test_every_interval_contains_its_estimate() -> None:
    for n in (1, 7, 50, 351, 10_000):
        for k in sorted({0, 1, n // 3, n // 2, n - 1, n}):
            low, high = rates.wilson(k, n)
            assert 0 <= low <= k / n <= high <= 1, (k, n)
            assert high > 0 and low < 1
            assert math.isclose(rates.wilson(n - k, n)[0], 1 - high, abs_tol=1e-12)
