"""What the screens and the API show, read from the governance tables.

These are read models only: every decision and change goes through the services the
command line uses (`accord.review`, `accord.events`, `accord.remedy`,
`accord.policy.pauses`, `accord.rights`).  Each function that returns personal data
writes its audit entries in the caller's transaction, so a read and its record in the
audit log stand or fall together.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Connection,
    Executable,
    Integer,
    Text,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    tuple_,
    union_all,
)

from accord import auditlog, personfile
from accord.review import FREEZE_KINDS, MATCH_KINDS
from accord.store.models import (
    Agreement,
    AgreementVersion,
    AuditLog,
    CaseDecision,
    Disclosure,
    Event,
    Freeze,
    Match,
    Pause,
    Person,
    PoolEntry,
    Recall,
    RecipientAction,
    ReviewDecision,
    ReviewItem,
    User,
    as_utc,
)
from accord.vocab import Decision, DisclosureStatus, EventType, ItemStatus, RemedyStatus
from accord.web import words

MAX_PAGE = 500


def _row(r: Any) -> dict[str, Any]:
    out = dict(r._mapping)
    for k, v in out.items():
        if isinstance(v, dt.datetime):
            out[k] = as_utc(v)
    return out


def _rows(conn: Connection, query: Executable) -> list[dict[str, Any]]:
    return [_row(r) for r in conn.execute(query)]


def _actions_about(conn: Connection, person_id: str) -> list[dict[str, Any]]:
    """What recipients reported doing on the disclosures about one person, in order."""
    return _rows(
        conn,
        select(
            RecipientAction.disclosure_id,
            RecipientAction.recipient,
            RecipientAction.action,
            RecipientAction.action_date,
        )
        .join(Disclosure, Disclosure.disclosure_id == RecipientAction.disclosure_id)
        .where(Disclosure.person_id == person_id)
        .order_by(RecipientAction.action_date, RecipientAction.id),
    )


def _about(
    conn: Connection,
    model: Any,
    person_id: str,
    columns: Sequence[Any] = (),
    order_by: Sequence[Any] = (),
) -> list[dict[str, Any]]:
    """One person's rows of ``model``'s table (``columns`` of them, else all), by ``order_by``."""
    query = select(*columns or [model.__table__]).where(model.person_id == person_id)
    return _rows(conn, query.order_by(*order_by))


def _one_about(
    conn: Connection, model: Any, person_id: str, *columns: Any
) -> dict[str, Any] | None:
    """A person's one row of ``model``'s table (their record, their pool entry), if any."""
    query = select(*columns or [model.__table__]).where(model.person_id == person_id)
    row = conn.execute(query).first()
    return _row(row) if row is not None else None


def _cases(conn: Connection, person_id: str) -> list[dict[str, Any]]:
    """A person's case decisions, oldest first."""
    return _about(
        conn,
        CaseDecision,
        person_id,
        order_by=[CaseDecision.decision_date, CaseDecision.case_id],
    )


def audit_read(
    conn: Connection,
    actor: str,
    action: str,
    people: Sequence[str],
    refs: Sequence[str],
    via: str,
) -> None:
    """One audit entry for one read, naming every person whose data it showed.

    A page of a batch shows a hundred people: one entry per read (not per person) keeps
    the audit write to one row per request, while ``detail.people`` still lets anyone
    find every read of one person's data.  ``person_id`` is set when the read showed
    exactly one person, so per-person reads stay indexed.
    """
    unique = sorted(set(people))
    auditlog.log(
        conn,
        actor,
        action,
        unique[0] if len(unique) == 1 else None,
        people=unique,
        refs=list(refs),
        via=via,
    )


# --- review ----------------------------------------------------------------------------

SORTS = {
    "oldest": "oldest first",
    "newest": "newest first",
    "least_certain": "least certain match first",
}


@dataclass(frozen=True, slots=True)
class QueueItem:
    """One row of the review queue (attributes, not a dict: templates read them cheaply)."""

    item_id: str
    kind: str
    person_id: str
    record_id: str | None
    agreement_id: str | None
    reason: str
    status: str
    approvals: int
    approvals_needed: int
    created_at: dt.datetime
    family_name: str | None = None
    given_names: str | None = None
    # The match's chance; None where there is none, or where the agreement reviews blind
    # and the reader has not yet decided the item (``blind`` is then True).
    probability: float | None = None
    mine: str | None = None  # the reader's own decision on it (approve | reject), if any
    blind: bool = False


