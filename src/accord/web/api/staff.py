"""The API for the source body's staff: events, review, people, oversight and policy."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from sqlalchemy import Connection

from accord import blind, events, formats, review
from accord.config import settings
from accord.errors import AccordError, InputError
from accord.identity import Principal
from accord.policy import pauses
from accord.policy.policy import load_policy
from accord.vocab import REVIEW_KINDS, ROLES, ItemStatus
from accord.web import readmodels
from accord.web.api.common import domain_errors_answered, errors, http_error, unprocessable
from accord.web.api.schemas import (
    ID_PATTERN,
    DecisionIn,
    DecisionOut,
    EventsIn,
    EventsOut,
    PauseIn,
    PauseOut,
    ReviewItemOut,
    ReviewPage,
    WhoAmI,
)
from accord.web.deps import Ctx, api_user, transaction

router = APIRouter()

Anyone = Annotated[Principal, Depends(api_user(*ROLES))]
Caseworker = Annotated[Principal, Depends(api_user("caseworker"))]
Reviewer = Annotated[Principal, Depends(api_user("reviewer"))]
Auditor = Annotated[Principal, Depends(api_user("auditor"))]
Admin = Annotated[Principal, Depends(api_user("admin"))]
PolicyReader = Annotated[Principal, Depends(api_user("admin", "auditor"))]

ItemId = Annotated[str, Path(min_length=1, max_length=64, pattern=ID_PATTERN)]
PersonId = Annotated[str, Path(min_length=1, max_length=64, pattern=ID_PATTERN)]
AgreementId = Annotated[str, Path(min_length=1, max_length=64, pattern=ID_PATTERN)]

# A read model's audited read of one thing by its id: ``read(conn, id, actor, via)``.
ReadOne = Callable[[Connection, str, str, str], dict[str, Any] | None]


def _read_one(url: str, read: ReadOne, key: str, actor: str, what: str) -> dict[str, Any]:
    """One thing by its id, read and audited in one transaction; 404 if there is none."""
    with transaction(url) as conn:
        detail = read(conn, key, actor, "api")
    if detail is None:
        raise HTTPException(404, f"no {what} {key!r}")
    return detail


@router.get("/whoami", response_model=WhoAmI, responses=errors(), tags=["identity"])
def whoami(principal: Anyone) -> WhoAmI:
    """Who the token belongs to, and the scope it is bound to."""
    return WhoAmI.model_validate(principal, from_attributes=True)


@router.post("/events", response_model=EventsOut, responses=errors(), tags=["source"])
def submit_events(body: EventsIn, principal: Caseworker, ctx: Ctx) -> EventsOut:
    """Submit facts that arrived after a run (SPEC.md events), applied whole or not at all.

    The same checks as `accord events FILE`; a bad row is a 422 naming its row and
    column.  Withdrawals recall what was shared; disputes and new evidence freeze sharing.
    """
    records = [e.model_dump() for e in body.events]
    try:
        table = formats.load_records(records, "events", source="request body")
        result = events.apply_events(
            ctx.url, table, "request body", dt.date.today(), principal.username
        )
    except InputError as exc:
        raise unprocessable(exc, "events") from None
    return EventsOut.model_validate(result, from_attributes=True)


@router.get("/review/items", response_model=ReviewPage, responses=errors(), tags=["review"])
def review_items(
    principal: Reviewer,
    ctx: Ctx,
    kind: Annotated[
        str | None, Query(max_length=64, pattern=ID_PATTERN, description=", ".join(REVIEW_KINDS))
    ] = None,
    status: Annotated[str, Query(pattern="^(open|approved|rejected|all)$")] = ItemStatus.OPEN,
    after: Annotated[str | None, Query(max_length=64, pattern=ID_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=readmodels.MAX_PAGE)] = 50,
) -> ReviewPage:
    """The review queue, oldest first."""
    if kind is not None and kind not in REVIEW_KINDS:
        raise HTTPException(
            400, f"unknown review kind {kind!r}: use one of {', '.join(REVIEW_KINDS)}"
        )
    with transaction(ctx.url) as conn:
        page = readmodels.review_queue(
            conn, principal.username, kind=kind, status=status, after=after, limit=limit, via="api"
        )
    return ReviewPage(
        items=[ReviewItemOut.model_validate(i, from_attributes=True) for i in page.items],
        next_after=page.next_after,
        open_by_kind=page.open_by_kind,
    )


@router.get(
    "/review/items/{item_id}", response_model=dict[str, Any], responses=errors(404), tags=["review"]
)
def review_item(item_id: ItemId, principal: Reviewer, ctx: Ctx) -> dict[str, Any]:
    """One item with everything a reviewer weighs: both records, the comparisons, the reasons.

    Under an agreement that reviews blind, the score (chances, weights, the evidence
    sentences quoting them) is left out until this reviewer has decided the item."""
    return _read_one(ctx.url, _seen_by_reviewer, item_id, principal.username, "review item")


def _seen_by_reviewer(
    conn: Connection, item_id: str, actor: str, via: str
) -> dict[str, Any] | None:
    detail = readmodels.review_item(conn, item_id, actor, via)
    return None if detail is None else blind.for_reviewer(conn, detail, actor)


@router.post(
    "/review/items/{item_id}/decisions",
    response_model=DecisionOut,
    responses=errors(404, 409),
    tags=["review"],
)
def decide(item_id: ItemId, body: DecisionIn, principal: Reviewer, ctx: Ctx) -> DecisionOut:
    """Approve or reject; adverse outcomes need as many distinct reviewers as the item asks.

    No reason is a 422 naming ``reason``, an unknown item a 404, an item already settled
    or decided by this reviewer a 409."""
    with domain_errors_answered(otherwise=409):
        outcome = review.decide(
            ctx.url, item_id, body.approve, principal.username, body.reason, dt.date.today()
        )
    return DecisionOut.model_validate(outcome, from_attributes=True)


@router.get(
    "/people/{person_id}", response_model=dict[str, Any], responses=errors(404), tags=["people"]
)
def person(person_id: PersonId, principal: Caseworker, ctx: Ctx) -> dict[str, Any]:
    """Everything held and done about one person (the read is written to the audit log)."""
    return _read_one(ctx.url, readmodels.person, person_id, principal.username, "person")


@router.get(
    "/oversight/counts", response_model=dict[str, Any], responses=errors(), tags=["oversight"]
)
def oversight_counts(principal: Auditor, ctx: Ctx) -> dict[str, Any]:
    """Live counts: disclosures, recalls, outstanding remedies, review queue by kind."""
    with transaction(ctx.url) as conn:
        return readmodels.live_counts(conn)


@router.get("/agreements", response_model=list[dict[str, Any]], responses=errors(), tags=["policy"])
def agreements(principal: PolicyReader, ctx: Ctx) -> list[dict[str, Any]]:
    """The agreements in force, their agreed fields and any pauses."""
    with transaction(ctx.url) as conn:
        return readmodels.agreements(conn)


def _pause_route(verb: str) -> Callable[[Callable[..., PauseOut]], Callable[..., PauseOut]]:
    """The route of either half of the pause control: each answers a ``PauseOut``, 404
    for an unknown agreement and 409 for a conflict."""
    return router.post(
        f"/agreements/{{agreement_id}}/{verb}",
        response_model=PauseOut,
        responses=errors(404, 409),
        tags=["policy"],
    )


def _change_pause(agreement_id: str, body: PauseIn, change: Callable[[], int]) -> PauseOut:
    """Pause or resume sharing under a known agreement (else 404); no reason is a 422
    naming ``reason``, a conflict a 409."""
    try:
        pause_id = change()
    except AccordError as exc:
        raise http_error(exc, otherwise=409) from None
    return PauseOut(agreement_id=agreement_id, cohort=body.cohort, pause_id=pause_id)


@_pause_route("pause")
def pause(agreement_id: AgreementId, body: PauseIn, principal: Admin, ctx: Ctx) -> PauseOut:
    """Pause sharing under an agreement, or for one cohort in it, from the next run on."""
    return _change_pause(
        agreement_id,
        body,
        lambda: pauses.pause(
            ctx.url,
            agreement_id,
            body.cohort,
            body.reason,
            principal.username,
            policy=load_policy(settings().policy),
        ),
    )


@_pause_route("resume")
def resume(agreement_id: AgreementId, body: PauseIn, principal: Admin, ctx: Ctx) -> PauseOut:
    """Lift a pause; held disclosures are decided again at the next run."""
    return _change_pause(
        agreement_id,
        body,
        lambda: pauses.resume(ctx.url, agreement_id, body.cohort, body.reason, principal.username),
    )
