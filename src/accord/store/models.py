"""The governance state, as SQLAlchemy 2 models.

Everything Accord must be able to show later lives here: what it was given (case
decisions, events, recipient actions), what it decided (pool, matches, review items,
disclosures, recalls) and who did what (audit log, review decisions, pauses).  Bulk
inputs such as recipient registers are *not* copied in whole: only the register
records Accord matched are kept, inside the match that used them (data minimisation).

The schema is created and upgraded only through Alembic (``accord init``); tests
compare the two so that the models and the migration chain never drift apart.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar, overload

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Select,
    String,
    Text,
    UniqueConstraint,
    false,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from accord.vocab import DisclosureStatus, ItemStatus, RemedyStatus

# Stable constraint names, so that migrations are the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID = String(64)
CODE = String(64)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@overload
def as_utc(value: dt.datetime) -> dt.datetime: ...
@overload
def as_utc(value: None) -> None: ...
@overload
def as_utc(value: dt.datetime | None) -> dt.datetime | None: ...
def as_utc(value: dt.datetime | None) -> dt.datetime | None:
    """A stored timestamp as aware UTC: SQLite hands them back naive (Accord writes UTC),
    PostgreSQL aware in the session's zone."""
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


# --- runs -------------------------------------------------------------------------------


class Run(Base):
    """One sharing cycle (`accord run`) or other bulk step, with its inputs' digests."""

    __tablename__ = "runs"

    run_id: Mapped[str] = mapped_column(ID, primary_key=True)
    command: Mapped[str] = mapped_column(CODE)
    as_of: Mapped[dt.date] = mapped_column(Date)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(CODE, default="started")  # started|completed|failed
    inputs: Mapped[dict[str, Any]] = mapped_column(default=dict)  # file -> sha256
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)


# --- what the source body gave us --------------------------------------------------------


class CaseDecision(Base):
    """One row of the cases file, as received (SPEC.md, cases)."""

    __tablename__ = "case_decisions"

    case_id: Mapped[str] = mapped_column(ID, primary_key=True)
    person_id: Mapped[str] = mapped_column(ID, index=True)
    family_name: Mapped[str | None] = mapped_column(Text)  # one may be empty (one name)
    given_names: Mapped[str | None] = mapped_column(Text)
    date_of_birth: Mapped[dt.date | None] = mapped_column(Date)
    nationality: Mapped[str | None] = mapped_column(String(3))
    postcode: Mapped[str | None] = mapped_column(String(16))
    decision: Mapped[str] = mapped_column(CODE)
    decision_date: Mapped[dt.date] = mapped_column(Date)
    refusal_reason: Mapped[str | None] = mapped_column(CODE)
    appeal_status: Mapped[str | None] = mapped_column(CODE)
    leave: Mapped[str | None] = mapped_column(CODE)
    leave_expiry: Mapped[dt.date | None] = mapped_column(Date)
    arrival_date: Mapped[dt.date | None] = mapped_column(Date)
    departure_date: Mapped[dt.date | None] = mapped_column(Date)
    data_category: Mapped[str] = mapped_column(CODE, default="immigration_casework")
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # columns beyond SPEC.md's
    loaded_by_run: Mapped[str | None] = mapped_column(ID)
    destroyed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class Person(Base):
    """A person's state derived from their case history as of the last admission.

    ``provenance`` maps each derived field to where it came from, so that the firewall
    can refuse a value by its source: the case_id alone when the case is ordinary
    casework (``immigration_casework``), else ``{"case_id": ..., "data_category": ...}``.
    """

    __tablename__ = "people"

    person_id: Mapped[str] = mapped_column(ID, primary_key=True)
    family_name: Mapped[str | None] = mapped_column(Text)  # one may be empty (one name)
    given_names: Mapped[str | None] = mapped_column(Text)
    date_of_birth: Mapped[dt.date | None] = mapped_column(Date)
    nationality: Mapped[str | None] = mapped_column(String(3))
    postcode: Mapped[str | None] = mapped_column(String(16))
    arrival_date: Mapped[dt.date | None] = mapped_column(Date)
    latest_decision: Mapped[str | None] = mapped_column(CODE)
    latest_decision_date: Mapped[dt.date | None] = mapped_column(Date)
    refusal_reason: Mapped[str | None] = mapped_column(CODE)
    appeal_status: Mapped[str | None] = mapped_column(CODE)
    leave: Mapped[str | None] = mapped_column(CODE)
    leave_expiry: Mapped[dt.date | None] = mapped_column(Date)
    departure_date: Mapped[dt.date | None] = mapped_column(Date)
    provenance: Mapped[dict[str, Any]] = mapped_column(default=dict)
    derived_as_of: Mapped[dt.date | None] = mapped_column(Date)