@dataclass(frozen=True)
class QueueFilter:
    """What the workbench's queue shows: by default every open item waiting for the reader."""

    kind: str | None = None
    agreement: str | None = None
    waiting_for_me: bool = True
    older_than_days: int | None = None
    sort: str = "oldest"
    search: str | None = None

    def query(self) -> dict[str, str]:
        """The filter as query parameters (only those that differ from the default)."""
        out: dict[str, str] = {}
        if self.kind:
            out["kind"] = self.kind
        if self.agreement:
            out["agreement"] = self.agreement
        if not self.waiting_for_me:
            out["show"] = "all"
        if self.older_than_days:
            out["older_than"] = str(self.older_than_days)
        if self.sort != "oldest":
            out["sort"] = self.sort
        if self.search:
            out["q"] = self.search
        return out


@dataclass(frozen=True)
class QueuePage:
    items: list[QueueItem]
    next_after: str | None
    open_by_kind: dict[str, int]
    agreements: list[str] = field(default_factory=list)  # to filter by
    decided_today: int = 0  # by the reader, since midnight UTC


# Each review item's approvals so far, as a correlated subquery: counted in the reading
# query itself (one statement, not two); the queue and the oversight list both use it.
APPROVALS = (
    select(func.count())
    .where(
        ReviewDecision.item_id == ReviewItem.item_id, ReviewDecision.decision == Decision.APPROVE
    )
    .correlate(ReviewItem)
    .scalar_subquery()
)
_MINE = (
    select(ReviewDecision.decision)
    .where(ReviewDecision.item_id == ReviewItem.item_id, ReviewDecision.reviewer == bindparam("me"))
    .correlate(ReviewItem)
    .limit(1)
    .scalar_subquery()
)
_DECIDED_BY_ME = (
    select(ReviewDecision.id)
    .where(ReviewDecision.item_id == ReviewItem.item_id, ReviewDecision.reviewer == bindparam("me"))
    .correlate(ReviewItem)
    .exists()
)
# The least certain first: by the match's chance (items with none last), never by the
# chance of an item its agreement reviews blind (that would tell the score by the order).
_CERTAINTY = func.coalesce(
    case(
        (ReviewItem.agreement_id.in_(bindparam("blind", expanding=True)), None),
        else_=Match.match_probability,
    ),
    2.0,
)


@functools.cache
def _queue_query(
    by_status: bool,
    by_kind: bool,
    paged: bool,
    *,
    by_agreement: bool = False,
    waiting: bool = False,
    older: bool = False,
    sort: str = "oldest",
    search: bool = False,
) -> Executable:
    """The queue page query for one combination of filters, built once (a hot path)."""
    query = (
        select(
            ReviewItem.item_id,
            ReviewItem.kind,
            ReviewItem.person_id,
            ReviewItem.record_id,
            ReviewItem.agreement_id,
            ReviewItem.reason,
            ReviewItem.status,
            APPROVALS,
            ReviewItem.approvals_needed,
            ReviewItem.created_at,
            Person.family_name,
            Person.given_names,
            Match.match_probability,
            null() if waiting else _MINE,
        )
        .outerjoin(Person, Person.person_id == ReviewItem.person_id)
        .outerjoin(Match, Match.id == ReviewItem.match_id)
    )
    if by_status:
        query = query.where(ReviewItem.status == bindparam("status"))
    if by_kind:
        query = query.where(ReviewItem.kind == bindparam("kind"))
    if by_agreement:
        query = query.where(ReviewItem.agreement_id == bindparam("agreement"))
    if waiting:
        query = query.where(~_DECIDED_BY_ME)
    if older:
        query = query.where(ReviewItem.created_at <= bindparam("created_before"))
    if search:
        q: Any = bindparam("q")
        query = query.where(
            or_(
                ReviewItem.item_id == q,
                ReviewItem.person_id == q,
                ReviewItem.record_id == q,
                func.lower(Person.family_name) == func.lower(q),
            )
        )
    if sort == "newest":
        if paged:
            query = query.where(
                tuple_(ReviewItem.created_at, ReviewItem.item_id)
                < tuple_(bindparam("cursor"), bindparam("after"))
            )
        query = query.order_by(ReviewItem.created_at.desc(), ReviewItem.item_id.desc())
    elif sort == "least_certain":
        if paged:
            query = query.where(
                tuple_(_CERTAINTY, ReviewItem.created_at, ReviewItem.item_id)
                > tuple_(bindparam("cursor_key"), bindparam("cursor"), bindparam("after"))
            )
        query = query.order_by(_CERTAINTY, ReviewItem.created_at, ReviewItem.item_id)
    else:
        if paged:
            query = query.where(
                or_(
                    ReviewItem.created_at > bindparam("cursor"),
                    and_(
                        ReviewItem.created_at == bindparam("cursor"),
                        ReviewItem.item_id > bindparam("after"),
                    ),
                )
            )
        query = query.order_by(ReviewItem.created_at, ReviewItem.item_id)
    return query.limit(bindparam("limit", type_=Integer))


