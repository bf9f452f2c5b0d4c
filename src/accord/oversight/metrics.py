"""Every figure of the oversight report, computed by aggregate SQL over the governance tables.

Auditors once found that nobody had counted how many people were refused services (F11).
Each figure here is one ``GROUP BY`` query over the tables Accord writes as it works, so the
report, the web dashboard and an auditor with a SQL prompt all get the same numbers: no
figure is kept anywhere else, and none is computed by reading every row into Python.  Each
group of figures says which table it comes from and what the query means (``source``).

``as_of`` is the day from which ages are measured (a person's age band, how long a review
item or an outstanding remedy has waited); the counts are the database as it stands.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any, Final

from pydantic import BaseModel, ConfigDict
from sqlalchemy import (
    Connection,
    Date,
    case,
    distinct,
    func,
    literal,
    select,
    text,
)
from sqlalchemy.sql.elements import ColumnElement

from accord import audit, vocab
from accord.formats.schema import ADVERSE_ACTIONS, REVERSAL_ACTIONS
from accord.linkage.labels import OversightLabels, oversight_labels
from accord.remedy import unacknowledged_in
from accord.store import db
from accord.store.dialect import Dialect, dialect_of
from accord.store.models import (
    AuditSample,
    Disclosure,
    FirewallRefusal,
    LedgerLeaf,
    Pause,
    Person,
    PoolEntry,
    Recall,
    RecipientAction,
    ReviewItem,
    TreeHead,
    as_utc,
    utcnow,
)
from accord.vocab import DisclosureStatus, ItemStatus, RemedyStatus

SUPPRESS_BELOW: Final = 5
"""Cohort cells counting 1 to 4 are suppressed (statistical disclosure control)."""

SUPPRESSION_RULE: Final = (
    f"In the tables of impact by cohort, a count from 1 to {SUPPRESS_BELOW - 1} is shown as "
    f"'<{SUPPRESS_BELOW}', so that no small group of people can be singled out. Where only one "
    "count in a column would be hidden, the next smallest count is hidden too, so that the "
    "hidden one cannot be worked out from the column's total. Zero is shown as 0."
)

AGE_BANDS: Final = (
    ("under 18", None, 18),
    ("18 to 29", 18, 30),
    ("30 to 44", 30, 45),
    ("45 to 59", 45, 60),
    ("60 to 74", 60, 75),
    ("75 and over", 75, None),
)
ARRIVAL_ERAS: Final = (
    ("before 1973", None, dt.date(1973, 1, 1)),
    ("1973 to 1999", dt.date(1973, 1, 1), dt.date(2000, 1, 1)),
    ("2000 to 2015", dt.date(2000, 1, 1), dt.date(2016, 1, 1)),
    ("after 2015", dt.date(2016, 1, 1), None),
)
UNKNOWN: Final = "unknown"
AGE_BUCKETS: Final = (("0 to 7 days", 0, 7), ("8 to 30 days", 8, 30), ("31 to 90 days", 31, 90))
OVER_90: Final = "over 90 days"
REMEDY_BUCKETS: Final = (
    ("0 to 7 days", 0, 7),
    ("8 to 14 days", 8, 14),
    ("15 to 30 days", 15, 30),
    ("31 to 60 days", 31, 60),
    ("61 to 90 days", 61, 90),
)


class Figure(BaseModel):
    model_config = ConfigDict(frozen=True)


# --- activity ---------------------------------------------------------------------------------


class MonthlyDisclosures(Figure):
    month: str  # YYYY-MM (UTC)
    agreement_id: str
    recipient: str
    disclosures: int


class MonthlyActions(Figure):
    month: str  # YYYY-MM of action_date
    agreement_id: str
    recipient: str
    action: str
    actions: int


class AgreementActivity(Figure):
    agreement_id: str
    recipient: str
    disclosures: int
    active: int
    recalled: int
    automatic: int  # decided by a rule, no person in the loop
    reviewed: int  # approved by reviewers
    scores: int  # of the disclosures, derived scores (F8), always reviewed for enforcement
    first_disclosed: dt.date | None
    last_disclosed: dt.date | None
    adverse_actions: int
    reversals: int
    no_action: int


class Activity(Figure):
    disclosures: int
    scores: int  # of the disclosures, derived scores
    people: int  # distinct people disclosed about
    actions: int
    adverse_actions: int
    reversals: int
    by_agreement: list[AgreementActivity]
    disclosures_by_month: list[MonthlyDisclosures]
    actions_by_month: list[MonthlyActions]
    source: str = (
        "Table disclosures: rows counted by agreement_id, recipient, status, decided_by "
        "('rule:...' = automatic), score_id (not empty = a derived score) and calendar month "
        "of disclosed_at (UTC). Table "
        "recipient_actions joined to disclosures on disclosure_id: rows counted by "
        "agreement, recipient, action and month of action_date."
    )


# --- the pool ---------------------------------------------------------------------------------


class PoolStatus(Figure):
    status: str
    people: int


class PoolReason(Figure):
    status: str
    reason: str
    people: int


class PoolFigures(Figure):
    people: int
    statuses: list[PoolStatus]
    reasons: list[PoolReason]  # a person with several reasons counts under each
    source: str = (
        "Table pool_entries (one row per person, their current standing): rows counted by "
        "status; and by status and each reason code in the JSON list reasons, so a person "
        "kept out for two reasons counts under both. '(none recorded)' counts entries whose "
        "list is empty."
    )


# --- review -----------------------------------------------------------------------------------


class ReviewKind(Figure):
    kind: str
    open: int
    four_eyes: int  # open items that need two distinct reviewers
    oldest_days: int | None
    median_days: float | None
    approved: int
    rejected: int


class ReviewAge(Figure):
    kind: str
    bucket: str
    items: int


class ReviewFigures(Figure):
    open: int
    by_kind: list[ReviewKind]
    age: list[ReviewAge]
    source: str = (
        "Table review_items: rows counted by kind and status; open items also by the UTC day "
        "of created_at, their age being the days from that day to the report's as-of date."
    )


# --- recalls and remedies ---------------------------------------------------------------------


class RecipientRemedies(Figure):
    recipient: str
    recalls: int
    none_needed: int
    outstanding: int
    remedied: int
    median_days_to_remedy: float | None
    p90_days_to_remedy: float | None
    oldest_outstanding_days: int | None
    unacknowledged: int  # recalls the recipient has not yet acknowledged receiving


class RecallReason(Figure):
    reason: str
    recalls: int


class MonthlyRecalls(Figure):
    month: str
    recipient: str
    recalls: int


class Bucket(Figure):
    bucket: str
    count: int


class RemedyFigures(Figure):
    recalls: int
    none_needed: int
    outstanding: int
    remedied: int
    unacknowledged: int
    median_days_to_remedy: float | None
    p90_days_to_remedy: float | None
    by_recipient: list[RecipientRemedies]
    by_reason: list[RecallReason]
    by_month: list[MonthlyRecalls]
    days_to_remedy: list[Bucket]
    outstanding_age: list[Bucket]
    source: str = (
        "Table recalls: rows counted by recipient, reason, month of recalled_at and "
        "remedy_status (none_needed: no adverse action to undo; outstanding: the recipient's "
        "last action was adverse and is not yet reversed; remedied: reversed); unacknowledged: "
        "acknowledged_at is empty (the recipient has not confirmed it received the recall, so "
        "whether it acted on the disclosure is unknown until it reports). Days to remedy "
        "are whole UTC days from recalled_at to remedied_at; medians and 90th percentiles "
        "interpolate linearly between ranks."
    )


# --- firewall and pauses ----------------------------------------------------------------------


class FirewallCount(Figure):
    agreement_id: str
    field: str  # "(whole disclosure)" when no single field was refused
    data_category: str
    purpose: str
    use: str
    refusals: int


class FirewallFigures(Figure):
    refusals: int
    people: int
    by_agreement: list[FirewallCount]
    source: str = (
        "Table firewall_refusals: rows counted by agreement_id, field, data_category, purpose "
        "and use (matching or disclosure); people is the number of distinct person_id."
    )


class PauseRecord(Figure):
    agreement_id: str
    cohort: str | None  # None: the whole agreement
    reason: str
    paused_by: str
    paused_at: dt.datetime
    resumed_by: str | None
    resumed_at: dt.datetime | None
    resume_reason: str | None
    days: int  # paused for (to the as-of date while still open)


class PauseFigures(Figure):
    open: list[PauseRecord]
    past: list[PauseRecord]
    source: str = (
        "Table pauses: every pause, open (resumed_at empty) or past, with who paused and "
        "resumed it and why."
    )


# --- impact by cohort ------------------------------------------------------------------------


class Cell(Figure):
    """A published count, or ``None`` with ``suppressed`` when it is too small to show."""

    value: int | None
    suppressed: bool = False

    def __str__(self) -> str:
        return f"<{SUPPRESS_BELOW}" if self.suppressed else f"{self.value:,}"


class CohortRow(Figure):
    group: str
    disclosures: Cell
    people: Cell
    adverse_actions: Cell
    people_adversely_affected: Cell
    reversals: Cell


COHORT_MEASURES: Final = (
    "disclosures",
    "people",
    "adverse_actions",
    "people_adversely_affected",
    "reversals",
)


class CohortTable(Figure):
    dimension: str  # age_band | nationality | arrival_era
    title: str
    rows: list[CohortRow]
    source: str


class CohortFigures(Figure):
    age_band: CohortTable
    nationality: CohortTable
    arrival_era: CohortTable
    rule: str = SUPPRESSION_RULE


# --- error rates ------------------------------------------------------------------------------


class StratumEstimate(Figure):
    sample_id: str
    item_kind: str
    stratum: str
    stratum_size: int
    drawn: int
    checked: int
    wrong: int
    rate: float | None
    low: float | None
    high: float | None


class SampleEstimate(Figure):
    sample_id: str
    item_kind: str
    population: int  # sum of the sizes of all its strata
    strata: int
    checked: int
    wrong: int
    rate: float | None
    low: float | None
    high: float | None
    effective_n: float | None
    complete: bool  # every stratum has at least one verdict


class ErrorRateFigures(Figure):
    strata: list[StratumEstimate]
    samples: list[SampleEstimate]
    confidence: float = 0.95
    method: str = (
        "Each stratum: the share of checked items an inspector found wrong, with a 95% Wilson "
        "score interval. Each sample as a whole: the strata weighted by their size (stratified "
        "estimate), with a 95% Wilson interval on the effective sample size 1/sum(W^2/n); no "
        "finite population correction, so the intervals err on the wide side. Items drawn but "
        "not yet checked are left out; a sample with an unchecked stratum is marked partial. "
        "These are the estimates `accord audit` gives (accord.audit.estimate)."
    )
    source: str = (
        "Table audit_samples: rows counted by sample_id, item_kind and stratum, with verdict "
        "'wrong' or 'correct' counted separately; stratum_size is the population the stratum "
        "was drawn from."
    )


# --- reversals and the ledger -----------------------------------------------------------------


class ReversalCount(Figure):
    recipient: str
    action: str
    actions: int


class ReversalFigures(Figure):
    reversals: int
    disclosures_reversed: int  # distinct disclosures with an adverse action and a reversal
    by_recipient: list[ReversalCount]
    source: str = (
        "Table recipient_actions: reversal actions (reinstated, restored, reopened) counted "
        "by recipient and action; disclosures reversed counts distinct disclosure_id that "
        "have both an adverse action and a reversal."
    )


class TreeHeadFigure(Figure):
    tree_size: int
    root_hex: str
    timestamp: dt.datetime
    key_id: str
    signature_hex: str


class LedgerFigures(Figure):
    head: TreeHeadFigure | None
    leaves: int
    disclosure_leaves: int
    recall_leaves: int
    disclosures_under_head: int  # disclosures whose ledger_index the signed head covers
    recalls_under_head: int
    source: str = (
        "Table tree_heads: the signed tree head of largest tree_size. Table ledger_leaves: "
        "leaves counted by kind. Tables disclosures and recalls: rows whose ledger_index is "
        "below the signed head's tree_size, i.e. covered by its signature."
    )


class Headline(Figure):
    disclosures: int
    people_disclosed_about: int
    adverse_actions: int
    reversals: int
    recalls: int
    outstanding_remedies: int
    open_review_items: int
    firewall_refusals: int
    open_pauses: int
    pool_admitted: int


class OversightFigures(Figure):
    as_of: dt.date
    generated_at: dt.datetime
    database: str
    empty: bool  # nothing at all recorded yet
    headline: Headline
    activity: Activity
    pool: PoolFigures
    review: ReviewFigures
    remedies: RemedyFigures
    firewall: FirewallFigures
    pauses: PauseFigures
    cohorts: CohortFigures
    error_rates: ErrorRateFigures
    reversals: ReversalFigures
    ledger: LedgerFigures
    labels: OversightLabels | None = None  # reviewers' decisions as labels (docs/linkage.md)


# --- pure helpers -----------------------------------------------------------------------------


def quantile_of_counts(counts: Iterable[tuple[float, int]], q: float) -> float | None:
    """The ``q`` quantile of a distribution given as (value, how many) pairs.

    Linear interpolation between closest ranks (numpy's default), so a median from a
    ``GROUP BY`` histogram equals the median of the rows themselves.
    """
    if not 0 <= q <= 1:
        raise ValueError("a quantile is between 0 and 1")
    pairs = sorted((v, c) for v, c in counts if c > 0)
    n = sum(c for _, c in pairs)
    if n == 0:
        return None
    pos = (n - 1) * q
    lo_rank, hi_rank = math.floor(pos), math.ceil(pos)

    def at(rank: int) -> float:
        seen = 0
        for value, c in pairs:
            seen += c
            if rank < seen:
                return float(value)
        return float(pairs[-1][0])

    lo = at(lo_rank)
    return lo + (at(hi_rank) - lo) * (pos - lo_rank)


def suppress(values: Sequence[int], threshold: int = SUPPRESS_BELOW) -> list[Cell]:
    """Primary and secondary suppression of one column of counts whose total is published.

    Counts from 1 to ``threshold - 1`` are hidden; if that hides exactly one count, the
    next smallest non-zero count is hidden too, or the column total would give it away.
    """
    hidden = {i for i, v in enumerate(values) if 0 < v < threshold}
    if len(hidden) == 1:
        others = [(v, i) for i, v in enumerate(values) if v > 0 and i not in hidden]
        if others:
            hidden.add(min(others)[1])
    return [
        Cell(value=None, suppressed=True) if i in hidden else Cell(value=v)
        for i, v in enumerate(values)
    ]


def _years_before(day: dt.date, years: int) -> dt.date:
    """The day ``years`` before ``day``; 29 February falls back to 28 February."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def _buckets(
    days: Iterable[tuple[int, int]], bounds: Sequence[tuple[str, int, int]], over: str
) -> list[Bucket]:
    totals: dict[str, int] = {name: 0 for name, _, _ in bounds} | {over: 0}
    for d, n in days:
        d = max(d, 0)
        name = next((b for b, lo, hi in bounds if lo <= d <= hi), over)
        totals[name] += n
    return [Bucket(bucket=k, count=v) for k, v in totals.items()]


