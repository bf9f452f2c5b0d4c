"""The API's request and response documents (its OpenAPI schema comes from these)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from accord.formats.schema import ACTIONS, EVENT_TYPES

MAX_RECORDS = 10_000
# No control characters in ids, no NUL anywhere: PostgreSQL text cannot hold NUL, and a
# control character in an id has broken a downstream system somewhere (see README).
ID_PATTERN = r"^[^\x00-\x1f\x7f]+$"
TEXT_PATTERN = r"^[^\x00]*$"
Ident = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=ID_PATTERN)]
# What a person writes in their own words: a reason, a dispute.
Words = Annotated[str, Field(min_length=1, max_length=4000, pattern=TEXT_PATTERN)]
T = TypeVar("T")
# A request's list of records: at least one, at most MAX_RECORDS.
Records = Annotated[list[T], Field(min_length=1, max_length=MAX_RECORDS)]


class _Request(BaseModel):
    """A request document: a key it does not define is refused (422), never ignored."""

    model_config = ConfigDict(extra="forbid")


class ErrorOut(BaseModel):
    """Every error but a 422: one line saying what was wrong."""

    detail: str


class WhoAmI(BaseModel):
    username: str
    display_name: str
    role: str
    recipient: str | None
    person_id: str | None


class BatchItemOut(BaseModel):
    """One disclosure as its recipient receives it: its id, the recipient's own record it
    is about, and the agreed fields only."""

    disclosure_id: str
    record_id: str = Field(
        description="The recipient's own id of the record that was matched: act on this "
        "record, never on another found again by name"
    )
    agreement_id: str
    run_id: str | None
    disclosed_at: dt.datetime
    acknowledged_at: dt.datetime | None
    fields: dict[str, Any]


class BatchPage(BaseModel):
    items: list[BatchItemOut]
    next_after: str | None = Field(
        description="Pass as `after` for the next page; null at the end."
    )


class RecallOut(BaseModel):
    """A disclosure withdrawn: stop using it and undo what was done on it (remedy_status)."""

    recall_id: str
    disclosure_id: str
    record_id: str = Field(description="The recipient's own record the disclosure was about")
    reason: str = Field(
        description="Why it was recalled (a reason code, such as "
        "decision_overturned or departure_recorded)"
    )
    recalled_at: dt.datetime
    remedy_status: str = Field(description="none_needed, outstanding (undo the action) or remedied")
    remedied_at: dt.datetime | None
    acknowledged_at: dt.datetime | None


class RecallPage(BaseModel):
    items: list[RecallOut]
    next_after: str | None


class AcknowledgeDisclosures(_Request):
    disclosure_ids: Records[Ident]


class AcknowledgeRecalls(_Request):
    recall_ids: Records[Ident]


class Acknowledged(BaseModel):
    acknowledged: int
    already_acknowledged: int


class ActionIn(_Request):
    """One row of SPEC.md's actions format; checked exactly as a file's row is."""

    disclosure_id: Ident = Field(description="As received in the batch")
    action: Literal[ACTIONS] = Field(description="What the recipient did")  # type: ignore[valid-type]
    action_date: str = Field(description="YYYY-MM-DD")


class ActionsIn(_Request):
    actions: Records[ActionIn]


class ActionsOut(BaseModel):
    recorded: int
    already_known: int
    outstanding: int = Field(description="recalls whose remedy became outstanding")
    remedied: int = Field(description="recalls whose remedy became complete")


class EventIn(_Request):
    """One row of SPEC.md's events format; checked exactly as a file's row is."""

    event_id: str = Field(
        description="Unique; an event sent again with the same content is skipped"
    )
    person_id: str = Field(description="The source body's id for the person")
    event_type: Literal[EVENT_TYPES]  # type: ignore[valid-type]
    event_date: str = Field(description="YYYY-MM-DD")
    detail: str | None = Field(default=None, description="Free text")


class EventsIn(_Request):
    events: Records[EventIn]


class RecallCreated(BaseModel):
    recall_id: str
    disclosure_id: str
    recipient: str
    person_id: str
    reason: str
    record_id: str = Field(description="The recipient's own record the disclosure was about")


class EventsOut(BaseModel):
    applied: int
    already_applied: int
    withdrawn: list[str]
    frozen: list[str]
    review_items: list[str]
    recalls: list[RecallCreated]


class ReviewItemOut(BaseModel):
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


class ReviewPage(BaseModel):
    items: list[ReviewItemOut]
    next_after: str | None
    open_by_kind: dict[str, int]


class DecisionIn(_Request):
    approve: bool = Field(
        description="true lets the adverse outcome go ahead; false protects the person"
    )
    reason: Words = Field(description="Why, in words for the person")


class DecisionOut(BaseModel):
    item_id: str
    status: str
    approvals: int
    approvals_needed: int
    effect: str


class DisputeIn(_Request):
    detail: Words = Field(description="What is wrong, in your words")


class DisputeOut(BaseModel):
    event_id: str
    sharing_frozen: bool
    review_items: list[str]


class PauseIn(_Request):
    reason: Words
    cohort: str | None = Field(default=None, min_length=1, max_length=64, pattern=ID_PATTERN)


class PauseOut(BaseModel):
    agreement_id: str
    cohort: str | None
    pause_id: int