# An agreement's current version, to join agreement_versions on.
_CURRENT_VERSION = and_(
    AgreementVersion.agreement_id == Agreement.agreement_id,
    AgreementVersion.version == Agreement.current_version,
)
# Every agreement, and whether its reviewers review blind (its current version's
# ``review.blind``): the queue's filter and what it may show.
_BLIND = AgreementVersion.document["review"]["blind"].as_boolean()
_AGREEMENTS_BLIND = (
    select(Agreement.agreement_id, _BLIND)
    .join(AgreementVersion, _CURRENT_VERSION)
    .order_by(Agreement.agreement_id)
)
# What the queue page needs besides its rows, in one statement (a hot path): the open
# items by kind (``k``), the reader's decisions today (``t``) and each agreement with
# whether it reviews blind (``a``).
_QUEUE_META = union_all(
    select(literal("k"), ReviewItem.kind, func.count())
    .where(ReviewItem.status == ItemStatus.OPEN)
    .group_by(ReviewItem.kind),
    select(literal("t"), literal(""), func.count()).where(
        ReviewDecision.reviewer == bindparam("me"),
        ReviewDecision.decided_at >= bindparam("midnight"),
    ),
    select(literal("a"), Agreement.agreement_id, case((_BLIND, 1), else_=0)).join(
        AgreementVersion, _CURRENT_VERSION
    ),
)
_CURSOR = select(ReviewItem.created_at).where(ReviewItem.item_id == bindparam("after"))
_CURSOR_KEY = (
    select(_CERTAINTY, ReviewItem.created_at)
    .outerjoin(Match, Match.id == ReviewItem.match_id)
    .where(ReviewItem.item_id == bindparam("after"))
)


def _bound(f: QueueFilter) -> dict[str, Any]:
    """The values ``f``'s filters bind in :func:`_queue_query`'s statement."""
    params: dict[str, Any] = {}
    if f.kind is not None:
        params["kind"] = f.kind
    if f.agreement is not None:
        params["agreement"] = f.agreement
    if f.older_than_days:
        params["created_before"] = dt.datetime.now(dt.UTC) - dt.timedelta(days=f.older_than_days)
    if f.search:
        params["q"] = f.search
    return params


def _shape(f: QueueFilter) -> dict[str, Any]:
    """Which of :func:`_queue_query`'s statements ``f`` asks for (beside status, kind, page)."""
    return {
        "by_agreement": f.agreement is not None,
        "waiting": f.waiting_for_me,
        "older": bool(f.older_than_days),
        "sort": f.sort if f.sort in SORTS else "oldest",
        "search": bool(f.search),
    }


def _after(
    conn: Connection, f: QueueFilter, after: str, blind: list[str], params: dict[str, Any]
) -> bool:
    """Bind in ``params`` where the page after item ``after`` starts in ``f``'s order;
    False (nothing bound) when there is no such item."""
    if f.sort == "least_certain":
        found = conn.execute(_CURSOR_KEY, {"after": after, "blind": blind}).first()
        if found is None:
            return False
        cursor = found[1]
        params["cursor_key"] = found[0]
    else:
        cursor = conn.execute(_CURSOR, {"after": after}).scalar_one_or_none()
    if cursor is None:
        return False
    params.update(cursor=cursor, after=after)
    return True


def agreements_blind(conn: Connection) -> dict[str, bool]:
    """Each agreement id, and whether its reviewers decide blind (scores withheld)."""
    return {a: bool(b) for a, b in conn.execute(_AGREEMENTS_BLIND)}


