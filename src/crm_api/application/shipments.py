"""Commands and reads on shipments: whoever sees the order's account ships it (orders:write);
every shipment of an order is allocated in the order's one Fulfilment aggregate, saved with
the shipment, so concurrent shipments never ship more than was ordered."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from crm_api.application.app import CommandContext, CrmApplication, Outcome, command
from crm_api.domain.accounts import Account
from crm_api.domain.base import CrmAggregate
from crm_api.domain.fulfilment import (
    Fulfilment,
    Shipment,
    ShipmentLine,
    fulfilment_id_for,
)
from crm_api.domain.orders import Order
from crm_api.domain.people import Principal


def shipment_view(shipment: Shipment) -> dict[str, Any]:
    return {
        "id": str(shipment.id),
        "order_id": shipment.order_id,
        "account_id": shipment.account_id,
        "carrier": shipment.carrier,
        "tracking_number": shipment.tracking_number,
        "shipped_at": shipment.shipped_at,
        "lines": [dict(line) for line in shipment.lines],
        "status": shipment.status,
        "status_at": shipment.status_at,
        "delivered_at": shipment.delivered_at,
        "tracking": [dict(entry) for entry in shipment.tracking],
        "version": shipment.version,
        "created_at": shipment.created_on,
        "updated_at": shipment.modified_on,
    }


class ShipmentService:
    def __init__(self, app: CrmApplication) -> None:
        self.app = app

    # commands

    @command
    def create_shipment(
        self,
        ctx: CommandContext,
        order_id: str,
        *,
        carrier: str,
        tracking_number: str | None,
        shipped_at: datetime | None,
        lines: Sequence[ShipmentLine],
    ) -> Outcome[Shipment]:
        principal = ctx.principal
        principal.require("orders:write")
        order = self.get_order(principal, order_id)

        def build(shipment_id: UUID) -> list[CrmAggregate]:
            # Read inside build: a retry after a lost race sees the winner's allocation.
            current = self.app.load(order.id, Order)
            fulfilment_id = fulfilment_id_for(current.id)
            fulfilment = (
                self.app.load(fulfilment_id, Fulfilment)
                if self.app.exists(fulfilment_id)
                else Fulfilment.start(str(current.id))
            )
            now = self.app.clock.now()
            recorded = fulfilment.allocate(str(shipment_id), lines, current.lines, current.status)
            shipment = Shipment.ship(
                shipment_id,
                order_id=str(current.id),
                account_id=current.account_id,
                carrier=carrier,
                tracking_number=tracking_number,
                shipped_at=shipped_at or now,
                lines=recorded,
                now=now,
            )
            return [shipment, fulfilment]

        return self.app.create(ctx, Shipment, build)

    @command
    def track(
        self,
        ctx: CommandContext,
        shipment_id: str,
        *,
        status: str,
        at: datetime,
        note: str | None,
        expected_version: int | None,
    ) -> Outcome[Shipment]:
        ctx.principal.require("orders:write")
        now = self.app.clock.now()
        return self._change(
            ctx, shipment_id, lambda s: s.track(status, at, note, now), expected_version
        )

    @command
    def deliver(
        self,
        ctx: CommandContext,
        shipment_id: str,
        *,
        delivered_at: datetime | None,
        expected_version: int | None,
    ) -> Outcome[Shipment]:
        ctx.principal.require("orders:write")
        now = self.app.clock.now()
        return self._change(
            ctx, shipment_id, lambda s: s.deliver(delivered_at or now, now), expected_version
        )

    # reads

    def get_order(self, principal: Principal, order_id: str) -> Order:
        """The order, if the caller sees its account (404 otherwise: existence never leaks)."""
        principal.require("orders:read")
        order = self.app.load(order_id, Order)
        account = self.app.load(order.account_id, Account)
        principal.require_sees_owner(account.owner_id, "order", order_id)
        return order

    def get_shipment(self, principal: Principal, shipment_id: str) -> Shipment:
        principal.require("orders:read")
        shipment = self.app.load(shipment_id, Shipment)
        self._visible_to(principal)(shipment)
        return shipment

    # rules

    def _change(
        self,
        ctx: CommandContext,
        shipment_id: str,
        decide: Callable[[Shipment], Any],
        expected_version: int | None,
    ) -> Outcome[Shipment]:
        return self.app.change(
            ctx,
            shipment_id,
            Shipment,
            decide,
            expected_version=expected_version,
            authorize=self._visible_to(ctx.principal),
        )

    def _visible_to(self, principal: Principal) -> Callable[[Shipment], None]:
        def authorize(shipment: Shipment) -> None:
            order = self.app.load(shipment.order_id, Order)
            account = self.app.load(order.account_id, Account)
            principal.require_sees_owner(account.owner_id, "shipment", shipment.id)

        return authorize
