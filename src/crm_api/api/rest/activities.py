"""/api/v1/activities: every interaction with a customer, possibly entered late (back-dated)
or by an assistant for its rep; and /api/v1/accounts/{id}/timeline, an account's activities
merged with every event of its records, newest first."""

from __future__ import annotations

import datetime as dt
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
from crm_api.application.activities import activity_view, utc
from crm_api.domain.activities import Activity
from crm_api.domain.errors import FieldError, ValidationFailed
from crm_api.projections.custom_fields import with_custom_fields
from crm_api.projections.paging import Sort
from crm_api.projections.timeline import account_timeline, parse_types
from crm_api.projections.work import ACTIVITY_SORTS, list_activities

router = APIRouter(prefix="/api/v1", tags=["activities"], responses=PROBLEMS)

ActivityType = Literal["call", "visit", "email", "meeting", "note"]
Subject = Annotated[str, Field(min_length=1, max_length=200)]
Notes = Annotated[str, Field(max_length=10_000)]
Line = Annotated[str, Field(max_length=500)]
Minutes = Annotated[int, Field(ge=0, le=24 * 60)]


class ActivityCreate(Strict):
    account_id: UUID
    type: ActivityType
    occurred_at: dt.datetime | None = Field(
        None,
        description="When it happened (default: now). May be in the past; not more than a few "
        "minutes in the future. Naive times are UTC.",
    )
    subject: Subject | None = None
    notes: Notes | None = None
    contact_id: UUID | None = Field(None, description="A contact of the account.")
    opportunity_id: UUID | None = Field(None, description="An opportunity of the account.")
    service_request_id: UUID | None = Field(None, description="A service request of the account.")
    duration_minutes: Minutes | None = None
    outcome: Line | None = None
    next_step: Line | None = None
    owner_id: UUID | None = Field(
        None,
        description="Who had the interaction. Default: the caller (or the rep an assistant "
        "acts for); for an admin or an integrator key, the account's owner.",
    )
    custom_fields: CustomFieldsIn | None = None


class ActivityUpdate(Strict):
    """Only the fields sent change; null clears an optional field. The account never changes."""

    type: ActivityType | None = None
    occurred_at: dt.datetime | None = None
    subject: Subject | None = None
    notes: Notes | None = None
    contact_id: UUID | None = None
    opportunity_id: UUID | None = None
    service_request_id: UUID | None = None
    duration_minutes: Minutes | None = None
    outcome: Line | None = None
    next_step: Line | None = None
    custom_fields: CustomFieldsIn | None = None


class ActivityOut(BaseModel):
    id: UUID
    account_id: UUID
    owner_id: UUID = Field(description="Who had the interaction (the rep).")
    type: str
    subject: str | None
    notes: str | None
    contact_id: UUID | None
    opportunity_id: UUID | None
    service_request_id: UUID | None
    duration_minutes: int | None
    outcome: str | None
    next_step: str | None
    occurred_at: dt.datetime = Field(description="When it happened (business time).")
    entered_by: str = Field(description="Who typed it in (a user or API key id).")
    on_behalf_of: str | None = Field(description="The rep an assistant entered it for.")
    custom_fields: CustomFieldsOut
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class TimelineItem(BaseModel):
    id: str
    kind: str = Field(
        description="activity: one interaction; event: one event of one of the account's records."
    )
    record_type: str
    record_id: UUID
    event_type: str
    summary: str
    occurred_at: dt.datetime
    recorded_at: dt.datetime
    actor: str
    on_behalf_of: str | None
    position: int


def activity_details(body: ActivityCreate) -> dict[str, Any]:
    details = body.model_dump()
    for key in ("account_id", "contact_id", "opportunity_id", "service_request_id", "owner_id"):
        details[key] = str(details[key]) if details[key] is not None else None
    return details


def activity_changes(body: ActivityUpdate) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    for required in ("type", "occurred_at"):
        if required in changes and changes[required] is None:
            raise ValidationFailed([FieldError(required, "cannot be null")])
    for key in ("contact_id", "opportunity_id", "service_request_id"):
        if changes.get(key) is not None:
            changes[key] = str(changes[key])
    return changes