# --- SQL the backends spell differently --------------------------------------------------------


def _reasons_query(d: Dialect) -> str:
    """(status, reason, people): distinct reason lists first, so only they are unnested.

    A person with an empty list counts under '(none recorded)'.
    """
    reasons = d.json_text("reasons")
    return (
        f"WITH g AS (SELECT status, {reasons} AS reasons, count(*) AS n "
        f"FROM pool_entries GROUP BY status, {reasons}) "
        f"SELECT g.status, j.value, sum(g.n) FROM g {d.json_array_items('g.reasons', 'j')} "
        "GROUP BY g.status, j.value "
        "UNION ALL SELECT status, '(none recorded)', sum(n) FROM g "
        f"WHERE {d.json_array_length('g.reasons')} = 0 GROUP BY status"
    )


def _flag(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return case((condition, 1), else_=0)


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(_flag(condition)), 0)


_ACTIONS = RecipientAction.__table__
_DISCLOSURES = Disclosure.__table__
_PEOPLE = Person.__table__


# --- the figures ------------------------------------------------------------------------------


def _activity(conn: Connection, sql: Dialect) -> Activity:
    """One scan of disclosures and one of actions, by month; the rest is summed from those."""
    d = Disclosure.__table__.c
    a = RecipientAction.__table__.c
    month = sql.month_of_timestamp(d.disclosed_at).label("month")
    monthly = conn.execute(
        select(
            month,
            d.agreement_id,
            d.recipient,
            func.count(),
            _count_if(d.status == DisclosureStatus.ACTIVE),
            _count_if(d.status == DisclosureStatus.RECALLED),
            _count_if(d.decided_by.like("rule:%")),
            _count_if(d.score_id != ""),
            func.min(d.disclosed_at),
            func.max(d.disclosed_at),
        )
        .group_by(month, d.agreement_id, d.recipient)
        .order_by(month, d.agreement_id, d.recipient)
    ).all()
    amonth = sql.month_of_date(a.action_date).label("month")
    actions_by_month = [
        MonthlyActions(month=r[0], agreement_id=r[1], recipient=r[2], action=r[3], actions=r[4])
        for r in conn.execute(
            select(amonth, d.agreement_id, d.recipient, a.action, func.count())
            .select_from(_ACTIONS.join(_DISCLOSURES, d.disclosure_id == a.disclosure_id))
            .group_by(amonth, d.agreement_id, d.recipient, a.action)
            .order_by(amonth, d.agreement_id, d.recipient, a.action)
        )
    ]
    totals: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * 8)
    first: dict[tuple[str, str], dt.date] = {}
    last: dict[tuple[str, str], dt.date] = {}
    for _, agreement, recipient, n, active, recalled, automatic, scores, lo, hi in monthly:
        key = (agreement, recipient)
        for i, v in enumerate((n, active, recalled, automatic)):
            totals[key][i] += int(v)
        totals[key][7] += int(scores)
        lo_day, hi_day = _utc_day(lo), _utc_day(hi)
        first[key] = min(first.get(key, lo_day), lo_day)
        last[key] = max(last.get(key, hi_day), hi_day)
    for m in actions_by_month:
        key = (m.agreement_id, m.recipient)
        column = 4 if m.action in ADVERSE_ACTIONS else 5 if m.action in REVERSAL_ACTIONS else 6
        if m.action in (*ADVERSE_ACTIONS, *REVERSAL_ACTIONS, "none"):
            totals[key][column] += m.actions
    by_agreement = [
        AgreementActivity(
            agreement_id=key[0],
            recipient=key[1],
            disclosures=t[0],
            active=t[1],
            recalled=t[2],
            automatic=t[3],
            reviewed=t[0] - t[3],
            scores=t[7],
            first_disclosed=first.get(key),
            last_disclosed=last.get(key),
            adverse_actions=t[4],
            reversals=t[5],
            no_action=t[6],
        )
        for key, t in sorted(totals.items())
    ]
    people = conn.execute(select(func.count(distinct(d.person_id)))).scalar_one()
    return Activity(
        disclosures=sum(x.disclosures for x in by_agreement),
        scores=sum(x.scores for x in by_agreement),
        people=people,
        actions=sum(m.actions for m in actions_by_month),
        adverse_actions=sum(x.adverse_actions for x in by_agreement),
        reversals=sum(x.reversals for x in by_agreement),
        by_agreement=by_agreement,
        disclosures_by_month=[
            MonthlyDisclosures(month=r[0], agreement_id=r[1], recipient=r[2], disclosures=r[3])
            for r in monthly
        ],
        actions_by_month=actions_by_month,
    )


