"""/api/v1/service-requests: inquiries, complaints, faults and repairs, routed when opened,
worked through their states under an SLA clock, and evaluated by the customer."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, EmailStr, Field

from crm_api.api.rest.attachments import AttachmentOut
from crm_api.api.rest.conventions import (
    PROBLEMS,
    HistoryEntry,
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
from crm_api.application.app import Outcome
from crm_api.application.service import request_view
from crm_api.application.services import Services
from crm_api.domain.people import Principal, Role
from crm_api.domain.service import ServiceRequest
from crm_api.domain.sla import sla_view
from crm_api.projections.custom_fields import CustomFieldQuery, with_custom_fields
from crm_api.projections.paging import Page, Sort
from crm_api.projections.service import REQUEST_SORTS, list_requests

router = APIRouter(prefix="/api/v1/service-requests", tags=["service requests"], responses=PROBLEMS)

Kind = Literal["inquiry", "complaint", "fault", "repair"]
Channel = Literal["phone", "email", "web", "call_center", "in_person"]
Priority = Literal["low", "normal", "high", "urgent"]
RequestState = Literal[
    "new", "assigned", "in_progress", "waiting_on_customer", "resolved", "closed", "reopened"
]
Text = Annotated[str, Field(min_length=1, max_length=5000)]
Reason = Annotated[str | None, Field(None, max_length=5000)]


class RequestOpen(Strict):
    account_id: UUID
    kind: Kind
    channel: Channel
    priority: Priority = "normal"
    subject: Annotated[str, Field(min_length=1, max_length=300)]
    description: Text | None = None
    asset_id: UUID | None = Field(None, description="Must belong to the account.")
    contact_id: UUID | None = Field(None, description="Must belong to the account.")
    custom_fields: CustomFieldsIn | None = None


class RequestUpdate(Strict):
    """A request's custom fields (its work goes through the state commands)."""

    custom_fields: CustomFieldsIn


class Assign(Strict):
    assignee_id: UUID | None = None
    queue_id: UUID | None = None


class WithReason(Strict):
    reason: Reason = None


class Resolve(Strict):
    resolution: Text
    notify_customer: bool = Field(
        True, description="Email the contact the resolution (when it has an email address)."
    )


class Evaluate(Strict):
    satisfied: bool
    score: Annotated[int, Field(ge=1, le=5)]
    comment: Reason = None


class Message(Strict):
    text: Text


class Notify(Strict):
    to: EmailStr | None = Field(None, description="Default: the request's contact's email.")
    template: Literal["update", "resolved"] = "update"
    message: Reason = None


class SlaOut(BaseModel):
    first_response_due_at: dt.datetime | None
    resolve_due_at: dt.datetime | None
    paused: bool
    paused_since: dt.datetime | None
    paused_seconds: int
    first_response: str = Field(description="none, pending, met or breached")
    resolution: str = Field(description="none, pending, paused, met or breached")


class MessageOut(BaseModel):
    id: str
    kind: str = Field(
        description="reply (the customer sees it), note (internal) or customer (the customer "
        "wrote: an inbound email)"
    )
    text: str
    at: dt.datetime


class NotificationOut(BaseModel):
    id: str
    to: str
    subject: str
    template: str


class EvaluationOut(BaseModel):
    satisfied: bool
    score: int
    comment: str | None


class RequestRow(BaseModel):
    id: UUID
    account_id: UUID
    asset_id: UUID | None
    product_id: UUID | None
    contact_id: UUID | None
    kind: str
    channel: str
    priority: str
    subject: str
    state: str
    assignee_id: UUID | None
    queue_id: UUID | None
    routed_by_rule_id: UUID | None
    reopen_count: int
    opened_at: dt.datetime
    first_responded_at: dt.datetime | None
    resolved_at: dt.datetime | None
    closed_at: dt.datetime | None
    sla: SlaOut
    custom_fields: CustomFieldsOut
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class RequestOut(RequestRow):
    description: str | None
    resolution: str | None
    evaluation: EvaluationOut | None
    messages: list[MessageOut]
    notifications: list[NotificationOut]
    attachments: list[AttachmentOut]


