"""Shipments of an order (/api/v1/orders/{order_id}/shipments, /api/v1/shipments) and the
order's fulfilment (/api/v1/orders/{order_id}/fulfilment)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any
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
from crm_api.application.shipments import shipment_view
from crm_api.domain.errors import NotFound
from crm_api.domain.fulfilment import MAX_SHIPMENT_LINES, Shipment, ShipmentLine
from crm_api.projections.fulfilment import SHIPMENT_SORTS, fulfilment_of, list_shipments
from crm_api.projections.paging import Sort

orders_router = APIRouter(prefix="/api/v1/orders", tags=["shipments"], responses=PROBLEMS)
shipments_router = APIRouter(prefix="/api/v1/shipments", tags=["shipments"], responses=PROBLEMS)

Quantity = Annotated[
    Decimal, Field(gt=0, le=1_000_000_000, decimal_places=3, description='e.g. "2" or "1.5"')
]


class TrackingStatus(StrEnum):
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    EXCEPTION = "exception"
    RETURNED = "returned"


class ShipmentStatus(StrEnum):
    """`shipped` until the first tracking event, then the latest tracking status."""

    SHIPPED = "shipped"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    EXCEPTION = "exception"
    RETURNED = "returned"


class FulfilmentStatus(StrEnum):
    UNFULFILLED = "unfulfilled"
    PARTIALLY_SHIPPED = "partially_shipped"
    SHIPPED = "shipped"
    DELIVERED = "delivered"


def _utc(moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


class ShipmentLineIn(Strict):
    line: int = Field(ge=1, le=100_000, description="The order line number.")
    quantity: Quantity


class ShipmentCreate(Strict):
    carrier: str = Field(min_length=1, max_length=100)
    tracking_number: str | None = Field(None, min_length=1, max_length=100)
    shipped_at: datetime | None = Field(None, description="Defaults to now.")
    lines: list[ShipmentLineIn] = Field(min_length=1, max_length=MAX_SHIPMENT_LINES)


class TrackIn(Strict):
    status: TrackingStatus
    at: datetime = Field(description="When the carrier reported it; not before the last one.")
    note: str | None = Field(None, max_length=1000)


class DeliverIn(Strict):
    delivered_at: datetime | None = Field(None, description="Defaults to now.")


class ShipmentLineOut(BaseModel):
    line: int
    quantity: Decimal


class TrackingOut(BaseModel):
    status: ShipmentStatus
    at: datetime
    note: str | None


class ShipmentOut(BaseModel):
    id: UUID
    order_id: UUID
    account_id: UUID
    carrier: str
    tracking_number: str | None
    shipped_at: datetime
    lines: list[ShipmentLineOut]
    status: ShipmentStatus = Field(description='"shipped" until the first tracking event.')
    status_at: datetime
    delivered_at: datetime | None
    tracking: list[TrackingOut]
    version: int
    created_at: datetime
    updated_at: datetime


class ShipmentRow(BaseModel):
    id: UUID
    order_id: UUID
    account_id: UUID
    carrier: str
    tracking_number: str | None
    shipped_at: datetime
    lines: list[ShipmentLineOut]
    status: ShipmentStatus
    status_at: datetime
    delivered_at: datetime | None
    line_count: int
    version: int
    created_at: datetime
    updated_at: datetime


class FulfilmentLineOut(BaseModel):
    line: int
    product_id: str | None
    sku: str | None
    ordered: Decimal
    shipped: Decimal
    remaining: Decimal


class FulfilmentShipmentOut(BaseModel):
    id: UUID
    carrier: str
    tracking_number: str | None
    shipped_at: datetime
    status: ShipmentStatus = Field(description="The latest tracking status.")
    status_at: datetime
    delivered_at: datetime | None


class FulfilmentOut(BaseModel):
    order_id: UUID
    account_id: UUID
    order_status: str
    status: FulfilmentStatus
    lines: list[FulfilmentLineOut]
    shipments: list[FulfilmentShipmentOut]
    updated_at: datetime


def shipment_lines(body: ShipmentCreate) -> list[ShipmentLine]:
    return [ShipmentLine(line.line, line.quantity) for line in body.lines]


@orders_router.post(
    "/{order_id}/shipments", status_code=201, response_model=ShipmentOut, tags=["shipments"]
)
def create_shipment(
    order_id: str, body: ShipmentCreate, ctx: Command, services: ServicesDep, response: Response
) -> Any:
    """Ship some or all of the order's lines. The shipped total of a line over all the order's
    shipments never exceeds its ordered quantity (422 naming lines[i].quantity)."""
    outcome = services.shipments.create_shipment(
        ctx,
        order_id,
        carrier=body.carrier,
        tracking_number=body.tracking_number,
        shipped_at=_utc(body.shipped_at),
        lines=shipment_lines(body),
    )
    return written(services, response, outcome, shipment_view, created_at=shipments_router.prefix)


@orders_router.get("/{order_id}/shipments", response_model=ListEnvelope[ShipmentRow])
def list_order_shipments(
    order_id: str, principal: CurrentPrincipal, services: ServicesDep, paging: PagingDep
) -> Any:
    services.shipments.get_order(principal, order_id)
    wait_min_position(services, paging.min_position)
    sort = Sort.parse(paging.sort, SHIPMENT_SORTS, "shipped_at")
    with services.read() as conn:
        page = list_shipments(conn, order_id, sort=sort, cursor=paging.cursor, limit=paging.limit)
    return listed(page)


@orders_router.get("/{order_id}/fulfilment", response_model=FulfilmentOut)
def get_fulfilment(
    order_id: str,
    principal: CurrentPrincipal,
    services: ServicesDep,
    min_position: Annotated[int | None, Query(ge=0)] = None,
) -> Any:
    """Unfulfilled, partially_shipped, shipped (every line in full) or delivered (and every
    shipment delivered); per line ordered, shipped and remaining; per shipment its status."""
    order = services.shipments.get_order(principal, order_id)
    wait_min_position(services, min_position)
    with services.read() as conn:
        found = fulfilment_of(conn, str(order.id))
    if found is None:
        raise NotFound(f"order {order_id} not found")
    return found


@shipments_router.get("/{shipment_id}", response_model=ShipmentOut)
def get_shipment(
    shipment_id: str,
    principal: CurrentPrincipal,
    services: ServicesDep,
    response: Response,
    as_of: datetime | None = None,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> Any:
    shipment = services.shipments.get_shipment(principal, shipment_id)
    shipment = point_in_time(services.app, shipment, Shipment, version=version, as_of=as_of)
    return one(response, shipment, shipment_view)


@shipments_router.get("/{shipment_id}/history", response_model=ListEnvelope[HistoryEntry])
def shipment_history(
    shipment_id: str,
    principal: CurrentPrincipal,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
) -> Any:
    principal.require("history:read")
    shipment = services.shipments.get_shipment(principal, shipment_id)
    return history(services.app, shipment, Shipment, cursor, limit)


@shipments_router.post("/{shipment_id}/track", response_model=ShipmentOut)
def track_shipment(
    shipment_id: str,
    body: TrackIn,
    ctx: Command,
    if_match: IfMatch,
    services: ServicesDep,
    response: Response,
) -> Any:
    """Record a carrier's status; `delivered` is the same as /deliver."""
    at = _utc(body.at)
    assert at is not None
    outcome = services.shipments.track(
        ctx, shipment_id, status=body.status.value, at=at, note=body.note, expected_version=if_match
    )
    return written(services, response, outcome, shipment_view)


@shipments_router.post("/{shipment_id}/deliver", response_model=ShipmentOut)
def deliver_shipment(
    shipment_id: str,
    ctx: Command,
    if_match: IfMatch,
    services: ServicesDep,
    response: Response,
    body: DeliverIn | None = None,
) -> Any:
    outcome = services.shipments.deliver(
        ctx,
        shipment_id,
        delivered_at=_utc(body.delivered_at) if body else None,
        expected_version=if_match,
    )
    return written(services, response, outcome, shipment_view)


router = APIRouter()
"""What create_app includes: an order's shipments and fulfilment, and shipments."""
for _part in (orders_router, shipments_router):
    router.include_router(_part)
