"""/api/v1/forecasts: one forecast per (owner, period), put whole; revisions are history."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path, Query, Response
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
from crm_api.api.rest.deps import Command, CurrentPrincipal, IfMatch, PagingDep, ServicesDep
from crm_api.application.forecasts import forecast_view, submitted
from crm_api.domain.forecasts import MAX_LINES, Forecast, Period
from crm_api.projections.forecasts import FORECAST_SORTS, list_forecasts
from crm_api.projections.paging import Sort

router = APIRouter(prefix="/api/v1/forecasts", tags=["forecasts"], responses=PROBLEMS)

Money = Annotated[
    Decimal,
    Field(ge=0, max_digits=14, decimal_places=2, description='A decimal string, e.g. "5000.00"'),
]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217, e.g. EUR")]
PeriodText = Annotated[
    str, Path(max_length=7, description="A month (2026-11) or a quarter (2026-Q4).")
]


class ForecastLineIn(Strict):
    product_id: UUID | None = Field(None, description="null: not tied to a product.")
    amount: Money


class ForecastPut(Strict):
    currency: Currency
    lines: list[ForecastLineIn] = Field(min_length=1, max_length=MAX_LINES)


class ForecastLineOut(BaseModel):
    product_id: UUID | None
    amount: Decimal


class ForecastOut(BaseModel):
    id: UUID
    owner_id: UUID
    period: str
    currency: str
    lines: list[ForecastLineOut]
    total: Decimal
    version: int
    created_at: datetime
    updated_at: datetime


def forecast_lines(body: ForecastPut) -> list[dict[str, Any]]:
    return [
        {"product_id": str(line.product_id) if line.product_id else None, "amount": line.amount}
        for line in body.lines
    ]


@router.put("/{owner_id}/{period}", response_model=ForecastOut)
def put_forecast(
    owner_id: UUID,
    period: PeriodText,
    body: ForecastPut,
    ctx: Command,
    if_match: IfMatch,
    services: ServicesDep,
    response: Response,
) -> Any:
    """201 when it creates the forecast, 200 when it revises it (or nothing changed: then the
    version stays and nothing is recorded)."""
    outcome = services.forecasts.put_forecast(
        ctx,
        str(owner_id),
        period,
        currency=body.currency,
        lines=forecast_lines(body),
        expected_version=if_match,
    )
    created_at = router.prefix if submitted(outcome) else None
    return written(services, response, outcome, forecast_view, created_at=created_at)


@router.get("", response_model=ListEnvelope[ForecastOut])
def search_forecasts(
    principal: CurrentPrincipal,
    services: ServicesDep,
    paging: PagingDep,
    owner_id: UUID | None = None,
    period: Annotated[str | None, Query(max_length=7)] = None,
    updated_since: Instant | None = None,
) -> Any:
    principal.require("forecasts:read")
    if period is not None:
        Period.parse(period)
    wait_min_position(services, paging.min_position)
    sort = Sort.parse(paging.sort, FORECAST_SORTS, "period")
    with services.read() as conn:
        page = list_forecasts(
            conn,
            visible_owners=None if principal.training else principal.visible_owners,
            sort=sort,
            cursor=paging.cursor,
            limit=paging.limit,
            owner_id=str(owner_id) if owner_id else None,
            period=period,
            updated_since=updated_since,
        )
    return listed(page)


@router.get("/{forecast_id}", response_model=ForecastOut)
def get_forecast(
    forecast_id: str,
    principal: CurrentPrincipal,
    services: ServicesDep,
    response: Response,
    as_of: datetime | None = None,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> Any:
    forecast = services.forecasts.get_forecast(principal, forecast_id)
    past = point_in_time(services.app, forecast, Forecast, version=version, as_of=as_of)
    return one(response, past, forecast_view)


@router.get("/{forecast_id}/history", response_model=ListEnvelope[HistoryEntry])
def forecast_history(
    forecast_id: str,
    principal: CurrentPrincipal,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
) -> Any:
    principal.require("history:read")
    forecast = services.forecasts.get_forecast(principal, forecast_id)
    return history(services.app, forecast, Forecast, cursor, limit)
