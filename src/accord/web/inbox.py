"""A recipient body's inbox: its batches (disclosures) and recalls, and acknowledging them.

A recipient sees exactly what it was sent: each disclosure's id and the agreed fields,
with the agreement and run it came under, never the person id, the match or anything
else Accord holds.  Every function here takes the recipient from the authenticated
user, never from the request, and every read of a disclosure's fields is written to
the audit log against the person it is about, in the same transaction as the read.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
from collections.abc import Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring
from typing import Any, Generic, TypedDict, TypeVar, Unpack

from sqlalchemy import (
    Connection,
    Executable,
    Integer,
    Select,
    Text,
    bindparam,
    cast,
    func,
    select,
    update,
)

from accord import auditlog
from accord.outputs import write_batch
from accord.store.models import Disclosure, Recall, as_utc, utcnow
from accord.vocab import DisclosureStatus, RemedyStatus
from accord.web.readmodels import audit_read

CHUNK = 5_000
MAX_PAGE = 1_000


@dataclass(frozen=True)
class BatchItem:
    disclosure_id: str
    record_id: str  # the recipient's own record that was matched
    agreement_id: str
    run_id: str | None
    disclosed_at: dt.datetime
    acknowledged_at: dt.datetime | None
    fields: dict[str, Any]


@dataclass(frozen=True)
class RecallItem:
    recall_id: str
    disclosure_id: str
    record_id: str  # the recipient's own record the recalled disclosure was about
    reason: str
    recalled_at: dt.datetime
    remedy_status: str
    remedied_at: dt.datetime | None
    acknowledged_at: dt.datetime | None


# A recall's columns as :class:`RecallItem` holds them, in its order.
RECALL_COLUMNS = (
    Recall.recall_id,
    Recall.disclosure_id,
    Disclosure.record_id,
    Recall.reason,
    Recall.recalled_at,
    Recall.remedy_status,
    Recall.remedied_at,
    Recall.acknowledged_at,
)


def _recall_values(
    r: Any,
) -> tuple[str, str, str, str, dt.datetime, str, dt.datetime | None, dt.datetime | None]:
    """A row's :data:`RECALL_COLUMNS` as :class:`RecallItem` takes them."""
    return (
        r.recall_id,
        r.disclosure_id,
        r.record_id,
        r.reason,
        as_utc(r.recalled_at),
        r.remedy_status,
        as_utc(r.remedied_at),
        as_utc(r.acknowledged_at),
    )


T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_after: str | None


@functools.cache
def _batch_query(by_run: bool, unacknowledged: bool, paged: bool, as_text: bool) -> Select[Any]:
    """The batch page query for one combination of filters, built once (it is the hot path).

    ``as_text`` reads each disclosure's fields as the JSON text stored, for
    :func:`batch_json` to pass on as it is, rather than decoded into Python.
    """
    query = select(
        Disclosure.disclosure_id,
        Disclosure.record_id,
        Disclosure.agreement_id,
        Disclosure.run_id,
        Disclosure.disclosed_at,
        Disclosure.acknowledged_at,
        cast(Disclosure.fields, Text) if as_text else Disclosure.fields,
        Disclosure.person_id,
    ).where(
        Disclosure.recipient == bindparam("recipient"), Disclosure.status == DisclosureStatus.ACTIVE
    )
    if by_run:
        query = query.where(Disclosure.run_id == bindparam("run_id"))
    if unacknowledged:
        query = query.where(Disclosure.acknowledged_at.is_(None))
    if paged:
        query = query.where(Disclosure.disclosure_id > bindparam("after"))
    return query.order_by(Disclosure.disclosure_id).limit(bindparam("limit", type_=Integer))


class BatchWanted(TypedDict, total=False):
    """Which page of a recipient's batch :func:`batch` and :func:`batch_json` read; each
    key may be left out."""

    run_id: str | None  # only this run's disclosures (default: every run)
    unacknowledged: bool  # only those not yet acknowledged (default: False)
    after: str | None  # the previous page's ``next_after`` (default: the first page)
    limit: int  # items per page, 1 to MAX_PAGE (default: 100)
    via: str  # how the read came, for the audit log (default: "api")


