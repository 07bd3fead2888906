"""/api/v1/sla-policies, /api/v1/routing-rules, /api/v1/queues: how service requests are timed
and routed. Admins and managers manage them (service:admin); service readers read them."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from crm_api.api.rest.conventions import (
    PROBLEMS,
    HistoryEntry,
    ListEnvelope,
    Strict,
    history,
    listed,
    one,
    wait_min_position,
    written,
)
from crm_api.api.rest.deps import Command, CurrentPrincipal, IfMatch, PagingDep, ServicesDep
from crm_api.application.service import policy_view, queue_view, rule_view
from crm_api.domain.errors import FieldError, ValidationFailed
from crm_api.domain.routing import Queue, RoutingRule
from crm_api.domain.service import SlaPolicy
from crm_api.domain.sla import BusinessHours, SlaTerms
from crm_api.projections.paging import Page, Sort
from crm_api.projections.service import ADMIN_SORTS, list_policies, list_queues, list_rules

router = APIRouter(tags=["service administration"], responses=PROBLEMS)

POLICIES = "/api/v1/sla-policies"
RULES = "/api/v1/routing-rules"
QUEUES = "/api/v1/queues"

Priority = Literal["low", "normal", "high", "urgent"]
Minutes = Annotated[int, Field(ge=1, le=527040)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Ids = Annotated[list[UUID], Field(max_length=100)]


class BusinessHoursIn(Strict):
    weekdays: Annotated[list[Annotated[int, Field(ge=0, le=6)]], Field(min_length=1, max_length=7)]
    start: dt.time = Field(description="Local opening time, e.g. 09:00")
    end: dt.time = Field(description="Local closing time, after start, e.g. 17:00")
    timezone: Annotated[
        str, Field(min_length=1, max_length=64, description="IANA, e.g. Europe/Berlin")
    ]


class PolicyCreate(Strict):
    priority: Priority
    first_response_within_minutes: Minutes
    resolve_within_minutes: Minutes
    business_hours: BusinessHoursIn | None = Field(None, description="Null: around the clock.")


class PolicyUpdate(Strict):
    first_response_within_minutes: Minutes
    resolve_within_minutes: Minutes
    business_hours: BusinessHoursIn | None = None


class BusinessHoursOut(BaseModel):
    weekdays: list[int]
    start: str
    end: str
    timezone: str


class PolicyOut(BaseModel):
    id: UUID
    priority: str
    first_response_within_minutes: int
    resolve_within_minutes: int
    business_hours: BusinessHoursOut | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class Conditions(Strict):
    """Every condition given must hold; an empty list matches anything."""

    kinds: Annotated[
        list[Literal["inquiry", "complaint", "fault", "repair"]], Field(max_length=4)
    ] = []
    priorities: Annotated[list[Priority], Field(max_length=4)] = []
    product_ids: Ids = []
    account_grades: Annotated[list[Literal["A", "B", "C", "D"]], Field(max_length=4)] = []
    account_owner_ids: Ids = []


class RuleCreate(Strict):
    name: Name
    position: Annotated[int, Field(ge=0, le=1_000_000, description="Lowest is tried first.")]
    conditions: Conditions = Conditions()
    assignee_id: UUID | None = Field(None, description="Give this or queue_id.")
    queue_id: UUID | None = None


class RuleUpdate(Strict):
    name: Name | None = None
    position: Annotated[int, Field(ge=0, le=1_000_000)] | None = None
    conditions: Conditions | None = None
    assignee_id: UUID | None = None
    queue_id: UUID | None = None


class ConditionsOut(BaseModel):
    kinds: list[str]
    priorities: list[str]
    product_ids: list[str]
    account_grades: list[str]
    account_owner_ids: list[str]


class RuleOut(BaseModel):
    id: UUID
    name: str
    position: int
    conditions: ConditionsOut
    assignee_id: UUID | None
    queue_id: UUID | None
    active: bool
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class QueueCreate(Strict):
    name: Name
    member_ids: Ids = Field(default_factory=list, description="In turn order (round robin).")


class QueueUpdate(Strict):
    name: Name | None = None
    member_ids: Ids | None = None


class QueueOut(BaseModel):
    id: UUID
    name: str
    member_ids: list[UUID]
    last_picked: UUID | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


def sla_terms(body: PolicyCreate | PolicyUpdate) -> SlaTerms:
    hours = body.business_hours
    return SlaTerms.of(
        body.first_response_within_minutes,
        body.resolve_within_minutes,
        BusinessHours.of(hours.weekdays, hours.start, hours.end, hours.timezone) if hours else None,
    )


def policy_row(row: dict[str, Any]) -> dict[str, Any]:
    """A listed policy: its terms flattened, as the record shows them."""
    terms = row.pop("terms")
    return {**row, **terms}


def _texts(values: dict[str, Any]) -> dict[str, Any]:
    def text(value: Any) -> Any:
        if isinstance(value, UUID):
            return str(value)
        if isinstance(value, list):
            return [text(v) for v in value]
        if isinstance(value, dict):
            return {k: text(v) for k, v in value.items()}
        return value

    return {k: text(v) for k, v in values.items()}


def rule_fields(body: RuleCreate) -> dict[str, Any]:
    return _texts(body.model_dump())


def rule_changes(body: RuleUpdate) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    for required in ("name", "position", "conditions"):
        if required in changes and changes[required] is None:
            raise ValidationFailed([FieldError(required, "cannot be null")])
    return _texts(changes)


def queue_changes(body: QueueUpdate) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    for required in ("name", "member_ids"):
        if required in changes and changes[required] is None:
            raise ValidationFailed([FieldError(required, "cannot be null")])
    return _texts(changes)


def _history_route(path: str, cls: Any, getter: str) -> None:
    @router.get(f"{path}/{{record_id}}/history", response_model=ListEnvelope[HistoryEntry])
    def record_history(
        record_id: str,
        principal: CurrentPrincipal,
        services: ServicesDep,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        cursor: Annotated[str | None, Query(max_length=20)] = None,
    ) -> Any:
        principal.require("history:read")
        record = getattr(services.service, getter)(principal, record_id)
        return history(services.app, record, cls, cursor, limit)

    record_history.__name__ = f"{cls.kind}_history"


# SLA policies


@router.post(POLICIES, status_code=201, response_model=PolicyOut)
def define_policy(
    body: PolicyCreate, ctx: Command, services: ServicesDep, response: Response
) -> Any:
    outcome = services.service.define_policy(ctx, priority=body.priority, terms=sla_terms(body))
    return written(services, response, outcome, policy_view, created_at=POLICIES)


@router.get(POLICIES, response_model=ListEnvelope[PolicyOut])
def search_policies(principal: CurrentPrincipal, services: ServicesDep, paging: PagingDep) -> Any:
    principal.require("service:read")
    wait_min_position(services, paging.min_position)
    sort = Sort.parse(paging.sort, ADMIN_SORTS, "created_at")
    with services.read() as conn:
        page = list_policies(conn, sort, paging.cursor, paging.limit)
    return listed(Page([policy_row(row) for row in page.rows], page.next_cursor))


@router.get(POLICIES + "/{policy_id}", response_model=PolicyOut)
def get_policy(
    policy_id: str, principal: CurrentPrincipal, services: ServicesDep, response: Response
) -> Any:
    return one(response, services.service.get_policy(principal, policy_id), policy_view)


@router.put(POLICIES + "/{policy_id}", response_model=PolicyOut)
def change_policy(
    policy_id: str,
    body: PolicyUpdate,
    ctx: Command,
    if_match: IfMatch,
    services: ServicesDep,
    response: Response,
) -> Any:
    outcome = services.service.change_policy(ctx, policy_id, sla_terms(body), if_match)
    return written(services, response, outcome, policy_view)


_history_route(POLICIES, SlaPolicy, "get_policy")


# routing rules


@router.post(RULES, status_code=201, response_model=RuleOut)
def define_rule(body: RuleCreate, ctx: Command, services: ServicesDep, response: Response) -> Any:
    outcome = services.service.define_rule(ctx, **rule_fields(body))
    return written(services, response, outcome, rule_view, created_at=RULES)


@router.get(RULES, response_model=ListEnvelope[RuleOut])
def search_rules(
    principal: CurrentPrincipal,
    services: ServicesDep,
    paging: PagingDep,
    active: bool | None = Query(None, description="Default: every rule."),
) -> Any:
    principal.require("service:read")
    wait_min_position(services, paging.min_position)
    sort = Sort.parse(paging.sort, (*ADMIN_SORTS, "position"), "position")
    with services.read() as conn:
        return listed(list_rules(conn, sort, paging.cursor, paging.limit, active))


@router.get(RULES + "/{rule_id}", response_model=RuleOut)
def get_rule(
    rule_id: str, principal: CurrentPrincipal, services: ServicesDep, response: Response
) -> Any:
    return one(response, services.service.get_rule(principal, rule_id), rule_view)


@router.patch(RULES + "/{rule_id}", response_model=RuleOut)
def change_rule(
    rule_id: str,
    body: RuleUpdate,
    ctx: Command,
    if_match: IfMatch,
    services: ServicesDep,
    response: Response,
) -> Any:
    outcome = services.service.change_rule(ctx, rule_id, rule_changes(body), if_match)
    return written(services, response, outcome, rule_view)


@router.post(RULES + "/{rule_id}/retire", response_model=RuleOut)
def retire_rule(
    rule_id: str, ctx: Command, if_match: IfMatch, services: ServicesDep, response: Response
) -> Any:
    return written(
        services, response, services.service.retire_rule(ctx, rule_id, if_match), rule_view
    )


_history_route(RULES, RoutingRule, "get_rule")


# queues


@router.post(QUEUES, status_code=201, response_model=QueueOut)
def form_queue(body: QueueCreate, ctx: Command, services: ServicesDep, response: Response) -> Any:
    outcome = services.service.form_queue(
        ctx, name=body.name, member_ids=[str(m) for m in body.member_ids]
    )
    return written(services, response, outcome, queue_view, created_at=QUEUES)


@router.get(QUEUES, response_model=ListEnvelope[QueueOut])
def search_queues(principal: CurrentPrincipal, services: ServicesDep, paging: PagingDep) -> Any:
    principal.require("service:read")
    wait_min_position(services, paging.min_position)
    sort = Sort.parse(paging.sort, ADMIN_SORTS, "created_at")
    with services.read() as conn:
        return listed(list_queues(conn, sort, paging.cursor, paging.limit))


@router.get(QUEUES + "/{queue_id}", response_model=QueueOut)
def get_queue(
    queue_id: str, principal: CurrentPrincipal, services: ServicesDep, response: Response
) -> Any:
    return one(response, services.service.get_queue(principal, queue_id), queue_view)


@router.patch(QUEUES + "/{queue_id}", response_model=QueueOut)
def change_queue(
    queue_id: str,
    body: QueueUpdate,
    ctx: Command,
    if_match: IfMatch,
    services: ServicesDep,
    response: Response,
) -> Any:
    outcome = services.service.change_queue(ctx, queue_id, queue_changes(body), if_match)
    return written(services, response, outcome, queue_view)


_history_route(QUEUES, Queue, "get_queue")
