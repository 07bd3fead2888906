"""Test support for alerts, customer value, grades, margins and the data-entry KPIs."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

from crm_api.application.app import CommandContext
from crm_api.application.services import Services
from crm_api.domain.orders import Order, order_line
from tests.order_support import INTEGRATOR, place_order
from tests.sales_support import ok
from tests.support import Company

ALERTS = "/api/v1/alerts"
ANALYTICS = "/api/v1/analytics"
KPIS = "/api/v1/kpis/data-entry"

WIDGET = "00000000-0000-4000-8000-0000000000a1"
GADGET = "00000000-0000-4000-8000-0000000000a2"


def alerts(company: Company, who: str, **params: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = ok(
        company.client.get(ALERTS, params=params, headers=company.as_(who))
    )["data"]
    return found


def order(
    services: Services,
    account_id: str,
    at: datetime,
    *lines: tuple[str, str, str, str | None],
    external_id: str | None = None,
) -> str:
    """Place an order: lines as (product_id, quantity, unit_price, unit_cost); its id."""
    placed = place_order(
        services,
        account_id,
        [
            {
                "product_id": p,
                "sku": "WID-1" if p == WIDGET else "GAD-1",
                "quantity": q,
                "unit_price": u,
                "unit_cost": c,
            }
            for p, q, u, c in lines
        ],
        ordered_at=at,
        external_id=external_id,
    )
    return str(placed.id)


def get(company: Company, who: str, path: str, **params: Any) -> dict[str, Any]:
    answer: dict[str, Any] = ok(
        company.client.get(f"{ANALYTICS}/{path}", params=params, headers=company.as_(who))
    )
    return answer


def _change(services: Services, order_id: str, decide: Any) -> None:
    ctx = CommandContext(principal=INTEGRATOR, command_id=str(uuid4()), correlation_id="test")
    outcome = services.app.change(ctx, order_id, Order, decide)
    services.wait_for(outcome.position)


def cancel(services: Services, order_id: str) -> None:
    _change(services, order_id, lambda o: o.cancel("customer"))


def revise(services: Services, order_id: str, *lines: tuple[str, str, str, str | None]) -> None:
    """New lines for an order (same shapes as `order`)."""
    revised = [
        order_line(
            i + 1,
            product_id=p,
            sku=_sku(p),
            quantity=Decimal(q),
            unit_price=Decimal(u),
            unit_cost=None if c is None else Decimal(c),
        )
        for i, (p, q, u, c) in enumerate(lines)
    ]
    _change(services, order_id, lambda o: o.revise(lines=revised) and None)


def _sku(product_id: str) -> str:
    return "WID-1" if product_id == WIDGET else "GAD-1"
