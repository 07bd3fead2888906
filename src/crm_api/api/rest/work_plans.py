"""/api/v1/work-plans: a rep's daily or weekly plan, submitted online, edited, commented,
returned and accepted by the manager of its team; the period's summary; and, for managers,
who has not submitted a plan for a period."""

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
from crm_api.application.work_plans import work_plan_view
from crm_api.domain.work_plans import MAX_ITEMS, PlanPeriod, WorkPlan
from crm_api.projections.paging import Sort
from crm_api.projections.work import PLAN_SORTS, list_plans, missing_plans

router = APIRouter(prefix="/api/v1/work-plans", tags=["work-plans"], responses=PROBLEMS)

Text = Annotated[str, Field(min_length=1, max_length=2000)]
Comment = Annotated[str, Field(min_length=1, max_length=2000)]
PeriodText = Annotated[
    str, Field(min_length=8, max_length=10, description="A day 2026-01-05 or an ISO week 2026-W02")
]
State = Literal["draft", "submitted", "returned", "accepted"]


class PlanItem(Strict):
    id: Annotated[str, Field(min_length=1, max_length=36)] | None = Field(
        None, description="Stable within the plan; default: its position, 1, 2, …"
    )
    text: Text
    planned_minutes: Annotated[int, Field(ge=0, le=7 * 24 * 60)] | None = None
    account_id: UUID | None = None
    opportunity_id: UUID | None = None
    task_id: UUID | None = None


Items = Annotated[list[PlanItem], Field(max_length=MAX_ITEMS)]


class PlanCreate(Strict):
    period: PeriodText
    items: Items = Field(default_factory=list)


class PlanItems(Strict):
    items: Items


class ReviewerEdit(Strict):
    items: Items
    comment: Comment | None = None


class PlanComment(Strict):
    text: Comment


class PlanReturn(Strict):
    comment: Comment


class PlanAccept(Strict):
    comment: Comment | None = None


class ItemOutcome(Strict):
    item_id: Annotated[str, Field(min_length=1, max_length=36)]
    done: bool
    note: Annotated[str, Field(max_length=2000)] | None = None


class PlanSummary(Strict):
    text: Text
    outcomes: Annotated[list[ItemOutcome], Field(max_length=MAX_ITEMS)]


class PlanItemOut(BaseModel):
    id: str
    text: str
    planned_minutes: int | None
    account_id: UUID | None
    opportunity_id: UUID | None
    task_id: UUID | None


class CommentOut(BaseModel):
    by: str
    text: str


class OutcomeOut(BaseModel):
    item_id: str
    done: bool
    note: str | None


class SummaryOut(BaseModel):
    text: str
    outcomes: list[OutcomeOut]


class WorkPlanOut(BaseModel):
    id: UUID
    owner_id: UUID
    period: str
    period_kind: str = Field(description="day or week")
    state: str
    items: list[PlanItemOut]
    comments: list[CommentOut]
    summary: SummaryOut | None
    submissions: int = Field(description="How many times it was submitted (2+: resubmitted).")
    reviewed_by: str | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class MissingPlanOut(BaseModel):
    user_id: UUID
    name: str
    team_id: UUID
    work_plan_id: UUID | None = Field(description="Their plan if it is still a draft.")
    state: str | None


def plan_items(items: list[PlanItem]) -> list[dict[str, Any]]:
    return [
        {k: str(v) if isinstance(v, UUID) else v for k, v in item.model_dump().items()}
        for item in items
    ]


@router.post("", status_code=201, response_model=WorkPlanOut)
def draft_plan(body: PlanCreate, ctx: Command, services: ServicesDep, response: Response) -> Any:
    """The caller's plan (or that of the rep an assistant acts for); one per period."""
    outcome = services.work_plans.draft_plan(ctx, period=body.period, items=plan_items(body.items))
    return written(services, response, outcome, work_plan_view, created_at=router.prefix)


@router.get("", response_model=ListEnvelope[WorkPlanOut])
def search_plans(
    principal: CurrentPrincipal,
    services: ServicesDep,
    paging: PagingDep,
    owner_id: UUID | None = None,
    period: Annotated[str | None, Query(max_length=10)] = None,
    state: State | None = None,
) -> Any:
    principal.require("work_plans:read")
    wait_min_position(services, paging.min_position)
    sort = Sort.parse(paging.sort, PLAN_SORTS, "-period_start")
    with services.read() as conn:
        page = list_plans(
            conn,
            visible_owners=None if principal.training else principal.visible_owners,
            sort=sort,
            cursor=paging.cursor,
            limit=paging.limit,
            owner_id=str(owner_id) if owner_id else None,
            period=PlanPeriod.parse(period).text if period else None,
            state=state,
        )
    return listed(page)


