"""The person file: everything Accord holds and did about one person, read at once.

One typed value serves every reader of "everything about a person": the caseworker's
page and the people API (`accord.web.readmodels`) show all of it as it stands, and
subject access (`accord.rights.assemble`) writes the person's own report from it,
applying there what its audience may not see (exemptions) and the report's date.

:func:`read` gathers it set-based: one statement per table, each selecting one person's
rows by a bound parameter (the recipients' actions, the reviewers' decisions and the
agreement versions cited through the disclosures and review items they belong to), built
once at import.  Each row type names exactly the columns it reads, in its table's order;
timestamps come back as aware UTC (`accord.store.models.as_utc`), everything else as the
database hands it over (JSON columns included: some writers store JSON text).  Reading
writes nothing: each audience's adapter writes its own audit entry.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select, bindparam, exists, select

from accord.store import models as m
from accord.store.models import as_utc


@dataclass(frozen=True, slots=True)
class PersonRow:
    """The identity derived from the case records (``people``: every column)."""

    person_id: str
    family_name: str | None
    given_names: str | None
    date_of_birth: dt.date | None
    nationality: str | None
    postcode: str | None
    arrival_date: dt.date | None
    latest_decision: str | None
    latest_decision_date: dt.date | None
    refusal_reason: str | None
    appeal_status: str | None
    leave: str | None
    leave_expiry: dt.date | None
    departure_date: dt.date | None
    provenance: Any
    derived_as_of: dt.date | None


@dataclass(frozen=True, slots=True)
class CaseRow:
    """One case record (``case_decisions``: every column)."""

    case_id: str
    person_id: str
    family_name: str | None
    given_names: str | None
    date_of_birth: dt.date | None
    nationality: str | None
    postcode: str | None
    decision: str
    decision_date: dt.date
    refusal_reason: str | None
    appeal_status: str | None
    leave: str | None
    leave_expiry: dt.date | None
    arrival_date: dt.date | None
    departure_date: dt.date | None
    data_category: str
    extra: dict[str, Any] | None
    loaded_by_run: str | None
    destroyed_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class PoolEntryRow:
    """Where the person stands on the list now (``pool_entries``: every column)."""

    person_id: str
    status: str
    reasons: Any
    as_of: dt.date
    run_id: str | None
    updated_at: dt.datetime


@dataclass(frozen=True, slots=True)
class PoolChangeRow:
    """One change of the person's standing (``pool_history``: every column)."""

    id: int
    person_id: str
    status: str
    reasons: Any
    as_of: dt.date
    run_id: str | None
    at: dt.datetime


@dataclass(frozen=True, slots=True)
class MatchRow:
    """One register record linked to the person, with why (``matches``)."""

    id: int
    run_id: str
    register: str
    record_id: str
    match_probability: float
    rank: int
    flags: Any
    record: Any
    explanation: Any


@dataclass(frozen=True, slots=True)
class ReviewItemRow:
    """One check about the person (``review_items``)."""

    item_id: str
    kind: str
    record_id: str | None
    agreement_id: str | None
    match_id: int | None
    score_id: str | None
    reason: str
    status: str
    created_at: dt.datetime
    closed_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class ReviewDecisionRow:
    """One reviewer's decision on one of the person's review items (``review_decisions``)."""

    item_id: str
    reviewer: str
    decision: str
    reason: str
    decided_at: dt.datetime


@dataclass(frozen=True, slots=True)
class DisclosureRow:
    """One disclosure about the person (``disclosures``)."""

    disclosure_id: str
    agreement_id: str
    agreement_version: int
    recipient: str
    record_id: str
    match_probability: float
    match_id: int | None
    decided_by: str
    fields: Any
    score_id: str | None
    disclosed_at: dt.datetime
    ledger_index: int
    status: str
    acknowledged_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class AgreementVersionRow:
    """A version of an agreement one of the person's disclosures was made under."""

    agreement_id: str
    version: int
    content_sha256: str
    document: Any


