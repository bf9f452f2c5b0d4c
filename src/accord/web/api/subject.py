"""The data subject's own API: their report, and opening a dispute (which freezes sharing).

A subject user is bound to one person id; nothing here takes a person id from the
request, so no subject can ask about anyone else.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException

from accord import events, formats
from accord.errors import AccordError, InputError
from accord.identity import Principal
from accord.rights import assemble, document
from accord.vocab import EventType
from accord.web.api.common import errors, operators_problem, unprocessable
from accord.web.api.schemas import DisputeIn, DisputeOut
from accord.web.deps import Ctx, api_user

router = APIRouter(tags=["subject"])
Subject = Annotated[Principal, Depends(api_user("subject"))]


def person_of(principal: Principal) -> str:
    assert principal.person_id is not None, "identity binds every subject user to a person"
    return principal.person_id


def subject_report(
    url: str, principal: Principal, output_format: str
) -> tuple[document.SubjectAccessReport, bytes]:
    """The subject's report and its rendering (json, html or pdf) through `accord.rights`,
    which writes the audit entry for it."""
    try:
        return assemble.produce(
            url, person_of(principal), produced_by=principal.username, output_format=output_format
        )
    except AccordError as exc:
        # What went wrong is for the operators (the log has it); the person gets plain
        # words and a reference to quote, never instructions meant for an operator.
        raise HTTPException(
            409, operators_problem(exc, "Your report cannot be produced right now")
        ) from None


def open_dispute(url: str, principal: Principal, detail: str) -> DisputeOut:
    """A ``dispute_opened`` event through `accord.events`: sharing about the person freezes."""
    event_id = f"WEB-{dt.date.today():%Y%m%d}-{secrets.token_hex(6)}"
    record: dict[str, object] = {
        "event_id": event_id,
        "person_id": person_of(principal),
        "event_type": EventType.DISPUTE_OPENED,
        "event_date": dt.date.today().isoformat(),
        "detail": detail.strip(),
    }
    try:
        table = formats.load_records([record], "events", source="dispute form")
        result = events.apply_events(
            url, table, "dispute form", dt.date.today(), principal.username
        )
    except InputError as exc:
        raise unprocessable(exc, "detail") from None
    return DisputeOut(
        event_id=event_id,
        sharing_frozen=person_of(principal) in result.frozen,
        review_items=result.review_items,
    )


@router.get("/me/report", response_model=dict[str, Any], responses=errors(409))
def my_report(principal: Subject, ctx: Ctx) -> dict[str, Any]:
    """Everything held and shared about you, with proofs (SPEC.md F10)."""
    report, _ = subject_report(ctx.url, principal, "json")
    return report.model_dump(mode="json")


@router.post("/me/disputes", response_model=DisputeOut, responses=errors(409), status_code=201)
def dispute(body: DisputeIn, principal: Subject, ctx: Ctx) -> DisputeOut:
    """Say that something held about you is wrong: sharing about you stops until resolved."""
    if not body.detail.strip():
        raise HTTPException(
            422, [{"loc": ["body", "detail"], "msg": "say what is wrong", "type": "value_error"}]
        )
    return open_dispute(ctx.url, principal, body.detail)
