"""One clock for business dates: the day a command acts as of, not the day it happens to run.

A command that takes ``--as-of`` acts as of that day, so what it records as *happening*
(a disclosure made, a recall sent, a review decision, a freeze, an item queued, a firewall
refusal) is dated that day.  Otherwise a run replayed as of an earlier day would date its
disclosures today, and a letter would show a disclosure after the person was taken off
the list.  Audit and ledger timestamps (``audit_log.at``, ``ledger_leaves.appended_at``,
signed tree heads, ``recorded_at``, ``applied_at``) stay on the wall clock: they say when
Accord wrote something down, and a letter never shows them as business dates.

The time of day is the wall clock's, so things done one after another by one command keep
their order; only the date moves.  As of today (the default) this is exactly now.
"""

from __future__ import annotations

import datetime as dt


def now() -> dt.datetime:
    """The wall clock, in UTC: for audit and ledger timestamps."""
    return dt.datetime.now(dt.UTC)


def business_time(as_of: dt.date | None, wall: dt.datetime | None = None) -> dt.datetime:
    """When something done as of ``as_of`` happened: that day, at the wall clock's time of day.

    ``None`` (or today) gives the wall clock itself.  ``wall`` is the wall-clock instant to
    take the time of day from (default: now), so that callers can stamp a batch alike.
    """
    wall = wall or now()
    if as_of is None or as_of == wall.date():
        return wall
    return dt.datetime.combine(as_of, wall.timetz())