def _view(services: Services) -> Callable[[ServiceRequest], dict[str, Any]]:
    return lambda request: request_view(request, services.clock.now())


def row_with_sla(row: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    sla = sla_view(
        first_response_due_at=row.pop("first_response_due_at"),
        resolve_due_at=row.pop("resolve_due_at"),
        paused_since=row.pop("paused_since"),
        paused_seconds=row.pop("paused_seconds"),
        first_responded_at=row["first_responded_at"],
        resolved_at=row["resolved_at"],
        now=now,
    )
    return {**row, "sla": sla}


def request_page(
    services: Services,
    principal: Principal,
    sort: Sort,
    cursor: str | None,
    limit: int,
    filters: dict[str, Any],
    custom: CustomFieldQuery | None = None,
) -> Page:
    agent = principal.role is Role.SERVICE_AGENT and not principal.training
    with services.read() as conn:
        page = list_requests(
            conn,
            visible_owners=None if principal.training else principal.visible_owners,
            agent_id=principal.id if agent else None,
            sort=sort,
            cursor=cursor,
            limit=limit,
            filters={k: str(v) if isinstance(v, UUID) else v for k, v in filters.items()},
            custom=custom,
        )
        page = with_custom_fields(conn, "service-requests", page)
    now = services.clock.now()
    return Page([row_with_sla(row, now) for row in page.rows], page.next_cursor)


def _answer(services: Services, response: Response, outcome: Outcome[ServiceRequest]) -> Any:
    return written(services, response, outcome, _view(services))


@router.post("", status_code=201, response_model=RequestOut)
def open_request(body: RequestOpen, ctx: Command, services: ServicesDep, response: Response) -> Any:
    details = {k: str(v) if isinstance(v, UUID) else v for k, v in body.model_dump().items()}
    outcome = services.service.open_request(ctx, **details)
    return written(services, response, outcome, _view(services), created_at=router.prefix)


@router.get("", response_model=ListEnvelope[RequestRow])
def search_requests(
    principal: CurrentPrincipal,
    services: ServicesDep,
    paging: PagingDep,
    custom: CustomFilter("service-requests"),
    account_id: UUID | None = None,
    asset_id: UUID | None = None,
    assignee_id: UUID | None = None,
    queue_id: UUID | None = None,
    state: RequestState | None = None,
    kind: Kind | None = None,
    priority: Priority | None = None,
) -> Any:
    principal.require("service:read")
    wait_min_position(services, paging.min_position)
    filters = {
        "account_id": account_id,
        "asset_id": asset_id,
        "assignee_id": assignee_id,
        "queue_id": queue_id,
        "state": state,
        "kind": kind,
        "priority": priority,
    }
    sort = Sort.parse(paging.sort, REQUEST_SORTS + custom.sort_names, "-opened_at")
    return listed(
        request_page(services, principal, sort, paging.cursor, paging.limit, filters, custom)
    )


@router.patch("/{request_id}", response_model=RequestOut)
def change_request(
    request_id: str,
    body: RequestUpdate,
    ctx: Command,
    if_match: IfMatch,
    services: ServicesDep,
    response: Response,
) -> Any:
    outcome = services.service.change_request_custom_fields(
        ctx, request_id, body.custom_fields, if_match
    )
    return _answer(services, response, outcome)


@router.get("/{request_id}", response_model=RequestOut)
def get_request(
    request_id: str,
    principal: CurrentPrincipal,
    services: ServicesDep,
    response: Response,
    as_of: dt.datetime | None = None,
    version: Annotated[int | None, Query(ge=1)] = None,
    audience: Annotated[
        Literal["internal", "customer"],
        Query(description="customer: internal notes are left out (a customer-facing view)."),
    ] = "internal",
) -> Any:
    request = services.service.get_request(principal, request_id)
    past = point_in_time(services.app, request, ServiceRequest, version=version, as_of=as_of)
    now = services.clock.now()
    return one(response, past, lambda r: request_view(r, now, internal=audience == "internal"))


@router.post("/{request_id}/assign", response_model=RequestOut)
def assign_request(
    request_id: str,
    body: Assign,
    ctx: Command,
    if_match: IfMatch,
    services: ServicesDep,
    response: Response,
) -> Any:
    assignee = str(body.assignee_id) if body.assignee_id else None
    queue = str(body.queue_id) if body.queue_id else None
    outcome = services.service.assign(ctx, request_id, assignee, queue, if_match)
    return _answer(services, response, outcome)


@router.post("/{request_id}/start", response_model=RequestOut)
def start_request(
    request_id: str, ctx: Command, if_match: IfMatch, services: ServicesDep, response: Response
) -> Any:
    return _answer(services, response, services.service.start(ctx, request_id, if_match))


@router.post("/{request_id}/wait-on-customer", response_model=RequestOut)
def wait_on_customer(
    request_id: str,
    ctx: Command,
    if_match: IfMatch,
    services: ServicesDep,
    response: Response,
    body: WithReason | None = None,
) -> Any:
    reason = body.reason if body else None
    outcome = services.service.wait_on_customer(ctx, request_id, reason, if_match)
    return _answer(services, response, outcome)


@router.post("/{request_id}/resume", response_model=RequestOut)
def resume_request(
    request_id: str, ctx: Command, if_match: IfMatch, services: ServicesDep, response: Response
) -> Any:
    return _answer(services, response, services.service.resume(ctx, request_id, if_match))


@router.post("/{request_id}/resolve", response_model=RequestOut)
def resolve_request(
    request_id: str,
    body: Resolve,
    ctx: Command,
    if_match: IfMatch,
    services: ServicesDep,
    response: Response,
) -> Any:
    outcome = services.service.resolve(
        ctx, request_id, body.resolution, body.notify_customer, if_match
    )
    return _answer(services, response, outcome)


@router.post("/{request_id}/evaluate", response_model=RequestOut)
def evaluate_request(
    request_id: str,
    body: Evaluate,
    ctx: Command,
    if_match: IfMatch,
    services: ServicesDep,
    response: Response,
) -> Any:
    outcome = services.service.evaluate(
        ctx, request_id, body.satisfied, body.score, body.comment, if_match
    )
    return _answer(services, response, outcome)


@router.post("/{request_id}/close", response_model=RequestOut)
def close_request(
    request_id: str,
    ctx: Command,
    if_match: IfMatch,
    services: ServicesDep,
    response: Response,
    body: WithReason | None = None,
) -> Any:
    reason = body.reason if body else None
    return _answer(services, response, services.service.close(ctx, request_id, reason, if_match))


@router.post("/{request_id}/reopen", response_model=RequestOut)
def reopen_request(
    request_id: str,
    ctx: Command,
    if_match: IfMatch,
    services: ServicesDep,
    response: Response,
    body: WithReason | None = None,
) -> Any:
    reason = body.reason if body else None
    return _answer(services, response, services.service.reopen(ctx, request_id, reason, if_match))


@router.post("/{request_id}/notes", response_model=RequestOut)
def add_note(
    request_id: str, body: Message, ctx: Command, services: ServicesDep, response: Response
) -> Any:
    return _answer(services, response, services.service.add_note(ctx, request_id, body.text))


@router.post("/{request_id}/replies", response_model=RequestOut)
def reply(
    request_id: str, body: Message, ctx: Command, services: ServicesDep, response: Response
) -> Any:
    return _answer(services, response, services.service.reply(ctx, request_id, body.text))


@router.post("/{request_id}/notify", response_model=RequestOut)
def notify_customer(
    request_id: str, body: Notify, ctx: Command, services: ServicesDep, response: Response
) -> Any:
    outcome = services.service.notify(
        ctx, request_id, str(body.to) if body.to else None, body.template, body.message
    )
    return _answer(services, response, outcome)


@router.get("/{request_id}/history", response_model=ListEnvelope[HistoryEntry])
def request_history(
    request_id: str,
    principal: CurrentPrincipal,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
) -> Any:
    principal.require("history:read")
    request = services.service.get_request(principal, request_id)
    return history(services.app, request, ServiceRequest, cursor, limit)