def midnight(now: dt.datetime | None = None) -> dt.datetime:
    now = now or dt.datetime.now(dt.UTC)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def review_queue(
    conn: Connection,
    actor: str,
    *,
    kind: str | None = None,
    status: str = ItemStatus.OPEN,
    after: str | None = None,
    limit: int = 50,
    via: str = "web",
    filters: QueueFilter | None = None,
) -> QueuePage:
    """A page of the review queue, oldest first (as `accord review list` orders it) unless
    ``filters`` sorts it otherwise; ``filters`` (the workbench's) also narrows it to the
    items waiting for ``actor``, an agreement, an age or a search."""
    f = filters or QueueFilter(kind=kind, waiting_for_me=False)
    limit = max(1, min(limit, MAX_PAGE))
    counts: dict[str, int] = {}
    agreements: dict[str, bool] = {}
    today = 0
    for what, key, n in conn.execute(_QUEUE_META, {"me": actor, "midnight": midnight()}).all():
        if what == "k":
            counts[key] = int(n)
        elif what == "a":
            agreements[key] = bool(n)
        else:
            today = int(n)
    blind = [a for a, b in agreements.items() if b]
    params: dict[str, Any] = {"limit": limit + 1, "me": actor, "blind": blind, **_bound(f)}
    if status != "all":
        params["status"] = status
    paged = after is not None and _after(conn, f, after, blind, params)
    query = _queue_query(status != "all", f.kind is not None, paged, **_shape(f))
    rows = conn.execute(query, params).all()
    more = len(rows) > limit
    rows = rows[:limit]
    # A blind agreement's chance is withheld from a reader who has not decided the item.
    hide = frozenset(blind) if blind else None
    items = [
        QueueItem(
            item_id, kind_, person_id, record_id, agreement_id, reason, status_,
            approvals or 0, needed, as_utc(created_at), family, given,
            None if hide is not None and agreement_id in hide and mine is None else chance,
            mine, hide is not None and agreement_id in hide and mine is None,
        )
        for (
            item_id, kind_, person_id, record_id, agreement_id, reason, status_, approvals,
            needed, created_at, family, given, chance, mine,
        ) in rows
    ]  # fmt: skip
    # The audit entry last: on SQLite the write lock is then held only for it and the commit.
    if items:
        audit_read(
            conn,
            actor,
            "review_queue_read",
            [i.person_id for i in items],
            [i.item_id for i in items],
            via,
        )
    return QueuePage(items, items[-1].item_id if more else None, counts, sorted(agreements), today)


def review_item(
    conn: Connection, item_id: str, actor: str, via: str = "web"
) -> dict[str, Any] | None:
    """One review item with everything a reviewer weighs: the source record and the
    register record, every rival candidate (the person's other records and the record's
    other people, with their own open items), the match's comparisons, what is at stake
    for a dispute or re-review (disclosures, recipients' actions, values then and now),
    the reasons and the four-eyes state so far.

    Everything, scores included: what a reviewer may see of it before deciding an item
    its agreement reviews blind is :func:`accord.blind.for_reviewer`'s to say.
    """
    item = conn.execute(select(ReviewItem.__table__).where(ReviewItem.item_id == item_id)).first()
    if item is None:
        return None
    decisions = _rows(
        conn,
        select(
            ReviewDecision.reviewer,
            ReviewDecision.decision,
            ReviewDecision.reason,
            ReviewDecision.decided_at,
        )
        .where(ReviewDecision.item_id == item_id)
        .order_by(ReviewDecision.decided_at, ReviewDecision.id),
    )
    person = _one_about(conn, Person, item.person_id)
    cases = _cases(conn, item.person_id)
    match = _item_match(conn, item)
    rivals: list[dict[str, Any]] = []
    if match is not None:
        rivals = _rivals(conn, match, actor)
    people = [item.person_id] + [r["person_id"] for r in rivals]
    pool = _one_about(
        conn, PoolEntry, item.person_id, PoolEntry.status, PoolEntry.reasons, PoolEntry.as_of
    )
    stakes = _stakes(conn, item.person_id) if item.kind in FREEZE_KINDS else None
    approvals = sum(1 for d in decisions if d["decision"] == Decision.APPROVE)
    reviewers = [d["reviewer"] for d in decisions]
    audit_read(conn, actor, "review_item_read", people, [item_id], via)
    detail = {
        "item": _row(item),
        "decisions": decisions,
        "approvals": approvals,
        "approvals_left": max(0, item.approvals_needed - approvals)
        if item.status == ItemStatus.OPEN
        else 0,
        "reviewers": reviewers,
        "person": person,
        "cases": cases,
        "match": _row(match) if match is not None else None,
        "comparisons": comparisons(match.explanation if match is not None else []),
        "other_candidates": [
            {k: r[k] for k in ("person_id", "record_id", "match_probability", "rank", "flags")}
            for r in rivals
        ],
        "rivals": rivals,
        "pool": pool,
        "stakes": stakes,
    }
    return detail