def _utc_day(value: dt.datetime) -> dt.date:
    aware = as_utc(value)
    assert aware is not None
    return aware.astimezone(dt.UTC).date()


def _as_date(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _days_before(as_of: dt.date, day: Any) -> int:
    """Whole days from a day a query returned (a date or its ISO text) to ``as_of``."""
    on = _as_date(day)
    assert on is not None
    return (as_of - on).days


def _count_by(
    conn: Connection, group: ColumnElement[Any], status: ColumnElement[Any]
) -> dict[str, dict[str, int]]:
    """How many rows of a table have each ``status`` within each ``group``: {group: {status: n}}."""
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for key, state, n in conn.execute(select(group, status, func.count()).group_by(group, status)):
        counts[key][state] = n
    return counts


def _pool(conn: Connection, sql: Dialect) -> PoolFigures:
    p = PoolEntry.__table__.c
    statuses = [
        PoolStatus(status=r[0], people=r[1])
        for r in conn.execute(
            select(p.status, func.count()).group_by(p.status).order_by(func.count().desc())
        )
    ]
    reasons = [
        PoolReason(status=r[0], reason=str(r[1]), people=int(r[2]))
        for r in conn.execute(text(_reasons_query(sql)))
    ]
    reasons.sort(key=lambda x: (x.status, -x.people, x.reason))
    return PoolFigures(people=sum(s.people for s in statuses), statuses=statuses, reasons=reasons)


def _review(conn: Connection, sql: Dialect, as_of: dt.date) -> ReviewFigures:
    r = ReviewItem.__table__.c
    by_status = _count_by(conn, r.kind, r.status)
    day = sql.utc_day(r.created_at).label("day")
    ages: dict[str, list[tuple[int, int]]] = defaultdict(list)
    four_eyes: dict[str, int] = defaultdict(int)
    for kind, created, n, two in conn.execute(
        select(r.kind, day, func.count(), _count_if(r.approvals_needed >= 2))
        .where(r.status == ItemStatus.OPEN)
        .group_by(r.kind, day)
    ):
        ages[kind].append((max(_days_before(as_of, created), 0), n))
        four_eyes[kind] += int(two)
    kinds = sorted(by_status, key=lambda k: (-by_status[k].get(ItemStatus.OPEN, 0), k))
    by_kind = [
        ReviewKind(
            kind=k,
            open=by_status[k].get(ItemStatus.OPEN, 0),
            four_eyes=four_eyes.get(k, 0),
            oldest_days=max((d for d, _ in ages[k]), default=None),
            median_days=quantile_of_counts(ages[k], 0.5),
            approved=by_status[k].get(ItemStatus.APPROVED, 0),
            rejected=by_status[k].get(ItemStatus.REJECTED, 0),
        )
        for k in kinds
    ]
    age = [
        ReviewAge(kind=k, bucket=b.bucket, items=b.count)
        for k in kinds
        if ages[k]
        for b in _buckets(ages[k], AGE_BUCKETS, OVER_90)
    ]
    return ReviewFigures(open=sum(k.open for k in by_kind), by_kind=by_kind, age=age)


def _remedies(conn: Connection, sql: Dialect, as_of: dt.date) -> RemedyFigures:
    c = Recall.__table__.c
    counts = _count_by(conn, c.recipient, c.remedy_status)
    unacknowledged = {u.recipient: u.recalls for u in unacknowledged_in(conn, as_of)}
    took = sql.days_between(c.remedied_at, c.recalled_at).label("took")
    remedy_days: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for recipient, days, n in conn.execute(
        select(c.recipient, took, func.count())
        .where(c.remedy_status == RemedyStatus.REMEDIED, c.remedied_at.is_not(None))
        .group_by(c.recipient, took)
    ):
        remedy_days[recipient].append((int(days), n))
    day = sql.utc_day(c.recalled_at).label("day")
    waiting: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for recipient, recalled, n in conn.execute(
        select(c.recipient, day, func.count())
        .where(c.remedy_status == RemedyStatus.OUTSTANDING)
        .group_by(c.recipient, day)
    ):
        waiting[recipient].append((_days_before(as_of, recalled), n))
    by_recipient = [
        RecipientRemedies(
            recipient=rc,
            recalls=sum(counts[rc].values()),
            none_needed=counts[rc].get(RemedyStatus.NONE_NEEDED, 0),
            outstanding=counts[rc].get(RemedyStatus.OUTSTANDING, 0),
            remedied=counts[rc].get(RemedyStatus.REMEDIED, 0),
            median_days_to_remedy=quantile_of_counts(remedy_days[rc], 0.5),
            p90_days_to_remedy=quantile_of_counts(remedy_days[rc], 0.9),
            oldest_outstanding_days=max((d for d, _ in waiting[rc]), default=None),
            unacknowledged=unacknowledged.get(rc, 0),
        )
        for rc in sorted(counts)
    ]
    all_days = [x for rc in remedy_days for x in remedy_days[rc]]
    month = sql.month_of_timestamp(c.recalled_at).label("month")
    return RemedyFigures(
        recalls=sum(x.recalls for x in by_recipient),
        none_needed=sum(x.none_needed for x in by_recipient),
        outstanding=sum(x.outstanding for x in by_recipient),
        remedied=sum(x.remedied for x in by_recipient),
        unacknowledged=sum(x.unacknowledged for x in by_recipient),
        median_days_to_remedy=quantile_of_counts(all_days, 0.5),
        p90_days_to_remedy=quantile_of_counts(all_days, 0.9),
        by_recipient=by_recipient,
        by_reason=[
            RecallReason(reason=r[0], recalls=r[1])
            for r in conn.execute(
                select(c.reason, func.count())
                .group_by(c.reason)
                .order_by(func.count().desc(), c.reason)
            )
        ],
        by_month=[
            MonthlyRecalls(month=r[0], recipient=r[1], recalls=r[2])
            for r in conn.execute(
                select(month, c.recipient, func.count())
                .group_by(month, c.recipient)
                .order_by(month, c.recipient)
            )
        ],
        days_to_remedy=_buckets(all_days, REMEDY_BUCKETS, OVER_90) if all_days else [],
        outstanding_age=(
            _buckets([x for rc in waiting for x in waiting[rc]], AGE_BUCKETS, OVER_90)
            if waiting
            else []
        ),
    )


def _firewall(conn: Connection) -> FirewallFigures:
    f = FirewallRefusal.__table__.c
    field = func.coalesce(f.field, "(whole disclosure)")
    rows = [
        FirewallCount(
            agreement_id=r[0],
            field=r[1],
            data_category=r[2],
            purpose=r[3],
            use=r[4],
            refusals=r[5],
        )
        for r in conn.execute(
            select(f.agreement_id, field, f.data_category, f.purpose, f.use, func.count())
            .group_by(f.agreement_id, field, f.data_category, f.purpose, f.use)
            .order_by(func.count().desc(), f.agreement_id, field)
        )
    ]
    people = conn.execute(select(func.count(distinct(f.person_id)))).scalar_one()
    return FirewallFigures(refusals=sum(r.refusals for r in rows), people=people, by_agreement=rows)


def _pauses(conn: Connection, as_of: dt.date) -> PauseFigures:
    p = Pause.__table__.c
    records: list[PauseRecord] = []
    for r in conn.execute(select(Pause.__table__).order_by(p.paused_at, p.id)):
        paused_at = as_utc(r.paused_at)
        resumed_at = as_utc(r.resumed_at)
        assert paused_at is not None
        end = resumed_at.date() if resumed_at is not None else as_of
        records.append(
            PauseRecord(
                agreement_id=r.agreement_id,
                cohort=r.cohort,
                reason=r.reason,
                paused_by=r.paused_by,
                paused_at=paused_at,
                resumed_by=r.resumed_by,
                resumed_at=resumed_at,
                resume_reason=r.resume_reason,
                days=max((end - paused_at.date()).days, 0),
            )
        )
    return PauseFigures(
        open=[x for x in records if x.resumed_at is None],
        past=[x for x in records if x.resumed_at is not None],
    )


def _age_band(dob: Any, as_of: dt.date) -> ColumnElement[str]:
    whens: list[tuple[ColumnElement[bool], str]] = [(dob.is_(None), UNKNOWN)]
    for name, _, upper in AGE_BANDS:
        if upper is not None:
            # younger than ``upper`` on the as-of day: born after the day ``upper`` years before
            whens.append((dob > literal(_years_before(as_of, upper), Date), name))
    return case(*whens, else_=literal(AGE_BANDS[-1][0]))


def _arrival_era(arrival: Any) -> ColumnElement[str]:
    whens: list[tuple[ColumnElement[bool], str]] = [(arrival.is_(None), UNKNOWN)]
    for name, _, upper in ARRIVAL_ERAS:
        if upper is not None:
            whens.append((arrival < literal(upper, Date), name))
    return case(*whens, else_=literal(ARRIVAL_ERAS[-1][0]))


_COHORT_SOURCE = (
    "Table disclosures, left-joined to people on person_id; table recipient_actions (adverse: "
    "revoked, stopped, closed, refused; reversals: reinstated, restored, reopened) joined to "
    "disclosures on disclosure_id and so to people; counted by {meaning}."
)


def _cohort_table(
    dimension: str,
    title: str,
    index: int,
    cells: dict[tuple[str, str, str], list[int]],
    order: Sequence[str] | None,
    meaning: str,
) -> CohortTable:
    """One dimension's margin of the joint (age band, nationality, arrival era) counts.

    Summing distinct people across cells is exact because the cell is a function of the
    person: nobody is counted in two cells.
    """
    found: dict[str, list[int]] = defaultdict(lambda: [0] * len(COHORT_MEASURES))
    for key, values in cells.items():
        margin = found[key[index]]
        for i, v in enumerate(values):
            margin[i] += v
    if order is None:  # largest groups first, unknown last
        groups = sorted(found, key=lambda g: (g == UNKNOWN, -found[g][0], g))
    else:
        groups = list(order)
    matrix = [found.get(g, [0] * len(COHORT_MEASURES)) for g in groups]
    columns = [suppress([row[i] for row in matrix]) for i in range(len(COHORT_MEASURES))]
    return CohortTable(
        dimension=dimension,
        title=title,
        rows=[
            CohortRow(group=g, **{m: columns[i][j] for i, m in enumerate(COHORT_MEASURES)})
            for j, g in enumerate(groups)
        ],
        source=_COHORT_SOURCE.format(meaning=meaning),
    )


def _cohorts(conn: Connection, as_of: dt.date) -> CohortFigures:
    """Two aggregate queries (disclosures, actions) over the joint cohort cells."""
    d = Disclosure.__table__.c
    a = RecipientAction.__table__.c
    pe = Person.__table__.c
    age = _age_band(pe.date_of_birth, as_of).label("age")
    nationality = func.coalesce(pe.nationality, UNKNOWN).label("nationality")
    era = _arrival_era(pe.arrival_date).label("era")
    with_people = _DISCLOSURES.outerjoin(_PEOPLE, pe.person_id == d.person_id)
    cells: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0] * len(COHORT_MEASURES))
    for g_age, g_nat, g_era, n, people in conn.execute(
        select(age, nationality, era, func.count(), func.count(distinct(d.person_id)))
        .select_from(with_people)
        .group_by(age, nationality, era)
    ):
        cells[(g_age, g_nat, g_era)][0:2] = [int(n), int(people)]
    adverse = a.action.in_(ADVERSE_ACTIONS)
    for g_age, g_nat, g_era, harmful, harmed, reversals in conn.execute(
        select(
            age,
            nationality,
            era,
            _count_if(adverse),
            func.count(distinct(case((adverse, d.person_id), else_=None))),
            _count_if(a.action.in_(REVERSAL_ACTIONS)),
        )
        .select_from(_ACTIONS.join(with_people, d.disclosure_id == a.disclosure_id))
        .group_by(age, nationality, era)
    ):
        cells[(g_age, g_nat, g_era)][2:5] = [int(harmful), int(harmed), int(reversals)]
    return CohortFigures(
        age_band=_cohort_table(
            "age_band",
            "Age on the as-of date",
            0,
            cells,
            [b[0] for b in AGE_BANDS] + [UNKNOWN],
            f"age band of people.date_of_birth on {as_of.isoformat()}",
        ),
        nationality=_cohort_table(
            "nationality",
            "Nationality",
            1,
            cells,
            None,
            "people.nationality (ISO 3166-1 alpha-3)",
        ),
        arrival_era=_cohort_table(
            "arrival_era",
            "Arrival era",
            2,
            cells,
            [e[0] for e in ARRIVAL_ERAS] + [UNKNOWN],
            "era of people.arrival_date (earliest recorded arrival)",
        ),
    )


