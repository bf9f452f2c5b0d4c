"""Each person's case history (cases.csv) and what arrives after the run (events.csv).

A person's decisions are drawn so that their state on the as-of date is exactly what
their kind says (docs/synth.md lists each kind's history).  Rows are built kind by kind
as arrays, never person by person, then numbered in date order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from accord.formats.schema import APPEAL_STATUSES, DECISIONS, LEAVE, REFUSAL_REASONS
from accord.synth.mix import KINDS, Mix
from accord.synth.population import AREAS, CONFLICTING_DOB, FIRST_1973, NO_DOB, People
from accord.synth.writer import NO_DATE, Days, day_month_swapped, uniform_int, years
from accord.vocab import EventType, sql_word

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

GRANT, REFUSAL, INFORMATION = (DECISIONS.index(d) for d in ("grant", "refusal", "information"))
PROCEDURAL = [
    REFUSAL_REASONS.index(r)
    for r in ("fee_not_paid", "incomplete_application", "invalid_application")
]
SUBSTANTIVE = [
    REFUSAL_REASONS.index(r) for r in ("eligibility", "suitability", "deception", "criminality")
]
ELIGIBILITY, SUITABILITY = (
    REFUSAL_REASONS.index("eligibility"),
    REFUSAL_REASONS.index("suitability"),
)
A_NONE, A_IN_TIME, A_PENDING, A_ALLOWED, A_DISMISSED, A_EXHAUSTED = (
    APPEAL_STATUSES.index(a)
    for a in ("none", "in_time", "pending", "allowed", "dismissed", "exhausted")
)
L_NONE, L_LIMITED, L_INDEFINITE, L_CITIZEN = (
    LEAVE.index(x) for x in ("none", "limited", "indefinite", "citizen")
)
CATEGORIES = ("immigration_casework", "education", "health")
CASEWORK, EDUCATION, HEALTH = 0, 1, 2
NULL = -1

K = {k: i for i, k in enumerate(KINDS)}

EVENT_TYPES = tuple(EventType)
E = {t: i for i, t in enumerate(EVENT_TYPES)}


@dataclass
class Rows:
    """Columns of rows being built; every column one array per block, joined at the end."""

    cols: dict[str, list[npt.NDArray[np.int64]]] = field(default_factory=dict)

    def add(self, person: IntArray, **values: npt.ArrayLike) -> None:
        n = len(person)
        if n == 0:
            return
        self.cols.setdefault("person", []).append(np.asarray(person, dtype=np.int64))
        for name in ROW_COLUMNS:
            v = values.get(name, NULL)
            arr = np.broadcast_to(np.asarray(v, dtype=np.int64), (n,)).copy()
            self.cols.setdefault(name, []).append(arr)
        unknown = set(values) - set(ROW_COLUMNS)
        if unknown:
            raise ValueError(f"unknown row columns {sorted(unknown)}")

    def build(self) -> dict[str, IntArray]:
        return {k: np.concatenate(v) for k, v in self.cols.items()}


ROW_COLUMNS = (
    "date",
    "decision",
    "reason",
    "appeal",
    "leave",
    "expiry",
    "departure",
    "category",
    "postcode_now",
    "alt_dob",
)


def _pick(rng: np.random.Generator, values: list[int], p: list[float], n: int) -> IntArray:
    return np.asarray(values, dtype=np.int64)[rng.choice(len(values), size=n, p=p)]


@dataclass
class History:
    rows: dict[str, IntArray]  # one entry per cases row, ordered by case number
    first: Days  # per person: date of the first decision
    latest: Days  # per person: date of the latest decision
    refused: BoolArray  # per person: has a refusal on file


def build_history(rng: np.random.Generator, people: People, mix: Mix, as_of: int) -> History:
    """Draw every person's decisions; fills ``people.arrival`` and ``people.protected``."""
    A = as_of
    rows = Rows()
    n = people.n
    first = np.full(n, A, dtype=np.int64)
    latest = np.full(n, A, dtype=np.int64)
    refused = np.zeros(n, dtype=bool)

    def earlier_grant(
        idx: IntArray, before: Days, p: float | npt.NDArray[np.float64]
    ) -> tuple[BoolArray, Days]:
        """An earlier grant of limited leave that had expired by ``before``."""
        has = rng.random(len(idx)) < p
        g = before - uniform_int(rng, years(1), years(6), len(idx))
        e = np.minimum(before, np.maximum(g + 180, before - uniform_int(rng, 0, 90, len(idx))))
        rows.add(
            idx[has], date=g[has], decision=GRANT, leave=L_LIMITED, expiry=e[has], postcode_now=0
        )
        return has, g

    def substantive_refusal(
        idx: IntArray,
        date: Days,
        appeal: IntArray,
        departure: npt.ArrayLike = NULL,
        reasons: tuple[list[int], list[float]] = (SUBSTANTIVE, [0.55, 0.15, 0.15, 0.15]),
    ) -> None:
        reason = _pick(rng, reasons[0], reasons[1], len(idx))
        rows.add(
            idx,
            date=date,
            decision=REFUSAL,
            reason=reason,
            appeal=appeal,
            leave=L_NONE,
            departure=departure,
            postcode_now=1,
        )
        refused[idx] = True

    # Overstayers and (what looks the same on the day) refusals later overturned.
    for kind, appeal_p in (("overstayer", [0.5, 0.3, 0.2]), ("overturned", [0.6, 0.3, 0.1])):
        idx = np.flatnonzero(people.kind == K[kind])
        r = A - uniform_int(rng, 60, years(8), len(idx))
        has, g = earlier_grant(idx, r, 0.5)
        appeal = _pick(rng, [A_NONE, A_DISMISSED, A_EXHAUSTED], appeal_p, len(idx))
        substantive_refusal(idx, r, appeal)
        first[idx] = np.where(has, g, r)
        latest[idx] = r

    # Procedural refusal while an earlier grant of limited leave is still running.
    idx = np.flatnonzero(people.kind == K["procedural_refusal"])
    m = len(idx)
    g = A - uniform_int(rng, 180, years(4), m)
    e = A + uniform_int(rng, 30, years(3), m)
    r = np.maximum(g + 1, g + np.floor((A - 1 - g) * rng.uniform(0.2, 1.0, m)).astype(np.int64))
    r = np.minimum(r, A - 1)
    rows.add(idx, date=g, decision=GRANT, leave=L_LIMITED, expiry=e, postcode_now=0)
    carries = rng.random(m) < 0.5  # half record the leave that continues, half leave it blank
    rows.add(
        idx,
        date=r,
        decision=REFUSAL,
        reason=_pick(rng, PROCEDURAL, [0.4, 0.35, 0.25], m),
        appeal=np.where(rng.random(m) < 0.7, A_NONE, NULL),
        leave=np.where(carries, L_LIMITED, NULL),
        expiry=np.where(carries, e, NULL),
        postcode_now=1,
    )
    refused[idx] = True
    first[idx], latest[idx] = g, r

    # Appeal pending, or still in time (refused within the last 13 days).
    idx = np.flatnonzero(people.kind == K["appeal_pending"])
    m = len(idx)
    in_time = rng.random(m) < 0.3
    r = np.where(in_time, A - uniform_int(rng, 1, 13, m), A - uniform_int(rng, 15, years(2), m))
    has, g = earlier_grant(idx, r, 0.4)
    substantive_refusal(idx, r, np.where(in_time, A_IN_TIME, A_PENDING))
    first[idx] = np.where(has, g, r)
    latest[idx] = r

    # Windrush: here since before 1973, refused a document for want of proof.
    idx = np.flatnonzero(people.kind == K["windrush"])
    m = len(idx)
    r = A - uniform_int(rng, 60, years(10), m)
    substantive_refusal(
        idx,
        r,
        _pick(rng, [A_NONE, A_DISMISSED], [0.85, 0.15], m),
        reasons=([ELIGIBILITY, SUITABILITY], [0.85, 0.15]),
    )
    first[idx] = latest[idx] = r

    # Departed, the departure recorded on the latest decision.
    idx = np.flatnonzero(people.kind == K["departed"])
    m = len(idx)
    was_refused = rng.random(m) < mix.departed_refused
    ri = idx[was_refused]
    r = A - uniform_int(rng, 120, years(6), len(ri))
    has_r, g_r = earlier_grant(ri, r, 0.4)
    substantive_refusal(
        ri,
        r,
        _pick(rng, [A_NONE, A_DISMISSED], [0.7, 0.3], len(ri)),
        departure=r + uniform_int(rng, 1, A - 1 - r),
    )
    first[ri] = np.where(has_r, g_r, r)
    latest[ri] = r
    gi = idx[~was_refused]
    mg = len(gi)
    g = A - uniform_int(rng, years(2), years(8), mg)
    e = g + uniform_int(rng, 180, A - 31 - g)
    d = np.clip(e + uniform_int(rng, -60, 90, mg), g + 1, A - 1)
    has_g, g0 = earlier_grant(gi, g, 0.3)
    rows.add(gi, date=g, decision=GRANT, leave=L_LIMITED, expiry=e, departure=d, postcode_now=1)
    first[gi] = np.where(has_g, g0, g)
    latest[gi] = g

    # Holding leave: limited (unexpired), indefinite or citizenship; some refused before.
    idx = np.flatnonzero(people.kind == K["has_leave"])
    m = len(idx)
    leave = _pick(rng, [L_LIMITED, L_INDEFINITE, L_CITIZEN], [0.55, 0.35, 0.10], m)
    g = A - uniform_int(rng, 30, years(6), m)
    e = np.where(leave == L_LIMITED, A + uniform_int(rng, 30, years(5), m), NULL)
    before = rng.random(m) < mix.earlier_refusal
    r0 = g - uniform_int(rng, 60, years(3), m)
    bi = idx[before]
    rows.add(
        bi,
        date=r0[before],
        decision=REFUSAL,
        reason=_pick(rng, SUBSTANTIVE, [0.55, 0.15, 0.15, 0.15], len(bi)),
        appeal=_pick(rng, [A_ALLOWED, A_NONE, A_DISMISSED], [0.5, 0.3, 0.2], len(bi)),
        leave=L_NONE,
        postcode_now=0,
    )
    refused[bi] = True
    next_ = np.where(before, r0, g)
    has, g0 = earlier_grant(idx, next_, np.where(leave == L_LIMITED, 0.3, 0.7))
    rows.add(idx, date=g, decision=GRANT, leave=leave, expiry=e, postcode_now=1)
    first[idx] = np.where(has, g0, next_)
    latest[idx] = g

    # Arrival on file (windrush already have theirs): before the first decision, from 1973.
    dob = people.ident.dob
    not_w = people.kind != K["windrush"]
    arrival = first - uniform_int(rng, 0, years(4), n)
    arrival = np.maximum(arrival, np.maximum(dob + 1, FIRST_1973))
    arrival = np.minimum(arrival, first)
    recorded = rng.random(n) >= 0.05
    people.arrival = np.where(not_w, np.where(recorded, arrival, NO_DATE), people.arrival)

    # Information received: a newer address from a protected source (the firewall case),
    # or from casework; an older protected row that a later decision supersedes (a decoy).
    u = rng.random(n)
    protected = u < mix.protected_address
    casework_info = (u >= mix.protected_address) & (u < mix.protected_address + 0.03)
    decoy = (u >= mix.protected_address + 0.03) & (u < mix.protected_address + 0.04)
    decoy &= latest - first >= 2
    info_date = latest + uniform_int(rng, 1, A - latest)
    pi = np.flatnonzero(protected)
    rows.add(
        pi,
        date=info_date[pi],
        decision=INFORMATION,
        category=np.where(rng.random(len(pi)) < 0.5, EDUCATION, HEALTH),
        postcode_now=1,
    )
    ci = np.flatnonzero(casework_info)
    rows.add(ci, date=info_date[ci], decision=INFORMATION, category=CASEWORK, postcode_now=1)
    di = np.flatnonzero(decoy)
    rows.add(
        di,
        date=first[di] + uniform_int(rng, 1, latest[di] - first[di] - 1),
        decision=INFORMATION,
        category=np.where(rng.random(len(di)) < 0.5, EDUCATION, HEALTH),
        postcode_now=0,
    )
    moved_by_info = protected | casework_info
    # Those whose newest address came from information received had moved: decisions
    # carry the old address.  Make sure the two differ.
    same = moved_by_info & (people.pc_old == people.pc_now)
    area_step = 29 * 10 * 400
    people.pc_old = np.where(
        same, (people.pc_now + area_step) % (len(AREAS) * area_step), people.pc_old
    )
    people.protected = protected

    # Two dates of birth on file: the earliest row carries the other one; a person with a
    # single row gets an information row (casework) that does.
    built = rows.build()
    person = built["person"]
    conflicting = people.quality == CONFLICTING_DOB
    counts = np.bincount(person, minlength=n)
    single = np.flatnonzero(conflicting & (counts == 1))
    on_file = people.arrival[single] != NO_DATE
    lo = np.where(on_file, people.arrival[single], first[single] - years(1))
    lo = np.minimum(lo, latest[single] - 1)
    rows.add(
        single,
        date=uniform_int(rng, lo, latest[single] - 1),
        decision=INFORMATION,
        category=CASEWORK,
        postcode_now=0,
        alt_dob=1,
    )
    built = rows.build()
    person, date = built["person"], built["date"]
    order = np.lexsort((rng.random(len(person)), date, people.number[person]))
    earliest_row = np.zeros(len(person), dtype=bool)
    p_sorted = person[order]
    starts = np.r_[True, p_sorted[1:] != p_sorted[:-1]]
    earliest_row[order[starts]] = True
    multi = conflicting[person] & (counts[person] >= 2) & earliest_row
    built["alt_dob"] = np.where(multi | (built["alt_dob"] == 1), 1, 0)

    # Decisions carry the current address unless a newer one came by information.
    pc_is_now = built["postcode_now"] == 1
    pc_is_now &= ~(moved_by_info[person] & (built["decision"] != INFORMATION))
    built["postcode_now"] = pc_is_now.astype(np.int64)

    # Number the rows in date order (case ids run with time, as a caseworking system's do).
    final = np.lexsort((rng.random(len(person)), date))
    built = {k: v[final] for k, v in built.items()}
    return History(rows=built, first=first, latest=latest, refused=refused)