def _item_match(conn: Connection, item: Any) -> Any:
    """The match a review item is about, if any (its own, else the latest for the pair)."""
    if item.match_id is not None:
        return conn.execute(select(Match.__table__).where(Match.id == item.match_id)).first()
    if item.record_id is not None:
        return conn.execute(
            select(Match.__table__)
            .where(Match.person_id == item.person_id, Match.record_id == item.record_id)
            .order_by(Match.id.desc())
            .limit(1)
        ).first()
    return None


def open_rival_items(conn: Connection, item_id: str, actor: str) -> list[str]:
    """The open review items of an item's rival candidates that ``actor`` has not decided
    (no personal data is returned, so nothing is audited)."""
    item = conn.execute(
        select(ReviewItem.match_id, ReviewItem.person_id, ReviewItem.record_id).where(
            ReviewItem.item_id == item_id
        )
    ).first()
    match = _item_match(conn, item) if item is not None else None
    if match is None:
        return []
    return [
        r["item_id"]
        for r in _rivals(conn, match, actor)
        if r["item_id"] and r["item_status"] == ItemStatus.OPEN and not r["decided_by_me"]
    ]


def _rivals(conn: Connection, match: Any, actor: str) -> list[dict[str, Any]]:
    """The other candidates in the same run: the person's other records and the record's
    other people, strongest first, each with its open review item (if any) and whether
    ``actor`` has decided it."""
    rows = _rows(
        conn,
        select(Match.__table__)
        .where(
            Match.run_id == match.run_id,
            Match.register == match.register,
            or_(
                and_(Match.person_id == match.person_id, Match.record_id != match.record_id),
                and_(Match.record_id == match.record_id, Match.person_id != match.person_id),
            ),
        )
        .order_by(Match.match_probability.desc(), Match.id)
        .limit(20),
    )
    if not rows:
        return []
    people = sorted({r["person_id"] for r in rows if r["person_id"] != match.person_id})
    found: dict[str, dict[str, Any]] = {}
    if people:
        found = {
            p["person_id"]: p
            for p in _rows(conn, select(Person.__table__).where(Person.person_id.in_(people)))
        }
    items = {
        (i.person_id, i.record_id): i
        for i in conn.execute(
            select(
                ReviewItem.item_id, ReviewItem.person_id, ReviewItem.record_id, ReviewItem.status
            )
            .where(
                ReviewItem.person_id.in_({r["person_id"] for r in rows}),
                ReviewItem.record_id.in_({r["record_id"] for r in rows}),
                ReviewItem.kind.in_(MATCH_KINDS),
            )
            .order_by(ReviewItem.created_at)
        )
    }
    mine = {
        i
        for (i,) in conn.execute(
            select(ReviewDecision.item_id).where(
                ReviewDecision.item_id.in_([i.item_id for i in items.values()]),
                ReviewDecision.reviewer == actor,
            )
        )
    }
    for r in rows:
        r["same_person"] = r["person_id"] == match.person_id
        r["person"] = found.get(r["person_id"]) if not r["same_person"] else None
        it = items.get((r["person_id"], r["record_id"]))
        r["item_id"] = it.item_id if it is not None else None
        r["item_status"] = it.status if it is not None else None
        r["decided_by_me"] = it is not None and it.item_id in mine
    return rows