def _error_rates(conn: Connection, url: str) -> ErrorRateFigures:
    """Per stratum and per sample, by `accord.audit`'s estimator, so both always agree."""
    s = AuditSample.__table__.c
    samples = [
        r[0] for r in conn.execute(select(s.sample_id).group_by(s.sample_id).order_by(s.sample_id))
    ]
    strata: list[StratumEstimate] = []
    whole: list[SampleEstimate] = []
    for sample_id in samples:
        est = audit.estimate(url, sample_id)
        strata += [
            StratumEstimate(
                sample_id=sample_id,
                item_kind=est.item_kind,
                stratum=st.stratum,
                stratum_size=st.population,
                drawn=st.sampled,
                checked=st.verified,
                wrong=st.wrong,
                rate=st.rate,
                low=st.low,
                high=st.high,
            )
            for st in est.strata
        ]
        o = est.overall
        whole.append(
            SampleEstimate(
                sample_id=sample_id,
                item_kind=est.item_kind,
                population=o.population,
                strata=len(est.strata),
                checked=o.verified,
                wrong=o.wrong,
                rate=o.rate,
                low=o.low,
                high=o.high,
                effective_n=est.effective_n,
                complete=est.complete,
            )
        )
    return ErrorRateFigures(strata=strata, samples=whole)


