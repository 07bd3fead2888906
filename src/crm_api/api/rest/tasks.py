"""/api/v1/tasks: work a manager assigns to a rep of its team, or that anyone sets itself;
completed, cancelled, reopened and reassigned as events. `overdue=true` lists the open tasks
due before today (by the service's clock)."""

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
    point_in_time,
    wait_min_position,
    written,
)
from crm_api.api.rest.deps import Command, CurrentPrincipal, IfMatch, PagingDep, ServicesDep
from crm_api.application.tasks import task_view
from crm_api.domain.errors import FieldError, ValidationFailed
from crm_api.domain.tasks import Task
from crm_api.projections.paging import Sort
from crm_api.projections.work import TASK_SORTS, list_tasks

router = APIRouter(prefix="/api/v1/tasks", tags=["tasks"], responses=PROBLEMS)

Title = Annotated[str, Field(min_length=1, max_length=200)]
Notes = Annotated[str, Field(max_length=10_000)]
Reason = Annotated[str, Field(max_length=500)]
Priority = Literal["low", "normal", "high", "urgent"]
Status = Literal["open", "done", "cancelled"]
LinkedType = Literal["account", "contact", "opportunity", "quote", "order", "service_request"]


class TaskCreate(Strict):
    title: Title
    due_date: dt.date
    assignee_id: UUID | None = Field(
        None, description="Default: the caller (or the rep an assistant acts for)."
    )
    priority: Priority = "normal"
    notes: Notes | None = None
    linked_type: LinkedType | None = None
    linked_id: UUID | None = None


class TaskUpdate(Strict):
    """Only the fields sent change (open tasks only); notes null clears them."""

    title: Title | None = None
    due_date: dt.date | None = None
    priority: Priority | None = None
    notes: Notes | None = None


class TaskNote(Strict):
    note: Reason | None = None


class TaskCancel(Strict):
    reason: Reason | None = None


class TaskReassign(Strict):
    assignee_id: UUID


class TaskOut(BaseModel):
    id: UUID
    title: str
    notes: str | None
    due_date: dt.date
    priority: str
    status: str
    assignee_id: UUID
    linked_type: str | None
    linked_id: UUID | None
    created_by: str = Field(description="Who typed it in (a user id).")
    on_behalf_of: str | None = Field(description="The rep an assistant created it for.")
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


def task_details(body: TaskCreate) -> dict[str, Any]:
    details = body.model_dump()
    for key in ("assignee_id", "linked_id"):
        details[key] = str(details[key]) if details[key] is not None else None
    return details


def task_changes(body: TaskUpdate) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    for required in ("title", "due_date", "priority"):
        if required in changes and changes[required] is None:
            raise ValidationFailed([FieldError(required, "cannot be null")])
    return changes


@router.post("", status_code=201, response_model=TaskOut)
def create_task(body: TaskCreate, ctx: Command, services: ServicesDep, response: Response) -> Any:
    outcome = services.tasks.create_task(ctx, **task_details(body))
    return written(services, response, outcome, task_view, created_at=router.prefix)


@router.get("", response_model=ListEnvelope[TaskOut])
def search_tasks(
    principal: CurrentPrincipal,
    services: ServicesDep,
    paging: PagingDep,
    assignee_id: UUID | None = None,
    status: Status | None = None,
    overdue: Annotated[
        bool, Query(description="Only open tasks due before today (UTC, by the service clock).")
    ] = False,
    linked_id: UUID | None = None,
) -> Any:
    principal.require("tasks:read")
    wait_min_position(services, paging.min_position)
    sort = Sort.parse(paging.sort, TASK_SORTS, "due_date")
    with services.read() as conn:
        page = list_tasks(
            conn,
            visible_owners=None if principal.training else principal.visible_owners,
            acting_for=principal.acting_for,
            sort=sort,
            cursor=paging.cursor,
            limit=paging.limit,
            assignee_id=str(assignee_id) if assignee_id else None,
            status=status,
            overdue_on=services.clock.now().date() if overdue else None,
            linked_id=str(linked_id) if linked_id else None,
        )
    return listed(page)


@router.get("/{task_id}", response_model=TaskOut)
def get_task(
    task_id: str,
    principal: CurrentPrincipal,
    services: ServicesDep,
    response: Response,
    as_of: dt.datetime | None = None,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> Any:
    task = services.tasks.get_task(principal, task_id)
    return one(
        response, point_in_time(services.app, task, Task, version=version, as_of=as_of), task_view
    )


@router.patch("/{task_id}", response_model=TaskOut)
def change_task(
    task_id: str,
    body: TaskUpdate,
    ctx: Command,
    if_match: IfMatch,
    services: ServicesDep,
    response: Response,
) -> Any:
    outcome = services.tasks.change_task(ctx, task_id, task_changes(body), if_match)
    return written(services, response, outcome, task_view)


@router.post("/{task_id}/complete", response_model=TaskOut)
def complete_task(
    task_id: str,
    ctx: Command,
    if_match: IfMatch,
    services: ServicesDep,
    response: Response,
    body: TaskNote | None = None,
) -> Any:
    outcome = services.tasks.complete(ctx, task_id, body.note if body else None, if_match)
    return written(services, response, outcome, task_view)


@router.post("/{task_id}/cancel", response_model=TaskOut)
def cancel_task(
    task_id: str,
    ctx: Command,
    if_match: IfMatch,
    services: ServicesDep,
    response: Response,
    body: TaskCancel | None = None,
) -> Any:
    outcome = services.tasks.cancel(ctx, task_id, body.reason if body else None, if_match)
    return written(services, response, outcome, task_view)


@router.post("/{task_id}/reopen", response_model=TaskOut)
def reopen_task(
    task_id: str, ctx: Command, if_match: IfMatch, services: ServicesDep, response: Response
) -> Any:
    outcome = services.tasks.reopen(ctx, task_id, if_match)
    return written(services, response, outcome, task_view)


@router.post("/{task_id}/reassign", response_model=TaskOut)
def reassign_task(
    task_id: str,
    body: TaskReassign,
    ctx: Command,
    if_match: IfMatch,
    services: ServicesDep,
    response: Response,
) -> Any:
    outcome = services.tasks.reassign(ctx, task_id, str(body.assignee_id), if_match)
    return written(services, response, outcome, task_view)


@router.get("/{task_id}/history", response_model=ListEnvelope[HistoryEntry])
def task_history(
    task_id: str,
    principal: CurrentPrincipal,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
) -> Any:
    principal.require("history:read")
    task = services.tasks.get_task(principal, task_id)
    return history(services.app, task, Task, cursor, limit)