@dataclass(frozen=True, slots=True)
class RecallRow:
    """One recall of a disclosure about the person (``recalls``)."""

    recall_id: str
    disclosure_id: str
    recipient: str
    reason: str
    event_id: str | None
    recalled_at: dt.datetime
    ledger_index: int
    remedy_status: str
    remedied_at: dt.datetime | None
    acknowledged_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class ActionRow:
    """What a recipient did on a disclosure about the person (``recipient_actions``)."""

    id: int
    disclosure_id: str
    recipient: str
    action: str
    action_date: dt.date
    recorded_at: dt.datetime


@dataclass(frozen=True, slots=True)
class EventRow:
    """A fact reported about the person (``events``)."""

    event_id: str
    event_type: str
    event_date: dt.date
    detail: str | None
    applied_at: dt.datetime


@dataclass(frozen=True, slots=True)
class FreezeRow:
    """A freeze of sharing about the person (``freezes``)."""

    id: int
    reason: str
    event_id: str | None
    review_item_id: str | None
    opened_at: dt.datetime
    lifted_at: dt.datetime | None
    lifted_by: str | None


@dataclass(frozen=True, slots=True)
class ScoreRow:
    """A score derived about the person (``derived_scores``)."""

    score_id: str
    kind: str
    value: float
    role: str
    explanation: Any
    computed_at: dt.date
    retain_until: dt.date
    destroyed_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class DestroyedRow:
    """A record about the person destroyed, or kept on refusal (``destruction_log``): the
    subject access report lists these as read (`accord.rights.document.Held`)."""

    record_kind: str
    record_ref: str
    outcome: str
    justification: str
    at: dt.datetime
    actor: str


@dataclass(frozen=True, slots=True)
class FirewallRow:
    """A use of the person's data the policy's firewall refused (``firewall_refusals``)."""

    id: int
    agreement_id: str
    field: str | None
    data_category: str
    purpose: str
    use: str
    at: dt.datetime


@dataclass(frozen=True, slots=True)
class PersonFile:
    """Everything held and done about one person, each part in its table's reading order."""

    person_id: str
    person: PersonRow | None
    cases: tuple[CaseRow, ...]
    pool: PoolEntryRow | None
    pool_history: tuple[PoolChangeRow, ...]
    matches: tuple[MatchRow, ...]
    review_items: tuple[ReviewItemRow, ...]
    review_decisions: tuple[ReviewDecisionRow, ...]
    disclosures: tuple[DisclosureRow, ...]
    agreement_versions: tuple[AgreementVersionRow, ...]
    recalls: tuple[RecallRow, ...]
    actions: tuple[ActionRow, ...]
    events: tuple[EventRow, ...]
    freezes: tuple[FreezeRow, ...]
    scores: tuple[ScoreRow, ...]
    destroyed: tuple[DestroyedRow, ...]
    firewall: tuple[FirewallRow, ...]

    @property
    def known(self) -> bool:
        """Whether any case record, derived person, pool entry or disclosure has this id."""
        return bool(
            self.person is not None or self.cases or self.pool is not None or self.disclosures
        )

    @property
    def frozen(self) -> bool:
        """Whether a freeze on sharing about the person is still in force."""
        return any(f.lifted_at is None for f in self.freezes)


def names(row: type[Any]) -> tuple[str, ...]:
    """The columns a row type reads, in order (its dataclass fields)."""
    return tuple(f.name for f in dataclasses.fields(row))


def as_dict(row: Any, only: tuple[str, ...] | None = None) -> dict[str, Any]:
    """One row as a plain dict: every column it read, or ``only`` those, in that order."""
    return {name: getattr(row, name) for name in only or names(type(row))}


_PERSON: Any = bindparam("person_id")


def _select(row: type[Any], model: Any) -> Select[Any]:
    """``row``'s columns of ``model``'s table."""
    table = model.__table__
    return select(*(table.c[name] for name in names(row)))


def _about(row: type[Any], model: Any, *order_by: Any) -> Select[Any]:
    """The person's rows of ``model``'s table, as ``row`` reads them, in ``order_by`` order."""
    return _select(row, model).where(model.person_id == _PERSON).order_by(*order_by)