def _reversals(conn: Connection) -> ReversalFigures:
    a = RecipientAction.__table__.c
    by_recipient = [
        ReversalCount(recipient=r[0], action=r[1], actions=r[2])
        for r in conn.execute(
            select(a.recipient, a.action, func.count())
            .where(a.action.in_(REVERSAL_ACTIONS))
            .group_by(a.recipient, a.action)
            .order_by(a.recipient, a.action)
        )
    ]
    both = (
        select(a.disclosure_id)
        .group_by(a.disclosure_id)
        .having(
            _count_if(a.action.in_(ADVERSE_ACTIONS)) > 0,
            _count_if(a.action.in_(REVERSAL_ACTIONS)) > 0,
        )
        .subquery()
    )
    reversed_ = conn.execute(select(func.count()).select_from(both)).scalar_one()
    return ReversalFigures(
        reversals=sum(r.actions for r in by_recipient),
        disclosures_reversed=reversed_,
        by_recipient=by_recipient,
    )


def _ledger(conn: Connection) -> LedgerFigures:
    t = TreeHead.__table__.c
    head_row = conn.execute(
        select(TreeHead.__table__).order_by(t.tree_size.desc()).limit(1)
    ).first()
    head = (
        None
        if head_row is None
        else TreeHeadFigure(
            tree_size=head_row.tree_size,
            root_hex=bytes(head_row.root_hash).hex(),
            timestamp=dt.datetime.fromtimestamp(head_row.timestamp_ms / 1000, dt.UTC),
            key_id=head_row.key_id,
            signature_hex=bytes(head_row.signature).hex(),
        )
    )
    lv = LedgerLeaf.__table__.c
    kinds: dict[str, int] = {
        k: n for k, n in conn.execute(select(lv.kind, func.count()).group_by(lv.kind))
    }
    size = head.tree_size if head else 0
    d = Disclosure.__table__.c
    rc = Recall.__table__.c
    return LedgerFigures(
        head=head,
        leaves=sum(kinds.values()),
        disclosure_leaves=kinds.get("disclosure", 0),
        recall_leaves=kinds.get("recall", 0),
        disclosures_under_head=conn.execute(
            select(func.count()).where(d.ledger_index < size)
        ).scalar_one(),
        recalls_under_head=conn.execute(
            select(func.count()).where(rc.ledger_index < size)
        ).scalar_one(),
    )


