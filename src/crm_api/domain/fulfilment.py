"""Shipments of an order, and the per-order ledger that keeps them within the ordered quantities.

Race-free by construction: every shipment of an order is allocated in that order's one
`Fulfilment` aggregate (id derived from the order id), saved atomically with the new
`Shipment`. Two concurrent shipments both append to the same Fulfilment at the same version;
the event store's version check refuses the second, which is retried against the first's
allocation (application/app.py `create`). So the shipped total of a line never exceeds its
ordered quantity, whatever the concurrency. Tracking a shipment touches only the Shipment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from crm_api.domain.base import CrmAggregate
from crm_api.domain.errors import FieldError, InvalidTransition, ValidationFailed

QUANTUM = Decimal("0.001")
MAX_SHIPMENT_LINES = 200

SHIPPED = "shipped"
"""A shipment's status before any tracking event."""
IN_TRANSIT = "in_transit"
OUT_FOR_DELIVERY = "out_for_delivery"
DELIVERED = "delivered"
EXCEPTION = "exception"
RETURNED = "returned"
TRACKING_STATUSES = (IN_TRANSIT, OUT_FOR_DELIVERY, DELIVERED, EXCEPTION, RETURNED)

UNFULFILLED = "unfulfilled"
PARTIALLY_SHIPPED = "partially_shipped"
FULLY_SHIPPED = "shipped"
FULLY_DELIVERED = "delivered"
FULFILMENT_STATUSES = (UNFULFILLED, PARTIALLY_SHIPPED, FULLY_SHIPPED, FULLY_DELIVERED)


def fulfilment_id_for(order_id: str | UUID) -> UUID:
    """The one Fulfilment aggregate of an order."""
    return uuid5(NAMESPACE_URL, f"crm-fulfilment:{order_id}")


@dataclass(frozen=True)
class ShipmentLine:
    line: int
    quantity: Decimal


def _invalid(state: str, detail: str) -> InvalidTransition:
    return InvalidTransition(detail, code="invalid_state", state=state)


class Fulfilment(CrmAggregate):
    """How much of each line of one order has been allocated to shipments."""

    id: UUID
    kind = "fulfilment"

    @event("Started")
    def __init__(self, order_id: str) -> None:
        self.order_id = order_id
        self.shipped: dict[str, Decimal] = {}
        self.shipment_ids: list[str] = []

    @classmethod
    def start(cls, order_id: str) -> Fulfilment:
        return cls.with_id(fulfilment_id_for(order_id), order_id=order_id)

    def shipped_of(self, line: int) -> Decimal:
        return self.shipped.get(str(line), Decimal(0))

    def allocate(
        self,
        shipment_id: str,
        requested: Sequence[ShipmentLine],
        order_lines: Sequence[dict[str, Any]],
        order_status: str,
    ) -> list[dict[str, Any]]:
        """Allocate a shipment's quantities; refuse any line beyond what remains to ship.
        Returns the lines as recorded (quantities to three decimals)."""
        if order_status != "open":
            raise _invalid(order_status, f"a {order_status} order cannot be shipped")
        ordered = {int(x["line"]): Decimal(x["quantity"]) for x in order_lines}
        errors: list[FieldError] = []
        if not requested:
            errors.append(FieldError("lines", "a shipment needs at least one line"))
        if len(requested) > MAX_SHIPMENT_LINES:
            errors.append(FieldError("lines", f"at most {MAX_SHIPMENT_LINES} lines"))
        seen: set[int] = set()
        lines: list[dict[str, Any]] = []
        for index, request in enumerate(requested):
            field = f"lines[{index}]"
            quantity = Decimal(request.quantity).quantize(QUANTUM)
            if request.line not in ordered:
                errors.append(FieldError(f"{field}.line", f"the order has no line {request.line}"))
                continue
            if request.line in seen:
                errors.append(FieldError(f"{field}.line", f"line {request.line} is given twice"))
                continue
            seen.add(request.line)
            if quantity <= 0:
                errors.append(FieldError(f"{field}.quantity", "must be above zero"))
                continue
            remaining = ordered[request.line] - self.shipped_of(request.line)
            if quantity > remaining:
                errors.append(
                    FieldError(
                        f"{field}.quantity",
                        f"only {max(remaining, Decimal(0))} of line {request.line} remain to be "
                        f"shipped (ordered {ordered[request.line]}, shipped "
                        f"{self.shipped_of(request.line)})",
                    )
                )
                continue
            lines.append({"line": request.line, "quantity": quantity})
        if errors:
            raise ValidationFailed(errors)
        self._allocated(shipment_id=shipment_id, lines=lines)
        return lines

    @event("ShipmentAllocated")
    def _allocated(self, shipment_id: str, lines: list[dict[str, Any]]) -> None:
        for line in lines:
            key = str(line["line"])
            self.shipped[key] = self.shipped.get(key, Decimal(0)) + Decimal(line["quantity"])
        self.shipment_ids = [*self.shipment_ids, shipment_id]


