"""The API for proposals to raise automation: read them, approve or reject them.

A proposal changes nothing until two different people approve it (docs/linkage.md):
each approval here is one authenticated user's, so two approvals need two users.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from accord.identity import Principal
from accord.linkage import proposals
from accord.vocab import ItemStatus
from accord.web.api.common import domain_errors_answered, errors
from accord.web.api.schemas import ID_PATTERN, DecisionIn
from accord.web.deps import Ctx, api_user

router = APIRouter()

Decider = Annotated[Principal, Depends(api_user("reviewer", "admin"))]
ProposalId = Annotated[str, Path(min_length=1, max_length=64, pattern=ID_PATTERN)]


class ProposalOut(BaseModel):
    proposal_id: str
    kind: str
    register_name: str = Field(validation_alias="register", serialization_alias="register")
    agreement_id: str | None
    pattern: str | None
    model_id: int | None
    labels: int
    wrong: int
    wrong_upper_per_10000: float | None
    automatic_gain: int | None
    status: str
    approvals_needed: int
    approved_by: str | None
    result_version: int | None
    ledger_index: int | None
    detail: dict[str, Any]


class ProposalDecisionOut(BaseModel):
    proposal_id: str
    status: str
    approvals: int
    approvals_needed: int
    effect: str


@router.get("/proposals", response_model=list[ProposalOut], responses=errors(), tags=["governance"])
def list_proposals(
    principal: Decider,
    ctx: Ctx,
    status: Annotated[str, Query(pattern="^(open|approved|rejected|all)$")] = ItemStatus.OPEN,
) -> list[ProposalOut]:
    """Proposals to raise automation, oldest first, with the labels behind each."""
    return [
        ProposalOut.model_validate(p, from_attributes=True)
        for p in proposals.list_proposals(ctx.url, status)
    ]


@router.post(
    "/proposals/{proposal_id}/decisions",
    response_model=ProposalDecisionOut,
    responses=errors(404, 409),
    tags=["governance"],
)
def decide(
    proposal_id: ProposalId, body: DecisionIn, principal: Decider, ctx: Ctx
) -> ProposalDecisionOut:
    """Approve or reject; the second different person's approval makes the change.

    No reason is a 422 naming ``reason``, an unknown proposal a 404, a proposal already
    settled or decided by this person a 409."""
    with domain_errors_answered(otherwise=409):
        outcome = proposals.decide(
            ctx.url, proposal_id, body.approve, principal.username, body.reason
        )
    return ProposalDecisionOut.model_validate(outcome, from_attributes=True)