def _batch_rows(
    conn: Connection, recipient: str, actor: str, wanted: BatchWanted, as_text: bool
) -> tuple[Sequence[Any], str | None]:
    """One page of batch rows (audited) and the cursor of the next page."""
    run_id, after = wanted.get("run_id"), wanted.get("after")
    unacknowledged = wanted.get("unacknowledged", False)
    limit = max(1, min(wanted.get("limit", 100), MAX_PAGE))
    params: dict[str, Any] = {"recipient": recipient, "limit": limit + 1}
    if run_id is not None:
        params["run_id"] = run_id
    if after is not None:
        params["after"] = after
    query = _batch_query(run_id is not None, unacknowledged, after is not None, as_text)
    return _audited_page(
        conn, query, params, limit, actor, "disclosure_read", wanted.get("via", "api")
    )


def _audited_page(
    conn: Connection,
    query: Executable,
    params: dict[str, Any],
    limit: int,
    actor: str,
    action: str,
    via: str,
) -> tuple[Sequence[Any], str | None]:
    """One keyset page of ``query``'s rows, audited, and the cursor of the next page.

    Each row's first column is the id the list is ordered and paged by and its last the
    person it is about; the query reads ``limit + 1`` rows, the last only to tell whether
    another page follows.
    """
    rows = conn.execute(query, params).all()
    more = len(rows) > limit
    rows = rows[:limit]
    if rows:
        audit_read(conn, actor, action, [r[-1] for r in rows], [r[0] for r in rows], via)
    return rows, rows[-1][0] if more else None


def batch(
    conn: Connection, recipient: str, actor: str, **wanted: Unpack[BatchWanted]
) -> Page[BatchItem]:
    """One page of the recipient's active disclosures, in disclosure-id order (keyset)."""
    rows, next_after = _batch_rows(conn, recipient, actor, wanted, False)
    items = [
        BatchItem(
            r.disclosure_id,
            r.record_id,
            r.agreement_id,
            r.run_id,
            as_utc(r.disclosed_at),
            as_utc(r.acknowledged_at),
            r.fields,
        )
        for r in rows
    ]
    return Page(items, next_after)


def batch_json(
    conn: Connection, recipient: str, actor: str, **wanted: Unpack[BatchWanted]
) -> bytes:
    """:func:`batch` as the API's JSON document (``BatchPage``), written in one pass.

    The recipient's batch fetch is the API's hot path: the fields go out as the JSON
    text they were stored as (never decoded and encoded again), and each item is written
    straight from its row rather than built as a model and validated.
    """
    rows, next_after = _batch_rows(conn, recipient, actor, wanted, True)
    # Agreements, runs and times repeat down a page: each distinct one is written once.
    text: dict[Any, str] = {None: "null"}
    for r in rows:
        for v in (r[2], r[3]):
            if v not in text:
                text[v] = encode_basestring(v)
        for v in (r[4], r[5]):
            if v not in text:
                text[v] = f'"{as_utc(v).isoformat()}"'
    items = ",".join(
        f'{{"disclosure_id":{encode_basestring(r[0])},"record_id":{encode_basestring(r[1])},'
        f'"agreement_id":{text[r[2]]},"run_id":{text[r[3]]},"disclosed_at":{text[r[4]]},'
        f'"acknowledged_at":{text[r[5]]},"fields":{r[6]}}}'
        for r in rows
    )
    after_text = "null" if next_after is None else encode_basestring(next_after)
    return f'{{"items":[{items}],"next_after":{after_text}}}'.encode()


def batch_csv(
    conn: Connection,
    recipient: str,
    actor: str,
    *,
    run_id: str | None = None,
    unacknowledged: bool = False,
) -> bytes:
    """The whole batch as SPEC.md's ``batches/<recipient>.csv``, written as `accord run`
    writes it (:func:`accord.outputs.write_batch`): disclosure_id, the recipient's own
    record_id and the agreed fields in the order first sent, each cell safe to open in a
    spreadsheet (:mod:`accord.csvsafe`)."""
    query = select(
        Disclosure.disclosure_id, Disclosure.record_id, Disclosure.fields, Disclosure.person_id
    ).where(Disclosure.recipient == recipient, Disclosure.status == DisclosureStatus.ACTIVE)
    if run_id is not None:
        query = query.where(Disclosure.run_id == run_id)
    if unacknowledged:
        query = query.where(Disclosure.acknowledged_at.is_(None))
    rows = conn.execute(query.order_by(Disclosure.disclosure_id)).all()
    if rows:
        audit_read(
            conn, actor, "disclosure_read", [r[3] for r in rows], [r[0] for r in rows], "csv"
        )
    buffer = io.StringIO(newline="")
    write_batch(buffer, [(r[0], r[1], r[2]) for r in rows])
    return buffer.getvalue().encode()