# --- the pool ------------------------------------------------------------------------------


class PoolEntry(Base):
    """Where a person stands now: admitted, excluded, quarantined, manual_check, withdrawn."""

    __tablename__ = "pool_entries"

    person_id: Mapped[str] = mapped_column(ID, primary_key=True)
    status: Mapped[str] = mapped_column(CODE, index=True)
    reasons: Mapped[list[Any]] = mapped_column(default=list)  # reason codes
    as_of: Mapped[dt.date] = mapped_column(Date)
    run_id: Mapped[str | None] = mapped_column(ID)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PoolHistory(Base):
    """Every change of a person's pool status, never rewritten (subject access reads it)."""

    __tablename__ = "pool_history"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    person_id: Mapped[str] = mapped_column(ID, index=True)
    status: Mapped[str] = mapped_column(CODE)
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    as_of: Mapped[dt.date] = mapped_column(Date)
    run_id: Mapped[str | None] = mapped_column(ID)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# --- policy and agreements -----------------------------------------------------------------


class PolicyVersion(Base):
    """Each distinct policy file that was in force, with who loaded it."""

    __tablename__ = "policy_versions"

    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    content_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    document: Mapped[dict[str, Any]] = mapped_column()
    loaded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    loaded_by: Mapped[str] = mapped_column(Text)


class Agreement(Base):
    __tablename__ = "agreements"

    agreement_id: Mapped[str] = mapped_column(ID, primary_key=True)
    recipient: Mapped[str] = mapped_column(ID, index=True)
    current_version: Mapped[int] = mapped_column(Integer)


