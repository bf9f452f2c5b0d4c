"""Every rate Accord states: its estimate, how sure it is (a 95% interval), rounded once.

A rate of 0 wrongful disclosures in 351 is not "0.0 per 10,000": with 351 disclosures a
true rate of up to about 108 per 10,000 could well have produced none.  So every rate
Accord prints or renders (the impact simulation, the demo's headline, the oversight
report's error rates, `accord audit estimate`) carries its 95% Wilson score interval,
the interval `accord audit` has always used: unlike the plain normal approximation it
stays inside 0 to 1 and is informative at 0 of n (Newcombe 1998, method 3).

And every figure of a rate is rounded by one function, :func:`figure`, from the exact
value, once: a headline cannot then say 142.4 where its table says 142.5 (which is what
rounding to two places for JSON and again to one for the page did).  JSON carries the
same rounded figures as the page, with the counts they come from.

For the web pages: ``format_rate(share, low, high, per=...)`` (or ``Rate(part, whole)``)
gives the words; nothing else should format a rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

Z95 = 1.959963984540054
CONFIDENCE = 0.95
METHOD = "Wilson score interval, 95%"
DIGITS = 1  # every rate is shown to one decimal place of its unit
PER_10000 = 10_000
PERCENT = 100


def wilson(wrong: float, n: float, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval for ``wrong`` events in ``n`` observations (as shares)."""
    if n <= 0:
        raise ValueError("a Wilson interval needs at least one observation")
    p = wrong / n
    z2 = z * z
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    # At 0 (or all) of n the bound is exactly 0 (or 1); the float sum may miss it by 1e-17.
    low = 0.0 if wrong <= 0 else max(0.0, centre - half)
    high = 1.0 if wrong >= n else min(1.0, centre + half)
    return low, high


def rounded(share: float, per: int = PER_10000, digits: int = DIGITS) -> float:
    """``share`` in units of ``per`` (per 10,000, or percent), rounded once."""
    return round(share * per, digits)


def figure(share: float | None, per: int = PER_10000, digits: int = DIGITS) -> str:
    """The one way a rate's figure is written: ``12.3`` per 10,000, or ``12.3%``."""
    if share is None:
        return "–"
    text = f"{rounded(share, per, digits):,.{digits}f}"
    return text + "%" if per == PERCENT else text


def format_interval(low: float | None, high: float | None, per: int = PER_10000) -> str:
    """``a to b`` in the rate's unit (``–`` when there is none)."""
    if low is None or high is None:
        return "–"
    return f"{figure(low, per)} to {figure(high, per)}"


def format_rate(
    share: float | None,
    low: float | None,
    high: float | None,
    *,
    per: int = PER_10000,
    compact: bool = False,
    counts: str | None = None,
) -> str:
    """A rate with its 95% interval: ``0.0 per 10,000 (95% interval 0.0 to 108.3)``;
    ``compact`` for a table cell: ``0.0 (0.0–108.3)``.  ``counts`` (``0 of 351``) goes
    inside the brackets."""
    if share is None:
        return "–"
    unit = "" if per == PERCENT else f" per {per:,}"
    more = f"; {counts}" if counts else ""
    if low is None or high is None:
        return figure(share, per) + ("" if compact else unit) + (f" ({counts})" if counts else "")
    if compact:
        return f"{figure(share, per)} ({figure(low, per)}–{figure(high, per)}{more})"
    return f"{figure(share, per)}{unit} (95% interval {format_interval(low, high, per)}{more})"


@dataclass(frozen=True)
class Rate:
    """``part`` of ``whole``, stated per ``per`` (10,000, or 100 for a percentage)."""

    part: int
    whole: int
    per: int = PER_10000

    @property
    def share(self) -> float | None:
        return self.part / self.whole if self.whole else None

    @property
    def value(self) -> float:
        """The exact rate in units of ``per`` (0 when there is no whole), for comparisons."""
        return self.per * self.part / self.whole if self.whole else 0.0

    @property
    def interval(self) -> tuple[float, float] | None:
        return wilson(self.part, self.whole) if self.whole else None

    def text(self, *, counts: bool = True, compact: bool = False) -> str:
        """The rate, its interval and (unless ``counts`` is false) the counts it is from."""
        if not self.whole:
            return "none to count"
        low, high = self.interval or (None, None)
        of = f"{self.part:,} of {self.whole:,}" if counts else None
        return format_rate(self.share, low, high, per=self.per, compact=compact, counts=of)

    def to_json(self) -> dict[str, Any]:
        """The figures as shown (rounded once, by :func:`rounded`), with their counts."""
        share, interval = self.share, self.interval
        return {
            "part": self.part,
            "whole": self.whole,
            "per": self.per,
            "value": None if share is None else rounded(share, self.per),
            "low": None if interval is None else rounded(interval[0], self.per),
            "high": None if interval is None else rounded(interval[1], self.per),
            "confidence": CONFIDENCE,
            "method": METHOD,
            "text": self.text(),
        }