def _through(row: type[Any], model: Any, parent: Any, key: str, *order_by: Any) -> Select[Any]:
    """The rows of ``model``'s table that belong to the person's rows of ``parent``'s table
    (joined on the ``key`` column both have), as ``row`` reads them, in ``order_by`` order."""
    return (
        _select(row, model)
        .join(parent, getattr(parent, key) == getattr(model, key))
        .where(parent.person_id == _PERSON)
        .order_by(*order_by)
    )


# Each part of the file: its row type and its query, in the order the parts are read.
_PARTS: dict[str, tuple[type[Any], Select[Any]]] = {
    "person": (PersonRow, _about(PersonRow, m.Person)),
    "cases": (CaseRow, _about(CaseRow, m.CaseDecision, m.CaseDecision.decision_date,
                              m.CaseDecision.case_id)),
    "pool": (PoolEntryRow, _about(PoolEntryRow, m.PoolEntry)),
    "pool_history": (PoolChangeRow, _about(PoolChangeRow, m.PoolHistory, m.PoolHistory.at,
                                           m.PoolHistory.id)),
    "matches": (MatchRow, _about(MatchRow, m.Match, m.Match.id)),
    "review_items": (ReviewItemRow, _about(ReviewItemRow, m.ReviewItem, m.ReviewItem.created_at,
                                           m.ReviewItem.item_id)),
    "review_decisions": (ReviewDecisionRow, _through(ReviewDecisionRow, m.ReviewDecision,
                                                     m.ReviewItem, "item_id",
                                                     m.ReviewDecision.decided_at,
                                                     m.ReviewDecision.id)),
    "disclosures": (DisclosureRow, _about(DisclosureRow, m.Disclosure, m.Disclosure.disclosed_at,
                                          m.Disclosure.disclosure_id)),
    # The versions of the agreements the person's disclosures were made under.
    "agreement_versions": (
        AgreementVersionRow,
        _select(AgreementVersionRow, m.AgreementVersion)
        .where(
            exists().where(
                m.Disclosure.person_id == _PERSON,
                m.Disclosure.agreement_id == m.AgreementVersion.agreement_id,
                m.Disclosure.agreement_version == m.AgreementVersion.version,
            )
        )
        .order_by(m.AgreementVersion.agreement_id, m.AgreementVersion.version),
    ),
    "recalls": (RecallRow, _about(RecallRow, m.Recall, m.Recall.recalled_at, m.Recall.recall_id)),
    "actions": (ActionRow, _through(ActionRow, m.RecipientAction, m.Disclosure, "disclosure_id",
                                    m.RecipientAction.action_date, m.RecipientAction.id)),
    "events": (EventRow, _about(EventRow, m.Event, m.Event.event_date, m.Event.event_id)),
    "freezes": (FreezeRow, _about(FreezeRow, m.Freeze, m.Freeze.opened_at, m.Freeze.id)),
    "scores": (ScoreRow, _about(ScoreRow, m.DerivedScore, m.DerivedScore.computed_at,
                                m.DerivedScore.score_id)),
    "destroyed": (DestroyedRow, _about(DestroyedRow, m.DestructionLog, m.DestructionLog.at,
                                       m.DestructionLog.id)),
    "firewall": (FirewallRow, _about(FirewallRow, m.FirewallRefusal, m.FirewallRefusal.at,
                                     m.FirewallRefusal.id)),
}  # fmt: skip


def _utc(value: Any) -> Any:
    return as_utc(value) if isinstance(value, dt.datetime) else value


def _rows(conn: Connection, part: str, person_id: str) -> tuple[Any, ...]:
    row, query = _PARTS[part]
    return tuple(row(*map(_utc, r)) for r in conn.execute(query, {"person_id": person_id}))


def read(conn: Connection, person_id: str) -> PersonFile:
    """Everything held and done about ``person_id`` as the database stands (reads only).

    An unknown id gives an empty file (:attr:`PersonFile.known` is then False).
    """
    parts = {part: _rows(conn, part, person_id) for part in _PARTS}
    person, pool = parts.pop("person"), parts.pop("pool")
    return PersonFile(
        person_id=person_id,
        person=person[0] if person else None,
        pool=pool[0] if pool else None,
        **parts,
    )