def recalls(
    conn: Connection,
    recipient: str,
    actor: str,
    *,
    unacknowledged: bool = False,
    after: str | None = None,
    limit: int = 100,
    via: str = "api",
) -> Page[RecallItem]:
    """One page of the recalls sent to the recipient, in recall-id order (keyset), each
    naming the recipient's record it is about and why it was recalled."""
    limit = max(1, min(limit, MAX_PAGE))
    query = (
        select(*RECALL_COLUMNS, Recall.person_id)
        .join(Disclosure, Disclosure.disclosure_id == Recall.disclosure_id)
        .where(Recall.recipient == recipient)
    )
    if unacknowledged:
        query = query.where(Recall.acknowledged_at.is_(None))
    if after is not None:
        query = query.where(Recall.recall_id > after)
    query = query.order_by(Recall.recall_id).limit(limit + 1)
    rows, next_after = _audited_page(conn, query, {}, limit, actor, "recall_read", via)
    items = [RecallItem(*_recall_values(r)) for r in rows]
    return Page(items, next_after)


@dataclass(frozen=True)
class RecallShown(RecallItem):
    """A recall on the inbox screen, with the disclosure it undoes (as it was sent)."""

    agreement_id: str
    disclosed_at: dt.datetime
    fields: dict[str, Any]


@functools.cache
def _recall_screen_query(outstanding: bool, paged: bool) -> Executable:
    query = (
        select(
            *RECALL_COLUMNS,
            Disclosure.agreement_id,
            Disclosure.disclosed_at,
            Disclosure.fields,
            Recall.person_id,
        )
        .join(Disclosure, Disclosure.disclosure_id == Recall.disclosure_id)
        .where(Recall.recipient == bindparam("recipient"))
    )
    if outstanding:
        query = query.where(Recall.remedy_status == RemedyStatus.OUTSTANDING)
    else:
        query = query.where(Recall.remedy_status != RemedyStatus.OUTSTANDING)
    if paged:
        query = query.where(Recall.recall_id > bindparam("after"))
    return query.order_by(Recall.recall_id).limit(bindparam("limit", type_=Integer))


def recalls_outstanding_first(
    conn: Connection,
    recipient: str,
    actor: str,
    *,
    after: str | None = None,
    limit: int = 100,
    via: str = "web",
) -> Page[RecallShown]:
    """The inbox screen's recalls: those whose remedy is outstanding first, then the
    rest, each in recall-id order, with the disclosure each one undoes.

    Paged by keyset over the two runs in turn: the cursor is ``o:<recall id>`` within the
    outstanding ones, ``r:<recall id>`` within the rest.
    """
    limit = max(1, min(limit, MAX_PAGE))
    run, _, last = (after or "").partition(":")
    rows: list[Any] = []
    if run != "r":
        params: dict[str, Any] = {"recipient": recipient, "limit": limit + 1}
        if run == "o" and last:
            params["after"] = last
        rows = list(conn.execute(_recall_screen_query(True, "after" in params), params))
    marked = [("o", r) for r in rows]
    if len(rows) <= limit:
        params = {"recipient": recipient, "limit": limit + 1 - len(rows)}
        if run == "r" and last:
            params["after"] = last
        marked += [
            ("r", r) for r in conn.execute(_recall_screen_query(False, "after" in params), params)
        ]
    more = len(marked) > limit
    marked = marked[:limit]
    if marked:
        audit_read(
            conn,
            actor,
            "recall_read",
            [r[-1] for _, r in marked],
            [r[0] for _, r in marked],
            via,
        )
    items = [
        RecallShown(
            *_recall_values(r),
            r.agreement_id,
            as_utc(r.disclosed_at),
            r.fields,
        )
        for _, r in marked
    ]
    next_after = f"{marked[-1][0]}:{marked[-1][1].recall_id}" if more else None
    return Page(items, next_after)


