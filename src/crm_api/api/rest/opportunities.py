"""/api/v1/opportunities: possible sales on accounts, moved through the sales stages; every
stage change is history, and may be entered late with its own `occurred_at`."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from crm_api.api.rest.conventions import (
    PROBLEMS,
    HistoryEntry,
    Instant,
    ListEnvelope,
    Strict,
    history,
    listed,
    one,
    point_in_time,
    wait_min_position,
    written,
)
from crm_api.api.rest.custom_fields import CustomFieldsIn, CustomFieldsOut, CustomFilter
from crm_api.api.rest.deps import Command, CurrentPrincipal, IfMatch, PagingDep, ServicesDep
from crm_api.application.opportunities import opportunity_view
from crm_api.domain.errors import FieldError, ValidationFailed
from crm_api.domain.opportunities import Opportunity
from crm_api.projections.custom_fields import with_custom_fields
from crm_api.projections.opportunities import OPPORTUNITY_SORTS, list_opportunities
from crm_api.projections.paging import Sort

router = APIRouter(prefix="/api/v1/opportunities", tags=["opportunities"], responses=PROBLEMS)

Name = Annotated[str, Field(min_length=1, max_length=200)]
Money = Annotated[
    Decimal,
    Field(ge=0, max_digits=14, decimal_places=2, description='A decimal string, e.g. "1500.00"'),
]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217, e.g. EUR")]
OpenStage = Literal["prospecting", "qualification", "proposal", "negotiation"]
Stage = Literal["prospecting", "qualification", "proposal", "negotiation", "won", "lost"]
OccurredAt = Annotated[
    dt.datetime | None,
    Field(
        description="Business time of the change (default: now). Not in the future, not "
        "before the opportunity was created. Naive times are UTC."
    ),
]


class OpportunityCreate(Strict):
    account_id: UUID
    name: Name
    amount: Money
    currency: Currency
    expected_close_date: dt.date
    product_id: UUID | None = None
    owner_id: UUID | None = Field(None, description="Default: the account's owner.")
    stage: OpenStage = "prospecting"
    occurred_at: OccurredAt = None
    custom_fields: CustomFieldsIn | None = None


class OpportunityUpdate(Strict):
    """Only the fields sent change; product_id null clears the product."""

    name: Name | None = None
    amount: Money | None = None
    currency: Currency | None = None
    expected_close_date: dt.date | None = None
    product_id: UUID | None = None
    owner_id: UUID | None = None
    custom_fields: CustomFieldsIn | None = None


class StageMove(Strict):
    stage: OpenStage
    occurred_at: OccurredAt = None


class Win(Strict):
    occurred_at: OccurredAt = None


class Lose(Strict):
    reason: str | None = Field(None, max_length=500, description="Required, 1–500 characters.")
    occurred_at: OccurredAt = None


class Reopen(Strict):
    stage: OpenStage
    occurred_at: OccurredAt = None


class OpportunityOut(BaseModel):
    id: UUID
    account_id: UUID
    name: str
    amount: Decimal
    currency: str
    expected_close_date: dt.date
    product_id: UUID | None
    owner_id: UUID
    stage: str
    lost_reason: str | None
    opened_at: dt.datetime = Field(description="Business time of creation (its occurred_at).")
    won_at: dt.datetime | None
    lost_at: dt.datetime | None
    custom_fields: CustomFieldsOut
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


def opportunity_changes(body: OpportunityUpdate) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    for required in ("name", "amount", "currency", "expected_close_date", "owner_id"):
        if required in changes and changes[required] is None:
            raise ValidationFailed([FieldError(required, "cannot be null")])
    for key in ("product_id", "owner_id"):
        if changes.get(key) is not None:
            changes[key] = str(changes[key])
    return changes


def opportunity_details(body: OpportunityCreate) -> dict[str, Any]:
    details = body.model_dump()
    details["account_id"] = str(body.account_id)
    details["product_id"] = str(body.product_id) if body.product_id else None
    details["owner_id"] = str(body.owner_id) if body.owner_id else None
    return details


@router.post("", status_code=201, response_model=OpportunityOut)
def open_opportunity(
    body: OpportunityCreate, ctx: Command, services: ServicesDep, response: Response
) -> Any:
    outcome = services.opportunities.open_opportunity(ctx, **opportunity_details(body))
    return written(services, response, outcome, opportunity_view, created_at=router.prefix)


@router.get("", response_model=ListEnvelope[OpportunityOut])
def search_opportunities(
    principal: CurrentPrincipal,
    services: ServicesDep,
    paging: PagingDep,
    custom: CustomFilter("opportunities"),
    owner_id: UUID | None = None,
    account_id: UUID | None = None,
    stage: Stage | None = None,
    q: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    updated_since: Instant | None = None,
) -> Any:
    principal.require("opportunities:read")
    wait_min_position(services, paging.min_position)
    sort = Sort.parse(paging.sort, OPPORTUNITY_SORTS + custom.sort_names, "name")
    with services.read() as conn:
        page = list_opportunities(
            conn,
            visible_owners=None if principal.training else principal.visible_owners,
            sort=sort,
            cursor=paging.cursor,
            limit=paging.limit,
            owner_id=str(owner_id) if owner_id else None,
            account_id=str(account_id) if account_id else None,
            stage=stage,
            q=q,
            updated_since=updated_since,
            custom=custom,
        )
        page = with_custom_fields(conn, "opportunities", page)
    return listed(page)


@router.get("/{opportunity_id}", response_model=OpportunityOut)
def get_opportunity(
    opportunity_id: str,
    principal: CurrentPrincipal,
    services: ServicesDep,
    response: Response,
    as_of: dt.datetime | None = None,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> Any:
    opportunity = services.opportunities.get_opportunity(principal, opportunity_id)
    past = point_in_time(services.app, opportunity, Opportunity, version=version, as_of=as_of)
    return one(response, past, opportunity_view)


@router.patch("/{opportunity_id}", response_model=OpportunityOut)
def change_opportunity(
    opportunity_id: str,
    body: OpportunityUpdate,
    ctx: Command,
    if_match: IfMatch,
    services: ServicesDep,
    response: Response,
) -> Any:
    outcome = services.opportunities.change_opportunity(
        ctx, opportunity_id, opportunity_changes(body), if_match
    )
    return written(services, response, outcome, opportunity_view)


@router.post("/{opportunity_id}/stage", response_model=OpportunityOut)
def move_stage(
    opportunity_id: str,
    body: StageMove,
    ctx: Command,
    if_match: IfMatch,
    services: ServicesDep,
    response: Response,
) -> Any:
    outcome = services.opportunities.move_stage(
        ctx, opportunity_id, body.stage, body.occurred_at, if_match
    )
    return written(services, response, outcome, opportunity_view)


@router.post("/{opportunity_id}/win", response_model=OpportunityOut)
def win_opportunity(
    opportunity_id: str,
    ctx: Command,
    if_match: IfMatch,
    services: ServicesDep,
    response: Response,
    body: Win | None = None,
) -> Any:
    occurred_at = body.occurred_at if body else None
    outcome = services.opportunities.win(ctx, opportunity_id, occurred_at, if_match)
    return written(services, response, outcome, opportunity_view)


@router.post("/{opportunity_id}/lose", response_model=OpportunityOut)
def lose_opportunity(
    opportunity_id: str,
    body: Lose,
    ctx: Command,
    if_match: IfMatch,
    services: ServicesDep,
    response: Response,
) -> Any:
    outcome = services.opportunities.lose(
        ctx, opportunity_id, body.reason, body.occurred_at, if_match
    )
    return written(services, response, outcome, opportunity_view)


@router.post("/{opportunity_id}/reopen", response_model=OpportunityOut)
def reopen_opportunity(
    opportunity_id: str,
    body: Reopen,
    ctx: Command,
    if_match: IfMatch,
    services: ServicesDep,
    response: Response,
) -> Any:
    outcome = services.opportunities.reopen(
        ctx, opportunity_id, body.stage, body.occurred_at, if_match
    )
    return written(services, response, outcome, opportunity_view)


@router.get("/{opportunity_id}/history", response_model=ListEnvelope[HistoryEntry])
def opportunity_history(
    opportunity_id: str,
    principal: CurrentPrincipal,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
) -> Any:
    principal.require("history:read")
    opportunity = services.opportunities.get_opportunity(principal, opportunity_id)
    return history(services.app, opportunity, Opportunity, cursor, limit)
