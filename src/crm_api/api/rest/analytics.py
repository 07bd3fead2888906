"""/api/v1/analytics: the sales funnel and forecast vs actual, both read models, both paged.

A caller sees the numbers of the owners it sees: a rep its own, a manager its team's, an
assistant its rep's; auditors and admins everyone's."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from crm_api.api.rest.conventions import PROBLEMS, ListEnvelope, listed, wait_min_position
from crm_api.api.rest.deps import CurrentPrincipal, PagingDep, ServicesDep
from crm_api.domain.errors import FieldError, ValidationFailed
from crm_api.domain.forecasts import Period
from crm_api.projections.forecasts import forecast_vs_actual_page
from crm_api.projections.opportunities import funnel

router = APIRouter(prefix="/api/v1/analytics", tags=["analytics"], responses=PROBLEMS)


class StageCounts(BaseModel):
    prospecting: int = Field(description="Created in the cohort (every opportunity).")
    qualification: int
    proposal: int
    negotiation: int
    won: int
    lost: int = Field(description="Currently lost.")


class StageAmounts(BaseModel):
    prospecting: Decimal
    qualification: Decimal
    proposal: Decimal
    negotiation: Decimal
    won: Decimal
    lost: Decimal


class Conversion(BaseModel):
    prospecting_to_qualification: float | None
    qualification_to_proposal: float | None
    proposal_to_negotiation: float | None
    negotiation_to_won: float | None


class FunnelRow(BaseModel):
    group: str = Field(description='"total", the owner id (group_by=rep) or the month YYYY-MM.')
    owner_id: UUID | None
    month: str | None
    currency: str
    counts: StageCounts = Field(description="How many reached each stage (or a later one).")
    amounts: StageAmounts = Field(description="Their current amounts, summed.")
    conversion: Conversion = Field(description="Reached the next stage / reached this one.")
    win_rate: float | None = Field(description="won / (won + lost); null when neither.")
    avg_cycle_days: float | None = Field(description="Mean days from created to won.")


class ForecastVsActualRow(BaseModel):
    owner_id: UUID
    period: str
    product_id: UUID | None = Field(description="null on total rows and for no product.")
    currency: str
    forecast_amount: Decimal
    won_amount: Decimal
    won_count: int
    attainment_pct: float | None = Field(description="won / forecast × 100; null if 0 forecast.")
    ordered_amount: Decimal = Field(
        description="Orders placed in the period on the rep's accounts (not cancelled)."
    )
    order_count: int
    order_attainment_pct: float | None = Field(
        description="ordered / forecast × 100; null if 0 forecast."
    )


def _visible(principal: Any) -> frozenset[str] | None:
    return None if principal.training else principal.visible_owners


@router.get("/funnel", response_model=ListEnvelope[FunnelRow])
def sales_funnel(
    principal: CurrentPrincipal,
    services: ServicesDep,
    paging: PagingDep,
    from_: Annotated[
        date | None, Query(alias="from", description="Cohort: created on or after this day.")
    ] = None,
    to: Annotated[date | None, Query(description="Cohort: created before this day.")] = None,
    owner_id: UUID | None = None,
    group_by: Literal["total", "rep", "month"] = "total",
) -> Any:
    principal.require("analytics:read")
    if from_ is not None and to is not None and to <= from_:
        raise ValidationFailed([FieldError("to", "must be after from")])
    if paging.sort is not None:
        raise ValidationFailed([FieldError("sort", "the funnel is ordered by group and currency")])
    wait_min_position(services, paging.min_position)
    with services.read() as conn:
        page = funnel(
            conn,
            visible_owners=_visible(principal),
            group_by=group_by,
            cursor=paging.cursor,
            limit=paging.limit,
            start=from_,
            end=to,
            owner_id=str(owner_id) if owner_id else None,
        )
    return listed(page)


@router.get("/forecast-vs-actual", response_model=ListEnvelope[ForecastVsActualRow])
def forecast_vs_actual(
    principal: CurrentPrincipal,
    services: ServicesDep,
    paging: PagingDep,
    period: Annotated[
        str | None, Query(max_length=7, description="A month (2026-11) or quarter (2026-Q4).")
    ] = None,
    owner_id: UUID | None = None,
    group_by: Literal["total", "product"] = "total",
) -> Any:
    principal.require("analytics:read")
    if period is not None:
        Period.parse(period)
    if paging.sort is not None:
        raise ValidationFailed([FieldError("sort", "rows are ordered by period")])
    wait_min_position(services, paging.min_position)
    with services.read() as conn:
        page = forecast_vs_actual_page(
            conn,
            visible_owners=_visible(principal),
            group_by=group_by,
            cursor=paging.cursor,
            limit=paging.limit,
            period=period,
            owner_id=str(owner_id) if owner_id else None,
        )
    return listed(page)