class Shipment(CrmAggregate):
    """Goods of one order on their way: carrier, tracking number, lines, tracking events."""

    id: UUID
    kind = "shipment"

    @event("Created")
    def __init__(
        self,
        order_id: str,
        account_id: str,
        carrier: str,
        tracking_number: str | None,
        shipped_at: datetime,
        lines: list[dict[str, Any]],
    ) -> None:
        self.order_id = order_id
        self.account_id = account_id
        self.carrier = carrier
        self.tracking_number = tracking_number
        self.shipped_at = shipped_at
        self.lines = lines
        self.status = SHIPPED
        self.status_at: datetime = shipped_at
        self.delivered_at: datetime | None = None
        self.tracking: list[dict[str, Any]] = []

    @classmethod
    def ship(
        cls,
        shipment_id: UUID,
        *,
        order_id: str,
        account_id: str,
        carrier: str,
        tracking_number: str | None,
        shipped_at: datetime,
        lines: list[dict[str, Any]],
        now: datetime,
    ) -> Shipment:
        if shipped_at > now:
            raise ValidationFailed([FieldError("shipped_at", "must not be in the future")])
        return cls.with_id(
            shipment_id,
            order_id=order_id,
            account_id=account_id,
            carrier=carrier,
            tracking_number=tracking_number,
            shipped_at=shipped_at,
            lines=lines,
        )

    @property
    def final(self) -> bool:
        return self.status == RETURNED

    def track(self, status: str, at: datetime, note: str | None, now: datetime) -> None:
        """Record a carrier's scan. `delivered` is the same as `deliver(at)`."""
        if status not in TRACKING_STATUSES:
            raise ValidationFailed([FieldError("status", f"one of {', '.join(TRACKING_STATUSES)}")])
        if status == DELIVERED:
            self.deliver(at, now, note=note, field="at")
            return
        self._check_moment(at, now, "at")
        if self.status == RETURNED:
            raise _invalid(self.status, "a returned shipment is not tracked any more")
        if self.status == DELIVERED and status != RETURNED:
            raise _invalid(self.status, f"a delivered shipment can only be returned, not {status}")
        self._tracked(status=status, at=at, note=note)

    @event("Tracked")
    def _tracked(self, status: str, at: datetime, note: str | None) -> None:
        self.status = status
        self.status_at = at
        self.tracking = [*self.tracking, {"status": status, "at": at, "note": note}]

    def deliver(
        self,
        delivered_at: datetime,
        now: datetime,
        note: str | None = None,
        field: str = "delivered_at",
    ) -> None:
        self._check_moment(delivered_at, now, field)
        if self.status in (DELIVERED, RETURNED):
            raise _invalid(self.status, f"the shipment is already {self.status}")
        self._delivered(delivered_at=delivered_at, note=note)

    @event("Delivered")
    def _delivered(self, delivered_at: datetime, note: str | None) -> None:
        self.status = DELIVERED
        self.status_at = delivered_at
        self.delivered_at = delivered_at
        self.tracking = [
            *self.tracking,
            {"status": DELIVERED, "at": delivered_at, "note": note},
        ]

    def _check_moment(self, at: datetime, now: datetime, field: str) -> None:
        if at > now:
            raise ValidationFailed([FieldError(field, "must not be in the future")])
        if at < self.status_at:
            raise ValidationFailed(
                [
                    FieldError(
                        field,
                        f"must not be before the shipment's latest status "
                        f"({self.status} at {self.status_at.isoformat()})",
                    )
                ]
            )


def fulfilment_status(lines: Sequence[dict[str, Any]], shipment_statuses: Sequence[str]) -> str:
    """unfulfilled (nothing shipped), partially_shipped, shipped (every line in full), delivered
    (every line in full and every shipment delivered). `lines`: [{ordered, shipped}]."""
    shipped_any = any(Decimal(x["shipped"]) > 0 for x in lines)
    if not shipped_any:
        return UNFULFILLED
    if any(Decimal(x["shipped"]) < Decimal(x["ordered"]) for x in lines):
        return PARTIALLY_SHIPPED
    if shipment_statuses and all(s == DELIVERED for s in shipment_statuses):
        return FULLY_DELIVERED
    return FULLY_SHIPPED
