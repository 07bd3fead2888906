"""Test support for shipments, invoices and receivables: accounts of rep A and rep C, orders
placed through the application (tests/order_support.py), and REST helpers."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from crm_api.application.app import CommandContext
from crm_api.application.services import Services
from crm_api.domain.orders import Order
from tests.order_support import INTEGRATOR, place_order
from tests.support import Company


def cancel_order(services: Services, order_id: str) -> None:
    ctx = CommandContext(principal=INTEGRATOR, command_id=str(uuid4()), correlation_id="test")
    app = services.app
    order = app.load(order_id, Order)
    with app.stamping(ctx):
        order.cancel("customer changed its mind")
    recordings = app.save(order)
    services.wait_for(recordings[-1].notification.id)


class Books:
    """A company, an account of rep A's ("Acme") and one of rep C's ("Zeta"), and helpers."""

    def __init__(self, company: Company, services: Services) -> None:
        self.company = company
        self.services = services
        self.client = company.client
        self.acme = company.open_account("rep_a", "Acme")
        self.zeta = company.open_account("rep_c", "Zeta")

    def order(self, account: dict[str, Any] | None = None, *quantities: str) -> str:
        """An order of (by default) two lines: 10 widgets at 5.00 and 4 gadgets at 2.50."""
        quantities = quantities or ("10", "4")
        prices = ("5.00", "2.50", "1.00")
        lines = [
            {"product_id": str(uuid4()), "sku": f"SKU-{i}", "quantity": q, "unit_price": prices[i]}
            for i, q in enumerate(quantities)
        ]
        return str(place_order(self.services, (account or self.acme)["id"], lines).id)

    def post(
        self,
        who: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        status: int = 201,
        on_behalf_of: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        response = self.client.post(
            f"/api/v1/{path}",
            json=body,
            headers={**self.company.as_(who, on_behalf_of), **(headers or {})},
        )
        assert response.status_code == status, response.text
        result: dict[str, Any] = response.json()
        return result

    def get(self, who: str, path: str, *, status: int = 200, **params: Any) -> dict[str, Any]:
        response = self.client.get(f"/api/v1/{path}", params=params, headers=self.company.as_(who))
        assert response.status_code == status, response.text
        result: dict[str, Any] = response.json()
        return result

    def ship(
        self,
        order_id: str,
        *lines: tuple[int, str],
        who: str = "rep_a",
        status: int = 201,
        **body: Any,
    ) -> dict[str, Any]:
        body.setdefault("carrier", "DHL")
        body.setdefault("tracking_number", "TRK-" + uuid4().hex[:8])
        body["lines"] = [{"line": n, "quantity": q} for n, q in lines]
        return self.post(who, f"orders/{order_id}/shipments", body, status=status)

    def invoice(
        self,
        who: str = "rep_a",
        *,
        status: int = 201,
        account: dict[str, Any] | None = None,
        **body: Any,
    ) -> dict[str, Any]:
        body.setdefault("number", "INV-" + uuid4().hex[:8])
        if "order_id" not in body:
            body.setdefault("account_id", (account or self.acme)["id"])
            body.setdefault("currency", "EUR")
        body.setdefault("amount", "100.00")
        body.setdefault("due_at", "2026-02-04")
        return self.post(who, "invoices", body, status=status)

    def pay(
        self,
        invoice: dict[str, Any],
        amount: str,
        who: str = "rep_a",
        status: int = 201,
        **body: Any,
    ) -> dict[str, Any]:
        return self.post(
            who, f"invoices/{invoice['id']}/payments", {"amount": amount, **body}, status=status
        )
