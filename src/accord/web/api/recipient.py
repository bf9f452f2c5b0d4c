"""The recipient body's API: fetch its batches and recalls, acknowledge them, report actions.

The recipient is always the one the token is bound to; an id belonging to another
recipient is refused exactly as an unknown one (404, or 422 for an actions row), so the
answer never tells whose it is, and nothing is written.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Response

from accord import formats, remedy
from accord.errors import InputError
from accord.identity import Principal
from accord.web import inbox
from accord.web.api.common import errors, unprocessable
from accord.web.api.schemas import (
    ID_PATTERN,
    Acknowledged,
    AcknowledgeDisclosures,
    AcknowledgeRecalls,
    ActionsIn,
    ActionsOut,
    BatchPage,
    RecallOut,
    RecallPage,
)
from accord.web.deps import Ctx, TokenCheck, api_token, api_user, transaction

router = APIRouter(tags=["recipient"])
Recipient = Annotated[Principal, Depends(api_user("recipient"))]
RecipientToken = Annotated[TokenCheck, Depends(api_token("recipient"))]

Limit = Annotated[int, Query(ge=1, le=inbox.MAX_PAGE, description="Items per page")]
After = Annotated[
    str | None,
    Query(max_length=64, pattern=ID_PATTERN, description="The `next_after` of the previous page"),
]


def _scope(principal: Principal) -> str:
    assert principal.recipient is not None, "identity binds every recipient user to a body"
    return principal.recipient


def _refuse_not_own(own: inbox.Ownership, what: str, recipient: str) -> None:
    """404 for ids not sent to this recipient, whether sent to another or never made.

    Both are answered alike (status, words, the ids listed in sorted order), so a
    recipient cannot tell another recipient's id from one that does not exist.
    """
    if own.foreign or own.unknown:
        missing = sorted(own.foreign + own.unknown)
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise HTTPException(404, f"no {what} sent to {recipient}: {shown}")


@router.get("/batches", response_model=BatchPage, responses=errors())
async def batches(
    caller: RecipientToken,
    ctx: Ctx,
    run: Annotated[
        str | None, Query(max_length=64, pattern=ID_PATTERN, description="Only this run")
    ] = None,
    unacknowledged: Annotated[bool, Query(description="Only those not yet acknowledged")] = False,
    after: After = None,
    limit: Limit = 100,
) -> Response:
    """The recipient's active disclosures: each one's id and the agreed fields only."""
    # The API's hot path: async, so the page is read on the event loop with no thread hop;
    # the token is checked in the same transaction as the read and its audit entry; and the
    # page goes out as the JSON `inbox.batch_json` writes (the schema above documents it).
    with transaction(ctx.url) as conn:
        principal = caller.principal(conn)
        body = inbox.batch_json(
            conn,
            _scope(principal),
            principal.username,
            run_id=run,
            unacknowledged=unacknowledged,
            after=after,
            limit=limit,
        )
    return Response(body, media_type="application/json")


@router.post("/batches/acknowledge", response_model=Acknowledged, responses=errors(404))
def acknowledge_batches(
    body: AcknowledgeDisclosures, principal: Recipient, ctx: Ctx
) -> Acknowledged:
    """Confirm receipt of disclosures (all must be this recipient's, else nothing changes)."""
    recipient = _scope(principal)
    with transaction(ctx.url) as conn:
        _refuse_not_own(
            inbox.disclosure_ownership(conn, recipient, body.disclosure_ids),
            "disclosure(s)",
            recipient,
        )
        done, already = inbox.acknowledge_disclosures(
            conn, recipient, body.disclosure_ids, principal.username
        )
    return Acknowledged(acknowledged=done, already_acknowledged=already)


@router.get("/recalls", response_model=RecallPage, responses=errors())
def recalls(
    principal: Recipient,
    ctx: Ctx,
    unacknowledged: Annotated[bool, Query(description="Only those not yet acknowledged")] = False,
    after: After = None,
    limit: Limit = 100,
) -> RecallPage:
    """Disclosures withdrawn from this recipient: stop using them, and undo what was done."""
    with transaction(ctx.url) as conn:
        page = inbox.recalls(
            conn,
            _scope(principal),
            principal.username,
            unacknowledged=unacknowledged,
            after=after,
            limit=limit,
        )
    return RecallPage(
        items=[RecallOut.model_validate(i, from_attributes=True) for i in page.items],
        next_after=page.next_after,
    )


@router.post("/recalls/acknowledge", response_model=Acknowledged, responses=errors(404))
def acknowledge_recalls(body: AcknowledgeRecalls, principal: Recipient, ctx: Ctx) -> Acknowledged:
    """Confirm receipt of recalls (all must be this recipient's, else nothing changes)."""
    recipient = _scope(principal)
    with transaction(ctx.url) as conn:
        _refuse_not_own(
            inbox.recall_ownership(conn, recipient, body.recall_ids), "recall(s)", recipient
        )
        done, already = inbox.acknowledge_recalls(
            conn, recipient, body.recall_ids, principal.username
        )
    return Acknowledged(acknowledged=done, already_acknowledged=already)


@router.post("/actions", response_model=ActionsOut, responses=errors())
def report_actions(body: ActionsIn, principal: Recipient, ctx: Ctx) -> ActionsOut:
    """Report what the recipient did with its disclosures (SPEC.md actions), all or nothing.

    A bad row is refused with 422 naming the row and column, and nothing is recorded; a
    row naming another recipient's disclosure is refused exactly as one naming a
    disclosure that does not exist.
    """
    recipient = _scope(principal)
    records = [a.model_dump() for a in body.actions]
    try:
        table = formats.load_records(records, "actions", source="request body")
    except InputError as exc:
        raise unprocessable(exc, "actions") from None
    try:
        result = remedy.record_actions(
            ctx.url, recipient, table, "request body", principal.username
        )
    except InputError as exc:
        raise unprocessable(exc, "actions") from None
    return ActionsOut.model_validate(result, from_attributes=True)
