"""/api/v1/analytics/service-by-product and /api/v1/kpis/service: service numbers from
aggregate read models (see docs/service.md for each definition).

Periods are whole months of the request's opening: `from` counts from its month, `to` up to
(not including) its month. A caller sees the numbers of the account owners it sees."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from crm_api.api.rest.conventions import PROBLEMS, ListEnvelope, listed, wait_min_position
from crm_api.api.rest.deps import CurrentPrincipal, PagingDep, ServicesDep
from crm_api.domain.errors import FieldError, ValidationFailed
from crm_api.domain.people import Principal
from crm_api.projections.service import (
    complaint_rates,
    service_by_product_page,
    service_kpis_summary,
)

router = APIRouter(tags=["analytics"], responses=PROBLEMS)

From = Annotated[
    date | None, Query(alias="from", description="Requests opened from this day's month on.")
]
To = Annotated[date | None, Query(description="Requests opened before this day's month.")]


class KindCounts(BaseModel):
    inquiry: int
    complaint: int
    fault: int
    repair: int


class ServiceByProductRow(BaseModel):
    product_key: str = Field(
        description="product:<id>, model:<manufacturer>/<model> (foreign assets) or none."
    )
    product_id: UUID | None
    manufacturer: str | None
    model: str | None
    requests: int
    by_kind: KindCounts


class TargetKpis(BaseModel):
    count: int = Field(description="First responses (or resolutions) measured.")
    avg_minutes: float | None = Field(description="From opening; wall-clock minutes.")
    p50_minutes: float | None = Field(description="Median, to its histogram bucket's bound.")
    sla_met: int
    sla_breached: int
    sla_attainment_pct: float | None = Field(description="met / (met + breached) × 100.")


class SatisfactionKpis(BaseModel):
    evaluations: int
    avg_score: float | None
    satisfied_pct: float | None


class ServiceKpis(BaseModel):
    requests_opened: int
    complaints: int
    first_response: TargetKpis
    resolution: TargetKpis
    satisfaction: SatisfactionKpis
    reopen_rate: float | None = Field(description="Reopens / resolutions.")


class ComplaintRateRow(BaseModel):
    scope: str
    id: UUID = Field(description="The product's or the account's id.")
    complaints: int = Field(description="Complaints opened in the period.")
    assets: int = Field(description="Assets installed now.")
    complaint_rate: float | None = Field(description="complaints / assets; null without assets.")


def _period(principal: Principal, start: date | None, end: date | None) -> None:
    principal.require("analytics:read")
    if start is not None and end is not None and end <= start:
        raise ValidationFailed([FieldError("to", "must be after from")])


def _visible(principal: Principal) -> frozenset[str] | None:
    return None if principal.training else principal.visible_owners


@router.get(
    "/api/v1/analytics/service-by-product", response_model=ListEnvelope[ServiceByProductRow]
)
def service_by_product(
    principal: CurrentPrincipal,
    services: ServicesDep,
    paging: PagingDep,
    from_: From = None,
    to: To = None,
) -> Any:
    _period(principal, from_, to)
    if paging.sort is not None:
        raise ValidationFailed([FieldError("sort", "rows are ordered by product_key")])
    wait_min_position(services, paging.min_position)
    with services.read() as conn:
        page = service_by_product_page(
            conn,
            visible_owners=_visible(principal),
            start=from_,
            end=to,
            cursor=paging.cursor,
            limit=paging.limit,
        )
    return listed(page)


@router.get("/api/v1/kpis/service", response_model=ServiceKpis)
def service_kpis(
    principal: CurrentPrincipal,
    services: ServicesDep,
    from_: From = None,
    to: To = None,
    min_position: Annotated[int | None, Query(ge=0)] = None,
) -> Any:
    _period(principal, from_, to)
    wait_min_position(services, min_position)
    with services.read() as conn:
        return service_kpis_summary(conn, visible_owners=_visible(principal), start=from_, end=to)


@router.get("/api/v1/kpis/service/complaint-rates", response_model=ListEnvelope[ComplaintRateRow])
def service_complaint_rates(
    principal: CurrentPrincipal,
    services: ServicesDep,
    paging: PagingDep,
    group_by: Literal["product", "account"] = "product",
    from_: From = None,
    to: To = None,
) -> Any:
    _period(principal, from_, to)
    if paging.sort is not None:
        raise ValidationFailed([FieldError("sort", "rows are ordered by id")])
    wait_min_position(services, paging.min_position)
    with services.read() as conn:
        page = complaint_rates(
            conn,
            visible_owners=_visible(principal),
            scope=group_by,
            start=from_,
            end=to,
            cursor=paging.cursor,
            limit=paging.limit,
        )
    return listed(page)
