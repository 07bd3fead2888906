"""Test support for orders: place an order straight through the application (the domain
contract of crm_api.domain.orders), for suites that need orders without the orders API."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

from crm_api.application.app import CommandContext
from crm_api.application.services import Services
from crm_api.domain.orders import Order, order_line
from crm_api.domain.people import Principal, Role

INTEGRATOR = Principal(
    id="integrator-test", kind="api_key", role=Role.INTEGRATOR, visible_owners=None
)


def place_order(
    services: Services,
    account_id: str,
    lines: list[dict[str, Any]],
    *,
    ordered_at: datetime | None = None,
    currency: str = "EUR",
    source: str = "erp",
    external_id: str | None = None,
) -> Order:
    """lines: [{product_id, sku, quantity, unit_price, unit_cost?}]. Returns the saved order,
    after the read models have caught up with it."""
    ctx = CommandContext(principal=INTEGRATOR, command_id=str(uuid4()), correlation_id="test")
    app = services.app
    with app.stamping(ctx) as now:
        order = Order.place(
            source=source,
            external_id=external_id or str(uuid4()),
            account_id=account_id,
            quote_id=None,
            ordered_at=ordered_at or now,
            currency=currency,
            reference=None,
            lines=[
                order_line(
                    i + 1,
                    product_id=line["product_id"],
                    sku=line.get("sku", "SKU"),
                    quantity=Decimal(str(line["quantity"])),
                    unit_price=Decimal(str(line["unit_price"])),
                    unit_cost=None
                    if line.get("unit_cost") is None
                    else Decimal(str(line["unit_cost"])),
                )
                for i, line in enumerate(lines)
            ],
        )
    recordings = app.save(order)
    services.wait_for(recordings[-1].notification.id)
    return order