def unacknowledged_ids(conn: Connection, recipient: str, what: str) -> list[str]:
    """Every id of the recipient's disclosures in force, or recalls, not yet acknowledged:
    what "acknowledge all" acknowledges."""
    if what == "disclosure":
        query = select(Disclosure.disclosure_id).where(
            Disclosure.recipient == recipient,
            Disclosure.status == DisclosureStatus.ACTIVE,
            Disclosure.acknowledged_at.is_(None),
        )
    else:
        query = select(Recall.recall_id).where(
            Recall.recipient == recipient, Recall.acknowledged_at.is_(None)
        )
    return list(conn.scalars(query))


def counts(conn: Connection, recipient: str) -> dict[str, int]:
    """How many disclosures and recalls await this recipient (no personal data)."""
    d = conn.execute(
        select(
            func.count(),
            func.count().filter(Disclosure.acknowledged_at.is_(None)),
        ).where(Disclosure.recipient == recipient, Disclosure.status == DisclosureStatus.ACTIVE)
    ).one()
    r = conn.execute(
        select(
            func.count(),
            func.count().filter(Recall.acknowledged_at.is_(None)),
            func.count().filter(Recall.remedy_status == RemedyStatus.OUTSTANDING),
        ).where(Recall.recipient == recipient)
    ).one()
    return {
        "disclosures": int(d[0]),
        "disclosures_unacknowledged": int(d[1]),
        "recalls": int(r[0]),
        "recalls_unacknowledged": int(r[1]),
        "remedies_outstanding": int(r[2]),
    }


@dataclass(frozen=True)
class Ownership:
    """How a list of ids the recipient named splits by whose they are."""

    own: list[str]
    foreign: list[str]  # exist, but were sent to another recipient
    unknown: list[str]  # do not exist at all


def _ownership(
    conn: Connection, recipient: str, ids: Sequence[str], id_col: Any, recipient_col: Any
) -> Ownership:
    owner: dict[str, str] = {}
    unique = sorted(set(ids))
    for i in range(0, len(unique), CHUNK):
        chunk = unique[i : i + CHUNK]
        owner.update(
            (a, b) for a, b in conn.execute(select(id_col, recipient_col).where(id_col.in_(chunk)))
        )
    own = [i for i in unique if owner.get(i) == recipient]
    foreign = [i for i in unique if i in owner and owner[i] != recipient]
    unknown = [i for i in unique if i not in owner]
    return Ownership(own, foreign, unknown)


def disclosure_ownership(conn: Connection, recipient: str, ids: Sequence[str]) -> Ownership:
    return _ownership(conn, recipient, ids, Disclosure.disclosure_id, Disclosure.recipient)


def recall_ownership(conn: Connection, recipient: str, ids: Sequence[str]) -> Ownership:
    return _ownership(conn, recipient, ids, Recall.recall_id, Recall.recipient)


def acknowledge_disclosures(
    conn: Connection, recipient: str, ids: Sequence[str], actor: str
) -> tuple[int, int]:
    """Mark the recipient's own disclosures received; returns (newly acknowledged, already).

    The caller has checked with :func:`disclosure_ownership` that every id is the
    recipient's; the recipient condition here is kept as a second line of defence.
    """
    return _acknowledge(
        conn, recipient, ids, actor, Disclosure, Disclosure.disclosure_id, "disclosures"
    )


def acknowledge_recalls(
    conn: Connection, recipient: str, ids: Sequence[str], actor: str
) -> tuple[int, int]:
    return _acknowledge(conn, recipient, ids, actor, Recall, Recall.recall_id, "recalls")


def _acknowledge(
    conn: Connection,
    recipient: str,
    ids: Sequence[str],
    actor: str,
    model: Any,
    id_col: Any,
    what: str,
) -> tuple[int, int]:
    unique = sorted(set(ids))
    now = utcnow()
    done = 0
    for i in range(0, len(unique), CHUNK):
        chunk = unique[i : i + CHUNK]
        result = conn.execute(
            update(model)
            .where(id_col.in_(chunk), model.recipient == recipient, model.acknowledged_at.is_(None))
            .values(acknowledged_at=now)
        )
        done += int(result.rowcount or 0)
    auditlog.log(
        conn,
        actor,
        f"{what}_acknowledged",
        recipient=recipient,
        count=done,
        ids=unique[:100],
    )
    return done, len(unique) - done
