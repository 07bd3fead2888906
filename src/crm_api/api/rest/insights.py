"""/api/v1/analytics (customer value, top customers, Pareto, grades, margins) and
/api/v1/kpis/data-entry: read models kept as aggregates, each answer paged.

A caller sees the accounts (and users) of the owners it sees: a rep its own, a manager its
team's, an assistant its rep's; auditors and admins everyone's. See docs/analytics.md."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from crm_api.api.rest.conventions import (
    PROBLEMS,
    Day,
    Instant,
    ListEnvelope,
    listed,
    wait_min_position,
)
from crm_api.api.rest.deps import CurrentPrincipal, PagingDep, ServicesDep
from crm_api.domain.errors import FieldError, ValidationFailed

router = APIRouter(tags=["analytics"], responses=PROBLEMS)

Grade = Literal["A", "B", "C", "D"]
From = Annotated[Day | None, Query(alias="from", description="On or after this UTC day.")]
To = Annotated[Day | None, Query(description="Before this UTC day.")]
AsOf = Annotated[
    Instant | None,
    Query(description="Recency and the grading window end here (default: now)."),
]


class CustomerValueRow(BaseModel):
    account_id: UUID
    name: str
    owner_id: UUID
    revenue: Decimal = Field(description="Orders not cancelled, latest content, in the period.")
    margin: Decimal = Field(description="Revenue − cost of the lines that carry a unit cost.")
    order_count: int
    first_order_at: dt.datetime | None = Field(
        description="With from/to: the first order's day (midnight UTC)."
    )
    last_order_at: dt.datetime | None
    recency_days: int | None = Field(description="Whole days from the last order to as_of.")
    frequency: int = Field(description="Orders in the grading window.")
    monetary: Decimal = Field(description="Revenue in the grading window.")
    auto_grade: Grade
    manual_grade: Grade | None
    contribution_pct: float | None = Field(description="Share of all revenue in the period.")


class ParetoRow(BaseModel):
    rank: int
    account_id: UUID
    name: str
    owner_id: UUID
    revenue: Decimal
    share_pct: float | None
    cumulative_pct: float | None


class ParetoPage(BaseModel):
    data: list[ParetoRow] = Field(description="Largest first, until 80 % of revenue is reached.")
    next_cursor: str | None
    has_more: bool
    total_revenue: Decimal = Field(description="Revenue of the customers the caller sees.")


class GradeRow(BaseModel):
    manual_grade: Grade
    A: int = Field(description="Accounts with this manual grade graded A automatically.")
    B: int
    C: int
    D: int


class GradeCounts(BaseModel):
    A: int
    B: int
    C: int
    D: int


class Disagreement(BaseModel):
    id: UUID
    name: str
    owner_id: UUID
    manual_grade: Grade
    auto_grade: Grade


class GradesOut(BaseModel):
    as_of: dt.datetime
    matrix: list[GradeRow] = Field(description="Rows: manual grade; columns: automatic grade.")
    without_manual_grade: GradeCounts
    graded_accounts: int
    agreeing: int
    agreement_pct: float | None
    disagreements: ListEnvelope[Disagreement]


class MarginRow(BaseModel):
    group: Literal["product", "product_line", "month"]
    key: str = Field(description="The product id, the sku prefix (before '-'), or YYYY-MM.")
    sku: str | None
    revenue: Decimal
    costed_revenue: Decimal = Field(description="Revenue of the lines that carry a unit cost.")
    cost: Decimal
    margin: Decimal
    margin_pct: float | None = Field(description="margin / costed_revenue × 100.")
    quantity: Decimal
    order_lines: int


class Lag(BaseModel):
    within_1h: int
    within_1d: int
    within_3d: int
    later: int


class ActivityKpis(BaseModel):
    total: int
    own: int = Field(description="Entered by the user itself.")
    on_behalf: int = Field(description="Entered for the user by an assistant.")
    lag: Lag = Field(description="recorded_at − occurred_at.")
    recorded_by_next_day_10_pct: float | None = Field(
        description="Recorded by 10:00 UTC the day after they happened."
    )
    per_day: float = Field(description="Activities per day of the period (daily contacts).")


class Yesterday(BaseModel):
    activities: int
    recorded_by_10_pct: float | None = Field(description="…recorded by 10:00 UTC today.")


class AccountFields(BaseModel):
    phone: int
    industry: int
    address: int


class ContactFields(BaseModel):
    phone: int
    email: int
    occupation: int
    birth_year: int


class Completeness(BaseModel):
    accounts: int
    contacts: int
    accounts_with: AccountFields
    contacts_with: ContactFields
    filled_pct: float | None


class OpportunityKpis(BaseModel):
    created: int
    won: int
    lost: int
    win_rate_pct: float | None


class DataEntryRow(BaseModel):
    id: UUID = Field(description="The user, or the team.")
    members: int
    activities: ActivityKpis
    yesterday: Yesterday
    completeness: Completeness = Field(description="Now (not limited to the period).")
    new_accounts: int
    opportunities: OpportunityKpis


class DataEntryPage(ListEnvelope[DataEntryRow]):
    group_by: Literal["user", "team"]
    from_: dt.date = Field(alias="from")
    to: dt.date


def _no_sort(sort: str | None, order: str) -> None:
    if sort is not None:
        raise ValidationFailed([FieldError("sort", order)])


@router.get("/api/v1/analytics/customer-value", response_model=ListEnvelope[CustomerValueRow])
def customer_value(
    principal: CurrentPrincipal,
    services: ServicesDep,
    paging: PagingDep,
    from_: From = None,
    to: To = None,
    as_of: AsOf = None,
    owner_id: UUID | None = None,
) -> Any:
    """Per account; `sort` by revenue, margin or recency (default -revenue)."""
    wait_min_position(services, paging.min_position)
    page = services.insights.customer_value(
        principal,
        sort=paging.sort,
        cursor=paging.cursor,
        limit=paging.limit,
        start=from_,
        end=to,
        as_of=as_of,
        owner_id=str(owner_id) if owner_id else None,
    )
    return listed(page)


@router.get("/api/v1/analytics/top-customers", response_model=list[CustomerValueRow])
def top_customers(
    principal: CurrentPrincipal,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 10,
    from_: From = None,
    to: To = None,
) -> Any:
    page = services.insights.customer_value(
        principal, sort="-revenue", cursor=None, limit=limit, start=from_, end=to
    )
    return page.rows


@router.get("/api/v1/analytics/pareto", response_model=ParetoPage)
def pareto(
    principal: CurrentPrincipal,
    services: ServicesDep,
    paging: PagingDep,
    from_: From = None,
    to: To = None,
) -> Any:
    _no_sort(paging.sort, "the Pareto set is ordered by revenue, largest first")
    wait_min_position(services, paging.min_position)
    page, total = services.insights.pareto(
        principal, cursor=paging.cursor, limit=paging.limit, start=from_, end=to
    )
    return {**listed(page), "total_revenue": total}


@router.get("/api/v1/analytics/grades", response_model=GradesOut)
def grades(
    principal: CurrentPrincipal, services: ServicesDep, paging: PagingDep, as_of: AsOf = None
) -> Any:
    """Manual vs automatic grade; the disagreements are paged (limit, cursor)."""
    _no_sort(paging.sort, "disagreements are ordered by account id")
    wait_min_position(services, paging.min_position)
    found = services.insights.grades(
        principal, cursor=paging.cursor, limit=paging.limit, as_of=as_of
    )
    return {**found, "disagreements": listed(found["disagreements"])}


@router.get("/api/v1/analytics/margins", response_model=ListEnvelope[MarginRow])
def margins(
    principal: CurrentPrincipal,
    services: ServicesDep,
    paging: PagingDep,
    group_by: Literal["product", "product_line", "month"] = "product",
    from_: From = None,
    to: To = None,
) -> Any:
    """Most profitable first; `sort` by margin, revenue or key."""
    wait_min_position(services, paging.min_position)
    page = services.insights.margins(
        principal,
        group_by=group_by,
        sort=paging.sort,
        cursor=paging.cursor,
        limit=paging.limit,
        start=from_,
        end=to,
    )
    return listed(page)


@router.get("/api/v1/kpis/data-entry", response_model=DataEntryPage, response_model_by_alias=True)
def data_entry(
    principal: CurrentPrincipal,
    services: ServicesDep,
    paging: PagingDep,
    group_by: Literal["user", "team"] = "user",
    from_: From = None,
    to: To = None,
) -> Any:
    _no_sort(paging.sort, "rows are ordered by user or team id")
    wait_min_position(services, paging.min_position)
    rows, page, start, end = services.insights.data_entry(
        principal, group_by=group_by, cursor=paging.cursor, limit=paging.limit, start=from_, end=to
    )
    return {**listed(page), "data": rows, "group_by": group_by, "from": start, "to": end}