class AgreementVersion(Base):
    """An agreement as loaded; a changed file makes a new version, disclosures cite one."""

    __tablename__ = "agreement_versions"

    agreement_id: Mapped[str] = mapped_column(
        ID, ForeignKey("agreements.agreement_id"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    content_sha256: Mapped[str] = mapped_column(String(64))
    document: Mapped[dict[str, Any]] = mapped_column()
    loaded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    loaded_by: Mapped[str] = mapped_column(Text)


def versions_in_force(*columns: Any) -> Select[Any]:
    """``select(*columns)`` of each agreement's version in force: agreement_versions joined
    to agreements at their current version."""
    return select(*columns).join(
        Agreement,
        (Agreement.agreement_id == AgreementVersion.agreement_id)
        & (Agreement.current_version == AgreementVersion.version),
    )


class Pause(Base):
    """A pause of a whole agreement (cohort NULL) or of one cohort within it."""

    __tablename__ = "pauses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agreement_id: Mapped[str] = mapped_column(ID, index=True)
    cohort: Mapped[str | None] = mapped_column(CODE)
    reason: Mapped[str] = mapped_column(Text)
    paused_by: Mapped[str] = mapped_column(Text)
    paused_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    resumed_by: Mapped[str | None] = mapped_column(Text)
    resumed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    resume_reason: Mapped[str | None] = mapped_column(Text)


# --- linkage ---------------------------------------------------------------------------------


class LinkageModel(Base):
    """A trained Splink model for one recipient register, reused until retrained."""

    __tablename__ = "linkage_models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    register: Mapped[str] = mapped_column(ID, index=True)
    settings: Mapped[dict[str, Any]] = mapped_column()  # Splink settings with parameters
    trained_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    training_rows: Mapped[int] = mapped_column(BigInteger)
    register_sha256: Mapped[str | None] = mapped_column(String(64))
    current: Mapped[bool] = mapped_column(Boolean, default=True)


class Match(Base):
    """A candidate pairing of a pool member with a register record, with its explanation.

    ``record`` holds the register record's fields as they were matched; ``explanation``
    each comparison's level and match weight (Splink's waterfall, ending with what the
    other candidates and lookalikes take away); ``match_probability`` the chance that the
    record is the person's.
    """

    __tablename__ = "matches"
    __table_args__ = (
        UniqueConstraint("run_id", "register", "person_id", "record_id"),
        Index("ix_matches_person", "person_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    run_id: Mapped[str] = mapped_column(ID, index=True)
    register: Mapped[str] = mapped_column(ID)
    person_id: Mapped[str] = mapped_column(ID)
    record_id: Mapped[str] = mapped_column(ID)
    match_probability: Mapped[float] = mapped_column(Float)
    match_weight: Mapped[float] = mapped_column(Float)
    model_id: Mapped[int | None] = mapped_column(Integer)
    rank: Mapped[int] = mapped_column(Integer, default=1)
    flags: Mapped[list[Any]] = mapped_column(default=list)  # ambiguous, long_residence, ...
    record: Mapped[dict[str, Any]] = mapped_column(default=dict)
    explanation: Mapped[list[Any]] = mapped_column(default=list)
    # What the gate weighed besides the probability (accord.linkage.store.EVIDENCE_FIELDS);
    # NULL for matches made before migration 0010.
    evidence: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Proposal(Base):
    """A change to automation that reviewers' labels support, in force only once two
    different people approve it (docs/linkage.md, proposals).

    ``trusted_pattern``: a new version of ``agreement_id`` whose match block trusts
    ``pattern``; ``model``: linkage model ``model_id`` (re-estimated from the labels, kept
    not current) made the register's current one.  Once approved it is a ledger leaf of
    kind ``governance`` at ``ledger_index``, rebuilt from these columns by `accord verify`.
    """

    __tablename__ = "proposals"

    proposal_id: Mapped[str] = mapped_column(ID, primary_key=True)
    kind: Mapped[str] = mapped_column(CODE)  # trusted_pattern | model
    register: Mapped[str] = mapped_column(ID, index=True)
    agreement_id: Mapped[str | None] = mapped_column(ID, index=True)
    pattern: Mapped[str | None] = mapped_column(Text)
    model_id: Mapped[int | None] = mapped_column(Integer)  # the model proposed (kind model)
    based_on_version: Mapped[int | None] = mapped_column(Integer)  # agreement version then
    based_on_model_id: Mapped[int | None] = mapped_column(Integer)  # current model then
    labels: Mapped[int] = mapped_column(Integer)
    wrong: Mapped[int] = mapped_column(Integer)
    wrong_upper_per_10000: Mapped[float | None] = mapped_column(Float)
    automatic_gain: Mapped[int | None] = mapped_column(Integer)  # open items it would release
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(CODE, default=ItemStatus.OPEN, index=True)
    approvals_needed: Mapped[int] = mapped_column(Integer, default=2)
    proposed_by: Mapped[str] = mapped_column(Text)
    proposed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    approved_by: Mapped[str | None] = mapped_column(Text)  # "alice, bob", in order
    result_version: Mapped[int | None] = mapped_column(Integer)  # the agreement version made
    ledger_index: Mapped[int | None] = mapped_column(BigInteger, unique=True)


class Decided:
    """One person's decision and why: the columns a review decision and a proposal decision
    share (a mixin: they follow each table's own id and what was decided)."""

    reviewer: Mapped[str] = mapped_column(Text)
    decision: Mapped[str] = mapped_column(CODE)  # approve | reject
    reason: Mapped[str] = mapped_column(Text)
    decided_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ProposalDecision(Decided, Base):
    __tablename__ = "proposal_decisions"
    __table_args__ = (UniqueConstraint("proposal_id", "reviewer"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    proposal_id: Mapped[str] = mapped_column(ID, ForeignKey("proposals.proposal_id"), index=True)


# --- review ----------------------------------------------------------------------------------


class ReviewItem(Base):
    """Something a person must decide before Accord acts (SPEC.md review queue)."""

    __tablename__ = "review_items"
    # The review queue, oldest first, page by page (the web queue page and API).
    __table_args__ = (
        Index("ix_review_items_queue", "status", "created_at", "item_id"),
        Index("ix_review_items_open_kind", "status", "kind"),  # the queue's counts by kind
    )

    item_id: Mapped[str] = mapped_column(ID, primary_key=True)
    kind: Mapped[str] = mapped_column(CODE, index=True)
    person_id: Mapped[str] = mapped_column(ID, index=True)
    record_id: Mapped[str | None] = mapped_column(ID)
    agreement_id: Mapped[str | None] = mapped_column(ID)
    match_id: Mapped[int | None] = mapped_column(BigInteger)
    score_id: Mapped[str | None] = mapped_column(ID)  # a score_review item's score (F8)
    reason: Mapped[str] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(CODE, default=ItemStatus.OPEN, index=True)
    approvals_needed: Mapped[int] = mapped_column(Integer, default=1)
    run_id: Mapped[str | None] = mapped_column(ID)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class ReviewDecision(Decided, Base):
    __tablename__ = "review_decisions"
    # A reviewer's decisions today, counted on every page of the workbench (0013).
    __table_args__ = (Index("ix_review_decisions_reviewer", "reviewer", "decided_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[str] = mapped_column(ID, ForeignKey("review_items.item_id"), index=True)


# --- disclosure and the ledger ---------------------------------------------------------------


class Disclosure(Base):
    """One fact sent to one recipient about one person, and the exact fields sent.

    ``score_id`` names the derived score a score disclosure carries (F8), and is ``''``
    for every other disclosure, so that the database itself refuses a second disclosure
    of the same record, or of the same score, under one agreement.
    """

    __tablename__ = "disclosures"
    __table_args__ = (
        UniqueConstraint("agreement_id", "record_id", "person_id", "score_id"),
        Index("ix_disclosures_person", "person_id"),
        # A recipient's batch, page by page in id order (the web API's keyset pagination).
        Index("ix_disclosures_recipient_page", "recipient", "disclosure_id"),
    )

    disclosure_id: Mapped[str] = mapped_column(ID, primary_key=True)
    run_id: Mapped[str | None] = mapped_column(ID, index=True)
    agreement_id: Mapped[str] = mapped_column(ID)
    agreement_version: Mapped[int] = mapped_column(Integer)
    recipient: Mapped[str] = mapped_column(ID, index=True)
    record_id: Mapped[str] = mapped_column(ID)
    person_id: Mapped[str] = mapped_column(ID)
    match_probability: Mapped[float] = mapped_column(Float)
    match_id: Mapped[int | None] = mapped_column(BigInteger)
    decided_by: Mapped[str] = mapped_column(Text)  # "rule:auto" or reviewer names
    fields: Mapped[dict[str, Any]] = mapped_column()  # what the recipient received
    score_id: Mapped[str] = mapped_column(ID, default="", server_default="")
    disclosed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    ledger_index: Mapped[int] = mapped_column(BigInteger, unique=True)
    status: Mapped[str] = mapped_column(CODE, default=DisclosureStatus.ACTIVE)  # active | recalled
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # A disclosure approved at review (run_id NULL): the run whose batch files delivered it.
    delivered_in: Mapped[str | None] = mapped_column(ID)


class LedgerLeaf(Base):
    """One RFC 6962 leaf: the canonical bytes of a disclosure or recall and their hash."""

    __tablename__ = "ledger_leaves"

    # On SQLite an INTEGER primary key is the table's rowid: one B-tree, not two (0005).
    leaf_index: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=False
    )
    kind: Mapped[str] = mapped_column(CODE)  # disclosure | recall | governance
    ref_id: Mapped[str] = mapped_column(ID, index=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    appended_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TreeHead(Base):
    """A signed tree head (Ed25519 over size, timestamp and root)."""

    __tablename__ = "tree_heads"

    tree_size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    timestamp_ms: Mapped[int] = mapped_column(BigInteger)
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    key_id: Mapped[str] = mapped_column(String(64))


class LedgerNode(Base):
    """Cached roots of complete subtrees, so that proofs at 10M leaves stay cheap.

    Level ``k`` holds the hash of leaves ``[index * 2**k, (index + 1) * 2**k)``; only
    complete subtrees are stored, so a stored node never changes.
    """

    __tablename__ = "ledger_nodes"

    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


# --- after a run: events, freezes, recalls, recipient actions --------------------------------


class Event(Base):
    __tablename__ = "events"

    event_id: Mapped[str] = mapped_column(ID, primary_key=True)
    person_id: Mapped[str] = mapped_column(ID, index=True)
    event_type: Mapped[str] = mapped_column(CODE)
    event_date: Mapped[dt.date] = mapped_column(Date)
    detail: Mapped[str | None] = mapped_column(Text)
    applied_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Freeze(Base):
    """No further sharing about a person while open (evidence, dispute)."""

    __tablename__ = "freezes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[str] = mapped_column(ID, index=True)
    reason: Mapped[str] = mapped_column(Text)
    event_id: Mapped[str | None] = mapped_column(ID)
    review_item_id: Mapped[str | None] = mapped_column(ID)
    opened_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    lifted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    lifted_by: Mapped[str | None] = mapped_column(Text)


class Recall(Base):
    """A disclosure withdrawn from its recipient; its remedy is tracked to the end."""

    __tablename__ = "recalls"
    # A recipient's recalls, page by page in id order (the web API's keyset pagination).
    __table_args__ = (Index("ix_recalls_recipient_page", "recipient", "recall_id"),)

    recall_id: Mapped[str] = mapped_column(ID, primary_key=True)
    disclosure_id: Mapped[str] = mapped_column(
        ID, ForeignKey("disclosures.disclosure_id"), unique=True
    )
    recipient: Mapped[str] = mapped_column(ID, index=True)
    person_id: Mapped[str] = mapped_column(ID, index=True)
    reason: Mapped[str] = mapped_column(Text)
    event_id: Mapped[str | None] = mapped_column(ID)
    recalled_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ledger_index: Mapped[int] = mapped_column(BigInteger, unique=True)
    remedy_status: Mapped[str] = mapped_column(  # a RemedyStatus
        CODE, default=RemedyStatus.NONE_NEEDED.value, index=True
    )
    remedied_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class RecipientAction(Base):
    """What a recipient reported doing with a disclosure (SPEC.md, actions)."""

    __tablename__ = "recipient_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    disclosure_id: Mapped[str] = mapped_column(ID, index=True)
    recipient: Mapped[str] = mapped_column(ID)
    action: Mapped[str] = mapped_column(CODE)
    action_date: Mapped[dt.date] = mapped_column(Date)
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# --- oversight -------------------------------------------------------------------------------


class AuditSample(Base):
    """An item drawn for an inspector to verify, and the verdict once recorded."""

    __tablename__ = "audit_samples"
    __table_args__ = (UniqueConstraint("sample_id", "item_kind", "item_ref"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sample_id: Mapped[str] = mapped_column(ID, index=True)
    item_kind: Mapped[str] = mapped_column(CODE)  # pool_entry | disclosure
    item_ref: Mapped[str] = mapped_column(ID)
    stratum: Mapped[str] = mapped_column(Text)
    stratum_size: Mapped[int] = mapped_column(BigInteger)
    drawn_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    verdict: Mapped[str | None] = mapped_column(CODE)  # correct | wrong
    verdict_by: Mapped[str | None] = mapped_column(Text)
    verdict_note: Mapped[str | None] = mapped_column(Text)
    verdict_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class FirewallRefusal(Base):
    """A value (or a whole disclosure) the firewall kept from an enforcement purpose."""

    __tablename__ = "firewall_refusals"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    run_id: Mapped[str | None] = mapped_column(ID, index=True)
    agreement_id: Mapped[str] = mapped_column(ID)
    person_id: Mapped[str] = mapped_column(ID, index=True)
    field: Mapped[str | None] = mapped_column(CODE)
    data_category: Mapped[str] = mapped_column(CODE)
    purpose: Mapped[str] = mapped_column(CODE)
    use: Mapped[str] = mapped_column(CODE)  # matching | disclosure
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuditLog(Base):
    """Who did what, when: every decision, pause, read of personal data and refusal."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(CODE, index=True)
    person_id: Mapped[str | None] = mapped_column(ID, index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


# --- rights ----------------------------------------------------------------------------------


class Exemption(Base):
    """An item withheld from a subject access report: listed, justified and logged."""

    __tablename__ = "exemptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[str] = mapped_column(ID, index=True)
    item_kind: Mapped[str] = mapped_column(CODE)
    item_ref: Mapped[str] = mapped_column(ID)
    exemption: Mapped[str] = mapped_column(Text)
    justification: Mapped[str] = mapped_column(Text)
    applied_by: Mapped[str] = mapped_column(Text)
    applied_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    lifted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class DatabaseSetting(Base):
    """A setting kept with the database itself, such as where its ledger key is.

    So that the same database always finds the same key, whichever folder a command is
    run from (`accord init --key FILE` keeps the key's path here).
    """

    __tablename__ = "database_settings"

    name: Mapped[str] = mapped_column(CODE, primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# --- identity (web) --------------------------------------------------------------------------


class User(Base):
    __tablename__ = "users"
    __table_args__ = (Index("ux_users_sso_identity", "sso_issuer", "sso_subject", unique=True),)

    username: Mapped[str] = mapped_column(ID, primary_key=True)
    display_name: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(CODE)  # caseworker|reviewer|recipient|auditor|admin|subject
    recipient: Mapped[str | None] = mapped_column(ID)  # for role recipient
    person_id: Mapped[str | None] = mapped_column(ID)  # for role subject
    password_hash: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set when the user signs out: every session started until then is over (0011).
    sessions_ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # Staff who sign in through OpenID Connect: the provider's issuer and subject (0014);
    # sso_disabled when Accord disabled them for want of a mapped group (accord.sso).
    sso_issuer: Mapped[str | None] = mapped_column(Text)
    sso_subject: Mapped[str | None] = mapped_column(Text)
    sso_disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class LoginFailure(Base):
    """Consecutive failed sign-ins under one username, and how long it is locked (0006).

    Kept for any username tried, known or not, so that a lock says nothing about whether
    the account exists; a successful sign-in removes the row, and a row whose last
    failure is a day old is forgotten (``last_failed_at`` is indexed for that).
    """

    __tablename__ = "login_failures"

    username: Mapped[str] = mapped_column(ID, primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class ApiToken(Base):
    __tablename__ = "api_tokens"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(ID, ForeignKey("users.username"), index=True)
    label: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class Secret(Base):
    """A secret the database keeps for itself (0008): ``id_key`` keys the ids of what
    Accord shares and decides (`accord.ids`), made with the schema, never shown."""

    __tablename__ = "secrets"

    name: Mapped[str] = mapped_column(CODE, primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# --- derived scores and retention ------------------------------------------------------------


class DerivedScore(Base):
    """A score computed about a person (F8): a data category of its own."""

    __tablename__ = "derived_scores"

    score_id: Mapped[str] = mapped_column(ID, primary_key=True)
    person_id: Mapped[str] = mapped_column(ID, index=True)
    kind: Mapped[str] = mapped_column(CODE)
    value: Mapped[float] = mapped_column(Float)
    role: Mapped[str] = mapped_column(CODE)  # subject | victim | witness
    explanation: Mapped[dict[str, Any]] = mapped_column()
    computed_at: Mapped[dt.date] = mapped_column(Date)
    retain_until: Mapped[dt.date] = mapped_column(Date)
    destroyed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class DestructionLog(Base):
    """A record destroyed or refused destruction, with the digest of what it held (F9)."""

    __tablename__ = "destruction_log"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    record_kind: Mapped[str] = mapped_column(CODE)
    record_ref: Mapped[str] = mapped_column(ID, index=True)
    person_id: Mapped[str | None] = mapped_column(ID, index=True)
    outcome: Mapped[str] = mapped_column(CODE)  # destroyed | refused
    justification: Mapped[str] = mapped_column(Text)
    content_sha256: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(Text)