def _stakes(conn: Connection, person_id: str) -> dict[str, Any]:
    """What a challenge to a person's record puts at stake: every disclosure about them
    (the fields as sent), what each recipient did, recalls already made and the events
    that opened the challenge."""
    disclosures = _about(
        conn,
        Disclosure,
        person_id,
        [
            Disclosure.disclosure_id,
            Disclosure.agreement_id,
            Disclosure.recipient,
            Disclosure.record_id,
            Disclosure.disclosed_at,
            Disclosure.status,
            Disclosure.fields,
        ],
        [Disclosure.disclosed_at, Disclosure.disclosure_id],
    )
    actions = _actions_about(conn, person_id)
    by_disclosure: dict[str, list[dict[str, Any]]] = {}
    for a in actions:
        by_disclosure.setdefault(a["disclosure_id"], []).append(a)
    for d in disclosures:
        d["actions"] = by_disclosure.get(d["disclosure_id"], [])
    recalls = _about(
        conn,
        Recall,
        person_id,
        [Recall.recall_id, Recall.disclosure_id, Recall.recipient, Recall.reason,
         Recall.recalled_at, Recall.remedy_status],
        [Recall.recalled_at, Recall.recall_id],
    )  # fmt: skip
    events = _about(
        conn,
        Event,
        person_id,
        [Event.event_id, Event.event_type, Event.event_date, Event.detail],
        [Event.event_date, Event.event_id],
    )
    return {"disclosures": disclosures, "recalls": recalls, "events": events}


def next_item(
    conn: Connection, actor: str, current: str | None, filters: QueueFilter
) -> str | None:
    """The next item waiting for ``actor`` after ``current`` in the queue's order (the
    first one when ``current`` is the last), never ``current`` itself."""
    f = QueueFilter(
        kind=filters.kind,
        agreement=filters.agreement,
        waiting_for_me=True,
        older_than_days=filters.older_than_days,
        sort=filters.sort,
        search=filters.search,
    )
    blind = [a for a, b in agreements_blind(conn).items() if b]
    params: dict[str, Any] = {
        "limit": 2, "me": actor, "blind": blind, "status": ItemStatus.OPEN, **_bound(f),
    }  # fmt: skip
    shape = _shape(f)
    if current is not None:
        after = dict(params)
        if _after(conn, f, current, blind, after):
            query = _queue_query(True, f.kind is not None, True, **shape)
            for row in conn.execute(query, after):
                if row[0] != current:
                    return str(row[0])
    query = _queue_query(True, f.kind is not None, False, **shape)
    for row in conn.execute(query, params):
        if row[0] != current:
            return str(row[0])
    return None


def decided_today(conn: Connection, actor: str) -> int:
    return int(
        conn.scalar(
            select(func.count()).where(
                ReviewDecision.reviewer == actor, ReviewDecision.decided_at >= midnight()
            )
        )
        or 0
    )


def _first(entry: Mapping[str, Any], *keys: str) -> Any:
    for k in keys:
        if entry.get(k) is not None:
            return entry[k]
    return None


def comparisons(explanation: Sequence[Any]) -> list[dict[str, Any]]:
    """Each comparison of a match's explanation as ``{name, level, weight, left, right}``.

    Reads the shapes Splink's waterfall and Accord's linkage store use; an entry it
    cannot read is shown as it is rather than dropped.
    """
    out: list[dict[str, Any]] = []
    for entry in explanation:
        if not isinstance(entry, Mapping):
            out.append(
                {"name": str(entry), "level": "", "weight": None, "left": None, "right": None}
            )
            continue
        weight = _first(entry, "match_weight", "log2_bayes_factor", "weight")
        out.append(
            {
                "name": str(
                    _first(entry, "comparison", "column_name", "name", "output_column_name") or ""
                ),
                "level": str(_first(entry, "level", "label", "label_for_charts") or ""),
                "weight": float(weight) if isinstance(weight, int | float) else None,
                "left": _first(entry, "value_l", "value_pool", "left", "ours"),
                "right": _first(entry, "value_r", "value_register", "right", "theirs"),
            }
        )
    return out


# --- a person --------------------------------------------------------------------------


# What the people API shows of each part of the person file: the person, their case
# records, pool entry and pool history whole; of the rest, these columns.
_API_COLUMNS: dict[str, tuple[str, ...]] = {
    "matches": ("id", "run_id", "register", "record_id", "match_probability", "rank", "flags"),
    "review_items": (
        "item_id", "kind", "status", "reason", "record_id", "agreement_id", "created_at",
    ),
    "disclosures": (
        "disclosure_id", "agreement_id", "recipient", "record_id", "match_probability",
        "decided_by", "disclosed_at", "status", "acknowledged_at", "fields",
    ),
    "recalls": (
        "recall_id", "disclosure_id", "recipient", "reason", "recalled_at", "remedy_status",
        "remedied_at", "acknowledged_at",
    ),
    "actions": ("disclosure_id", "recipient", "action", "action_date"),
    "events": ("event_id", "event_type", "event_date", "detail"),
    "freezes": ("reason", "event_id", "opened_at", "lifted_at", "lifted_by"),
}  # fmt: skip