def alternative_dob(rng: np.random.Generator, dob: Days) -> Days:
    """The other date of birth a faulty record carries: day and month swapped when that
    makes a different valid date, else a date off by up to about a year."""
    swapped, swappable = day_month_swapped(dob)
    off = dob + rng.choice([-1, 1], size=len(dob)) * uniform_int(rng, 1, 400, len(dob))
    return np.where(swappable, swapped, off)


def dob_columns(rng: np.random.Generator, people: People, rows: dict[str, IntArray]) -> Days:
    """Each row's date of birth: the person's, another for the faulty row, none for no_dob."""
    person = rows["person"]
    out = people.ident.dob[person]
    alt = np.flatnonzero(rows["alt_dob"] == 1)
    out[alt] = alternative_dob(rng, out[alt])
    return np.where(people.quality[person] == NO_DOB, NO_DATE, out)


def build_events(rng: np.random.Generator, people: People, as_of: int) -> dict[str, IntArray]:
    """What arrives after the run, dated after the as-of date.

    Overturned refusals get their ``decision_overturned`` or ``leave_granted``; Windrush
    people bring evidence and open disputes; some overstayers leave or dispute; some
    faulty records are corrected.  ``param`` feeds the detail text (a year).
    """
    A = as_of
    person: list[IntArray] = []
    etype: list[IntArray] = []
    date: list[IntArray] = []
    param: list[IntArray] = []

    def add(idx: IntArray, t: npt.ArrayLike, d: Days, p: npt.ArrayLike = 0) -> None:
        person.append(idx)
        etype.append(np.broadcast_to(np.asarray(t, dtype=np.int64), idx.shape).copy())
        date.append(d)
        param.append(np.broadcast_to(np.asarray(p, dtype=np.int64), idx.shape).copy())

    arrived = np.where(people.arrival != NO_DATE, people.arrival, 0)
    year_of = arrived.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    idx = np.flatnonzero(people.kind == K["overturned"])
    m = len(idx)
    when = A + uniform_int(rng, 2, 120, m)
    evidence = rng.random(m) < 0.3
    add(
        idx[evidence],
        E[EventType.EVIDENCE_RECEIVED],
        uniform_int(rng, A + 1, when[evidence] - 1),
        0,
    )
    add(
        idx,
        np.where(rng.random(m) < 0.6, E[EventType.DECISION_OVERTURNED], E[EventType.LEAVE_GRANTED]),
        when,
    )

    idx = np.flatnonzero(people.kind == K["windrush"])
    m = len(idx)
    ev = rng.random(m) < 0.6
    add(
        idx[ev],
        E[EventType.EVIDENCE_RECEIVED],
        A + uniform_int(rng, 1, 90, int(ev.sum())),
        year_of[idx[ev]],
    )
    dis = rng.random(m) < 0.3
    add(idx[dis], E[EventType.DISPUTE_OPENED], A + uniform_int(rng, 1, 60, int(dis.sum())))

    idx = np.flatnonzero(people.kind == K["overstayer"])
    m = len(idx)
    left = rng.random(m) < 0.04
    add(idx[left], E[EventType.DEPARTURE_RECORDED], A + uniform_int(rng, 1, 120, int(left.sum())))
    dis = rng.random(m) < 0.03
    opened = A + uniform_int(rng, 1, 60, int(dis.sum()))
    add(idx[dis], E[EventType.DISPUTE_OPENED], opened)
    resolved = rng.random(int(dis.sum())) < 0.5
    add(
        idx[dis][resolved],
        E[EventType.DISPUTE_RESOLVED],
        opened[resolved] + uniform_int(rng, 1, 60, int(resolved.sum())),
    )

    idx = np.flatnonzero(people.quality == CONFLICTING_DOB)
    fix = rng.random(len(idx)) < 0.5
    add(idx[fix], E[EventType.RECORD_CORRECTED], A + uniform_int(rng, 1, 90, int(fix.sum())))

    p = np.concatenate(person) if person else np.zeros(0, dtype=np.int64)
    d = np.concatenate(date) if date else np.zeros(0, dtype=np.int64)
    order = np.lexsort((rng.random(len(p)), d))
    return {
        "person": p[order],
        "type": np.concatenate(etype)[order],
        "date": d[order],
        "param": np.concatenate(param)[order],
    }


EVENT_DETAIL_SQL = f"""CASE event_type
    WHEN {sql_word(EventType.DECISION_OVERTURNED)} THEN 'Refusal withdrawn on reconsideration'
    WHEN {sql_word(EventType.LEAVE_GRANTED)} THEN 'Leave granted on further submissions'
    WHEN {sql_word(EventType.DEPARTURE_RECORDED)} THEN 'Embarkation check recorded the departure'
    WHEN {sql_word(EventType.EVIDENCE_RECEIVED)} THEN CASE WHEN param > 0
        THEN 'School records from ' || param::VARCHAR || ' to ' || (param + 9)::VARCHAR
        ELSE 'New evidence submitted by the person''s representative' END
    WHEN {sql_word(EventType.RECORD_CORRECTED)} THEN 'Date of birth corrected from the passport'
    WHEN {sql_word(EventType.DISPUTE_OPENED)} THEN 'The person disputes the decision'
    WHEN {sql_word(EventType.DISPUTE_RESOLVED)} THEN 'Dispute closed after review'
END"""
