"""The subject access report as a typed document: what :mod:`accord.rights.assemble`
gathers about one person and :mod:`accord.rights.render` writes as JSON, HTML and PDF."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from accord.personfile import DestroyedRow


class _Doc(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- the document ----------------------------------------------------------------------------


class HeldValue(_Doc):
    """One value held about the person, with the case it came from and its data category.

    A departure known only from an event names that event instead of a case record.
    """

    field: str
    field_words: str
    value: str | None
    value_words: str
    source_case_id: str | None
    data_category: str
    data_category_words: str
    source_event_id: str | None = None
    source_event_date: dt.date | None = None
    source_event_words: str | None = None


class CaseHeld(_Doc):
    case_id: str
    decision: str
    decision_words: str
    decision_date: dt.date
    data_category: str
    data_category_words: str
    values: list[HeldValue]
    destroyed_at: dt.datetime | None


class ScoreHeld(_Doc):
    score_id: str
    kind: str
    value: float
    role: str
    explanation: dict[str, Any]
    computed_at: dt.date
    retain_until: dt.date
    destroyed_at: dt.datetime | None
    disclosed_in: list[str] = Field(
        default_factory=list,
        description="The disclosures (listed under disclosures) that shared this score",
    )


class Held(_Doc):
    identity: list[HeldValue]
    cases: list[CaseHeld]
    scores: list[ScoreHeld]
    destroyed: list[DestroyedRow]  # as the person file reads them (outcome: DestructionOutcome)


class PoolChange(_Doc):
    pool_change_id: int
    status: str
    status_words: str
    reasons: list[str]
    reasons_words: list[str]
    as_of: dt.date
    at: dt.datetime
    run_id: str | None
    grounds_case_id: str | None = Field(
        default=None,
        description="For an admission: the case record of the decision against the person "
        "that made them a candidate (the latest decision on or before as_of)",
    )
    grounds_words: str | None = Field(
        default=None, description="For an admission: why, in words (it has no reason code)"
    )


class PoolStanding(_Doc):
    current_status: str | None
    current_words: str
    reasons: list[str]
    reasons_words: list[str]
    history: list[PoolChange]
    grounds_words: str | None = None  # for a person on the list: why (see PoolChange)


class AgreementCited(_Doc):
    agreement_id: str
    version: int
    title: str
    purpose: str
    purpose_words: str
    legal_basis: str
    agreed_fields: list[str]
    content_sha256: str | None


class Comparison(_Doc):
    what: str
    found: str
    effect: str
    weight: float | None
    ours: str | None
    theirs: str | None


class MatchExplained(_Doc):
    match_id: int | None
    probability: float
    probability_words: str
    flags: list[str]
    flags_words: list[str]
    comparisons: list[Comparison]
    their_record: dict[str, Any]
    explanation: list[Any]


class ReviewerDecision(_Doc):
    item_id: str
    reviewer: str
    decision: str
    decision_words: str
    reason: str
    decided_at: dt.datetime


class Decider(_Doc):
    decided_by: str
    kind: Literal["rule", "reviewers"]
    words: str
    reviewers: list[str]
    decisions: list[ReviewerDecision]


class FieldSent(_Doc):
    field: str
    field_words: str
    value: Any


class DisclosureShown(_Doc):
    disclosure_id: str
    recipient: str
    recipient_words: str
    record_id: str
    disclosed_at: dt.datetime
    status: str
    status_words: str
    agreement: AgreementCited
    fields: dict[str, Any]
    fields_words: list[FieldSent]
    match: MatchExplained
    decided: Decider
    ledger_index: int
    recall_id: str | None
    proof: dict[str, Any]


class ActionShown(_Doc):
    action_id: int
    disclosure_id: str
    recipient: str
    recipient_words: str
    action: str
    action_words: str
    action_date: dt.date
    recorded_at: dt.datetime


class RecallShown(_Doc):
    recall_id: str
    disclosure_id: str
    recipient: str
    recipient_words: str
    reason: str
    reason_words: str
    event_id: str | None
    recalled_at: dt.datetime
    remedy_status: str
    remedy_words: str
    remedied_at: dt.datetime | None
    ledger_index: int
    proof: dict[str, Any]
    acted: list[str] = Field(
        default_factory=list,
        description="The recipient's actions on the recalled disclosure shown in this report "
        "(codes, by action date), which remedy_words account for",
    )


class EventShown(_Doc):
    event_id: str
    event_type: str
    event_words: str
    event_date: dt.date
    detail: str | None
    applied_at: dt.datetime


class ReviewShown(_Doc):
    item_id: str
    kind: str
    kind_words: str
    status: str
    status_words: str
    reason: str
    agreement_id: str | None
    record_id: str | None
    created_at: dt.datetime
    closed_at: dt.datetime | None
    decisions: list[ReviewerDecision]


class FreezeShown(_Doc):
    freeze_id: int
    reason: str
    reason_words: str
    event_id: str | None
    review_item_id: str | None
    opened_at: dt.datetime
    lifted_at: dt.datetime | None
    lifted_by: str | None
    open: bool


class FirewallShown(_Doc):
    agreement_id: str
    field: str | None
    field_words: str
    data_category: str
    data_category_words: str
    purpose: str
    purpose_words: str
    use: str
    at: dt.datetime


class Withheld(_Doc):
    """An item kept out of the report: never silently; always with why and by whom."""

    item_kind: str
    item_ref: str
    item_words: str
    exemption: str
    justification: str
    applied_by: str
    applied_at: dt.datetime
    withheld_with: str | None = Field(
        default=None, description="KIND:REF of the withheld item this one would reveal"
    )


class Challenge(_Doc):
    route: str
    send: list[str]
    where: str
    what_happens_next: list[str]
    your_reference: str
    open_disputes: list[str]
    sharing_frozen: bool


class ReportMeta(_Doc):
    format: str
    person_id: str
    produced_at: dt.datetime
    produced_by: str
    as_of: dt.date | None
    check_with: str


class SubjectAccessReport(_Doc):
    report: ReportMeta
    held: Held
    pool: PoolStanding
    disclosures: list[DisclosureShown]
    actions: list[ActionShown]
    recalls: list[RecallShown]
    events: list[EventShown]
    reviews: list[ReviewShown]
    freezes: list[FreezeShown]
    firewall: list[FirewallShown]
    withheld: list[Withheld]
    challenge: Challenge

    def to_json(self) -> str:
        return self.model_dump_json(indent=2)

    def digest(self) -> str:
        """SHA-256 of the report's JSON, logged so a copy handed out can be matched later."""
        return hashlib.sha256(self.model_dump_json().encode("utf-8")).hexdigest()