def person_file(
    conn: Connection, person_id: str, actor: str, via: str = "web"
) -> personfile.PersonFile | None:
    """The person file (`accord.personfile`) for a caseworker: None when neither a derived
    person nor a case record has the id; else the read is written to the audit log."""
    found = personfile.read(conn, person_id)
    if found.person is None and not found.cases:
        return None
    auditlog.log(conn, actor, "person_read", person_id, via=via)
    return found


def person(conn: Connection, person_id: str, actor: str, via: str = "web") -> dict[str, Any] | None:
    """Everything Accord holds and did about one person, for a caseworker, as the people
    API shows it: :func:`person_file` as plain values."""
    found = person_file(conn, person_id, actor, via)
    if found is None:
        return None
    whole = personfile.as_dict
    return {
        "person_id": person_id,
        "person": whole(found.person) if found.person is not None else None,
        "cases": [whole(c) for c in found.cases],
        "pool": whole(found.pool) if found.pool is not None else None,
        "pool_history": [whole(h) for h in found.pool_history],
        **{
            part: [whole(row, columns) for row in getattr(found, part)]
            for part, columns in _API_COLUMNS.items()
        },
    }


# --- oversight -------------------------------------------------------------------------


def live_counts(conn: Connection) -> dict[str, Any]:
    """The oversight dashboard's live counts: aggregates only, no personal data."""
    disclosures = {
        (recipient, status): int(n)
        for recipient, status, n in conn.execute(
            select(Disclosure.recipient, Disclosure.status, func.count()).group_by(
                Disclosure.recipient, Disclosure.status
            )
        )
    }
    recalls = {
        (recipient, status): int(n)
        for recipient, status, n in conn.execute(
            select(Recall.recipient, Recall.remedy_status, func.count()).group_by(
                Recall.recipient, Recall.remedy_status
            )
        )
    }
    recipients = sorted({r for r, _ in disclosures} | {r for r, _ in recalls})
    queue = {
        kind: int(n)
        for kind, n in conn.execute(
            select(ReviewItem.kind, func.count())
            .where(ReviewItem.status == ItemStatus.OPEN)
            .group_by(ReviewItem.kind)
        )
    }
    pool = {
        status: int(n)
        for status, n in conn.execute(
            select(PoolEntry.status, func.count()).group_by(PoolEntry.status)
        )
    }
    frozen = conn.scalar(
        select(func.count(func.distinct(Freeze.person_id))).where(Freeze.lifted_at.is_(None))
    )
    return {
        "disclosures": {
            DisclosureStatus.ACTIVE: sum(
                n for (_, s), n in disclosures.items() if s == DisclosureStatus.ACTIVE
            ),
            DisclosureStatus.RECALLED: sum(
                n for (_, s), n in disclosures.items() if s == DisclosureStatus.RECALLED
            ),
            "total": sum(disclosures.values()),
        },
        "recalls": {
            "total": sum(recalls.values()),
            **{
                status: sum(n for (_, s), n in recalls.items() if s == status)
                for status in (
                    RemedyStatus.OUTSTANDING,
                    RemedyStatus.REMEDIED,
                    RemedyStatus.NONE_NEEDED,
                )
            },
        },
        "by_recipient": {
            r: {
                "disclosures_active": disclosures.get((r, DisclosureStatus.ACTIVE), 0),
                "disclosures_recalled": disclosures.get((r, DisclosureStatus.RECALLED), 0),
                "recalls": sum(n for (rr, _), n in recalls.items() if rr == r),
                "remedies_outstanding": recalls.get((r, RemedyStatus.OUTSTANDING), 0),
            }
            for r in recipients
        },
        "review_queue": {
            ItemStatus.OPEN: sum(queue.values()),
            "by_kind": dict(sorted(queue.items())),
        },
        "pool": dict(sorted(pool.items())),
        "people_frozen": int(frozen or 0),
    }