def period_bounds(
    start: dt.datetime | None, end: dt.datetime | None
) -> tuple[dt.datetime | None, dt.datetime | None]:
    start, end = (utc(start) if start else None), (utc(end) if end else None)
    if start is not None and end is not None and end <= start:
        raise ValidationFailed([FieldError("to", "must be after from")])
    return start, end


@router.post("/activities", status_code=201, response_model=ActivityOut)
def record_activity(
    body: ActivityCreate, ctx: Command, services: ServicesDep, response: Response
) -> Any:
    outcome = services.activities.record_activity(ctx, **activity_details(body))
    return written(services, response, outcome, activity_view, created_at="/api/v1/activities")


@router.get("/activities", response_model=ListEnvelope[ActivityOut])
def search_activities(
    principal: CurrentPrincipal,
    services: ServicesDep,
    paging: PagingDep,
    custom: CustomFilter("activities"),
    account_id: UUID | None = None,
    type: ActivityType | None = None,
    owner_id: UUID | None = None,
    from_: Annotated[Instant | None, Query(alias="from")] = None,
    to: Instant | None = None,
) -> Any:
    """Newest first by default (`sort=-occurred_at`); `from`/`to` bound occurred_at [from, to)."""
    principal.require("activities:read")
    wait_min_position(services, paging.min_position)
    sort = Sort.parse(paging.sort, ACTIVITY_SORTS + custom.sort_names, "-occurred_at")
    start, end = period_bounds(from_, to)
    with services.read() as conn:
        page = list_activities(
            conn,
            visible_owners=None if principal.training else principal.visible_owners,
            sort=sort,
            cursor=paging.cursor,
            limit=paging.limit,
            account_id=str(account_id) if account_id else None,
            type=type,
            owner_id=str(owner_id) if owner_id else None,
            start=start,
            end=end,
            custom=custom,
        )
        page = with_custom_fields(conn, "activities", page)
    return listed(page)


@router.get("/activities/{activity_id}", response_model=ActivityOut)
def get_activity(
    activity_id: str,
    principal: CurrentPrincipal,
    services: ServicesDep,
    response: Response,
    as_of: dt.datetime | None = None,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> Any:
    activity = services.activities.get_activity(principal, activity_id)
    past = point_in_time(services.app, activity, Activity, version=version, as_of=as_of)
    return one(response, past, activity_view)


@router.patch("/activities/{activity_id}", response_model=ActivityOut)
def change_activity(
    activity_id: str,
    body: ActivityUpdate,
    ctx: Command,
    if_match: IfMatch,
    services: ServicesDep,
    response: Response,
) -> Any:
    outcome = services.activities.change_activity(
        ctx, activity_id, activity_changes(body), if_match
    )
    return written(services, response, outcome, activity_view)


@router.get("/activities/{activity_id}/history", response_model=ListEnvelope[HistoryEntry])
def activity_history(
    activity_id: str,
    principal: CurrentPrincipal,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
) -> Any:
    principal.require("history:read")
    activity = services.activities.get_activity(principal, activity_id)
    return history(services.app, activity, Activity, cursor, limit)


@router.get(
    "/accounts/{account_id}/timeline",
    response_model=ListEnvelope[TimelineItem],
    tags=["accounts"],
)
def timeline(
    account_id: str,
    principal: CurrentPrincipal,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=200, description="Page size, 1–200.")] = 50,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
    types: Annotated[
        list[str] | None,
        Query(
            max_length=20,
            description="Activity types (call, visit, …) and record kinds (account, contact, "
            "opportunity, quote, order, shipment, invoice), comma-separated or repeated.",
        ),
    ] = None,
    min_position: Annotated[int | None, Query(ge=0)] = None,
) -> Any:
    """Newest first by business time (occurred_at), then log position."""
    principal.require("activities:read")
    account = services.accounts.get_account(principal, account_id)
    wait_min_position(services, min_position)
    with services.read() as conn:
        page = account_timeline(
            conn, str(account.id), cursor=cursor, limit=limit, types=parse_types(types)
        )
    return listed(page)