@router.get("/missing", response_model=ListEnvelope[MissingPlanOut])
def missing(
    principal: CurrentPrincipal,
    services: ServicesDep,
    paging: PagingDep,
    period: Annotated[str, Query(max_length=10, description="2026-01-05 or 2026-W02")],
    team_id: UUID | None = None,
) -> Any:
    """The members of the caller's teams (a manager's; any team for an admin) who have not
    submitted a plan for the period."""
    teams = services.work_plans.reviewed_teams(principal, str(team_id) if team_id else None)
    parsed = PlanPeriod.parse(period)
    wait_min_position(services, paging.min_position)
    sort = Sort.parse(paging.sort, ("name",), "name")
    with services.read() as conn:
        page = missing_plans(
            conn,
            team_ids=teams,
            period=parsed.text,
            sort=sort,
            cursor=paging.cursor,
            limit=paging.limit,
        )
    return listed(page)


@router.get("/{plan_id}", response_model=WorkPlanOut)
def get_plan(
    plan_id: str,
    principal: CurrentPrincipal,
    services: ServicesDep,
    response: Response,
    as_of: dt.datetime | None = None,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> Any:
    plan = services.work_plans.get_plan(principal, plan_id)
    past = point_in_time(services.app, plan, WorkPlan, version=version, as_of=as_of)
    return one(response, past, work_plan_view)


@router.put("/{plan_id}/items", response_model=WorkPlanOut)
def change_items(
    plan_id: str,
    body: PlanItems,
    ctx: Command,
    if_match: IfMatch,
    services: ServicesDep,
    response: Response,
) -> Any:
    """The owner replaces the items of a draft or returned plan."""
    outcome = services.work_plans.change_items(ctx, plan_id, plan_items(body.items), if_match)
    return written(services, response, outcome, work_plan_view)


@router.post("/{plan_id}/submit", response_model=WorkPlanOut)
def submit_plan(
    plan_id: str, ctx: Command, if_match: IfMatch, services: ServicesDep, response: Response
) -> Any:
    """A draft is submitted; a returned plan is resubmitted."""
    outcome = services.work_plans.submit(ctx, plan_id, if_match)
    return written(services, response, outcome, work_plan_view)


@router.post("/{plan_id}/summary", response_model=WorkPlanOut)
def submit_summary(
    plan_id: str,
    body: PlanSummary,
    ctx: Command,
    if_match: IfMatch,
    services: ServicesDep,
    response: Response,
) -> Any:
    outcomes = [o.model_dump() for o in body.outcomes]
    outcome = services.work_plans.submit_summary(ctx, plan_id, body.text, outcomes, if_match)
    return written(services, response, outcome, work_plan_view)


@router.post("/{plan_id}/edit", response_model=WorkPlanOut)
def edit_plan(
    plan_id: str,
    body: ReviewerEdit,
    ctx: Command,
    if_match: IfMatch,
    services: ServicesDep,
    response: Response,
) -> Any:
    """The reviewer changes the items of a submitted or returned plan, with a comment."""
    outcome = services.work_plans.edit(ctx, plan_id, plan_items(body.items), body.comment, if_match)
    return written(services, response, outcome, work_plan_view)


@router.post("/{plan_id}/comments", response_model=WorkPlanOut)
def comment_plan(
    plan_id: str,
    body: PlanComment,
    ctx: Command,
    if_match: IfMatch,
    services: ServicesDep,
    response: Response,
) -> Any:
    outcome = services.work_plans.comment(ctx, plan_id, body.text, if_match)
    return written(services, response, outcome, work_plan_view)


@router.post("/{plan_id}/return", response_model=WorkPlanOut)
def return_plan(
    plan_id: str,
    body: PlanReturn,
    ctx: Command,
    if_match: IfMatch,
    services: ServicesDep,
    response: Response,
) -> Any:
    outcome = services.work_plans.return_plan(ctx, plan_id, body.comment, if_match)
    return written(services, response, outcome, work_plan_view)


@router.post("/{plan_id}/accept", response_model=WorkPlanOut)
def accept_plan(
    plan_id: str,
    ctx: Command,
    if_match: IfMatch,
    services: ServicesDep,
    response: Response,
    body: PlanAccept | None = None,
) -> Any:
    outcome = services.work_plans.accept(ctx, plan_id, body.comment if body else None, if_match)
    return written(services, response, outcome, work_plan_view)


@router.get("/{plan_id}/history", response_model=ListEnvelope[HistoryEntry])
def plan_history(
    plan_id: str,
    principal: CurrentPrincipal,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
) -> Any:
    principal.require("history:read")
    plan = services.work_plans.get_plan(principal, plan_id)
    return history(services.app, plan, WorkPlan, cursor, limit)