def collect(url: str, as_of: dt.date) -> OversightFigures:
    """Every figure of the oversight report, read in one transaction (one consistent view)."""
    db.require_schema(url)
    with db.connect(url) as conn:
        sql = dialect_of(conn)
        sql.read_only_snapshot(conn)
        activity = _activity(conn, sql)
        pool = _pool(conn, sql)
        review = _review(conn, sql, as_of)
        remedies = _remedies(conn, sql, as_of)
        firewall = _firewall(conn)
        pauses = _pauses(conn, as_of)
        cohorts = _cohorts(conn, as_of)
        error_rates = _error_rates(conn, url)
        reversals = _reversals(conn)
        ledger = _ledger(conn)
        labels = oversight_labels(conn)
    empty = not (
        activity.disclosures
        or activity.actions
        or pool.people
        or review.by_kind
        or remedies.recalls
        or firewall.refusals
        or pauses.open
        or pauses.past
        or error_rates.strata
        or ledger.leaves
        or ledger.head
    )
    admitted = sum(s.people for s in pool.statuses if s.status == vocab.PoolStatus.ADMITTED)
    return OversightFigures(
        as_of=as_of,
        generated_at=utcnow().replace(microsecond=0),
        database=db.describe(url),
        empty=empty,
        headline=Headline(
            disclosures=activity.disclosures,
            people_disclosed_about=activity.people,
            adverse_actions=activity.adverse_actions,
            reversals=reversals.reversals,
            recalls=remedies.recalls,
            outstanding_remedies=remedies.outstanding,
            open_review_items=review.open,
            firewall_refusals=firewall.refusals,
            open_pauses=len(pauses.open),
            pool_admitted=admitted,
        ),
        activity=activity,
        pool=pool,
        review=review,
        remedies=remedies,
        firewall=firewall,
        pauses=pauses,
        cohorts=cohorts,
        error_rates=error_rates,
        reversals=reversals,
        ledger=ledger,
        labels=labels,
    )