def agreements(conn: Connection) -> list[dict[str, Any]]:
    """Each agreement with its current version's terms and the pauses in force."""
    rows = conn.execute(
        select(
            Agreement.agreement_id,
            Agreement.recipient,
            Agreement.current_version,
            AgreementVersion.document,
        )
        .join(AgreementVersion, _CURRENT_VERSION)
        .order_by(Agreement.agreement_id)
    ).all()
    pauses: dict[str, list[dict[str, Any]]] = {}
    for p in conn.execute(
        select(
            Pause.id,
            Pause.agreement_id,
            Pause.cohort,
            Pause.reason,
            Pause.paused_by,
            Pause.paused_at,
        )
        .where(Pause.resumed_at.is_(None))
        .order_by(Pause.paused_at, Pause.id)
    ):
        pauses.setdefault(p.agreement_id, []).append(_row(p))
    out = []
    for r in rows:
        doc = r.document if isinstance(r.document, dict) else {}
        out.append(
            {
                "agreement_id": r.agreement_id,
                "recipient": r.recipient,
                "version": r.current_version,
                "title": str(doc.get("title", "")),
                "purpose": str(doc.get("purpose", "")),
                "status": str(doc.get("status", "")),
                "fields": [str(f) for f in doc.get("fields", [])],
                "pauses": pauses.get(r.agreement_id, []),
            }
        )
    return out


# --- the person's own view ---------------------------------------------------------------

# Reads that show many people at once keep them in ``detail.people``, not ``person_id``.
_LIST_READS = ("disclosure_read", "recall_read", "review_queue_read", "oversight_read")


@dataclass(frozen=True)
class Access:
    """One time someone looked at or acted on a person's record, for the person to see."""

    at: dt.datetime
    who: str  # a role or an organisation, never a member of staff's name
    what: str
    why: str


_SUBJECT_WORDS = {
    "person_read": "opened your record",
    "review_item_read": "looked at a check about you",
    "review_queue_read": "saw you listed in the review queue",
    "review_approve": "decided a check about you",
    "review_reject": "decided a check about you, in your favour",
    "disclosure_read": "fetched the records it was sent, including yours",
    "recall_read": "read the recalls it was sent, including one about you",
    "subject_access": "produced a copy of what is held about you",
    "oversight_read": "saw you listed behind an oversight figure",
    "audit_log_read": "read the audit log's entries about you",
    EventType.DISPUTE_OPENED: "recorded your dispute",
    "events_applied": "recorded new facts about you",
    "exemption_applied": "withheld an item from your copy",
    "exemption_lifted": "stopped withholding an item from your copy",
    "pool_withdrawn": "took you off the list of people whose records may be shared",
}
_WHO = {
    "reviewer": "A reviewer",
    "caseworker": "A caseworker",
    "auditor": "An auditor",
    "admin": "An administrator",
}
_WHY = {
    "reviewer": "to decide whether anything about you may be shared",
    "caseworker": "to handle your case",
    "auditor": "to check that sharing is lawful and correct",
    "admin": "to run the service",
    "recipient": "to act on what it was sent under its agreement",
    "subject": "you asked for it",
}


def access_log(conn: Connection, person_id: str, limit: int = 200) -> list[Access]:
    """Who looked at or acted on ``person_id``'s record, newest first (in the spirit of
    Estonia's Data Tracker): the role or the organisation, never a person's name.

    Reads of one person are found by the indexed ``person_id``; reads that listed many
    people (a batch page, the queue) by the person's id in their ``detail.people``.
    """
    quoted = '"' + person_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + '"'
    rows = conn.execute(
        select(AuditLog.at, AuditLog.actor, AuditLog.action, User.role, User.recipient)
        .outerjoin(User, User.username == AuditLog.actor)
        .where(
            or_(
                AuditLog.person_id == person_id,
                and_(
                    AuditLog.person_id.is_(None),
                    AuditLog.action.in_(_LIST_READS),
                    cast(AuditLog.detail, Text).like(f"%{quoted}%", escape="\\"),
                ),
            )
        )
        .order_by(AuditLog.id.desc())
        .limit(limit)
    ).all()
    out = []
    for at, _actor, action, role, recipient in rows:
        if role == "recipient":
            who = f"{recipient}, which received your records" if recipient else "A recipient"
        elif role == "subject":
            who = "You"
        else:
            who = _WHO.get(role or "", "Accord itself (an automatic step)")
        what = _SUBJECT_WORDS.get(action) or words.code(words.AUDIT_ACTIONS, action)
        why = _WHY.get(role or "", "as part of a sharing run or a correction")
        out.append(Access(as_utc(at), who, what, why))
    return out
