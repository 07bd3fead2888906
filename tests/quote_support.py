"""Test support for quotes: two products, an account of rep A's, and quote commands."""

from __future__ import annotations

from typing import Any

from tests.support import Company

WIDGET = {  # 10% off list is the floor
    "sku": "WID-1",
    "name": "Widget",
    "list_price": "100.00",
    "unit_cost": "40.00",
    "floor_price": "90.00",
    "currency": "EUR",
}
GADGET = {
    "sku": "GAD-1",
    "name": "Gadget",
    "list_price": "50.00",
    "unit_cost": "20.00",
    "floor_price": "45.00",
    "currency": "EUR",
}


class Sales:
    """A company with two products and an account of rep A's, and quote helpers."""

    def __init__(self, company: Company) -> None:
        self.company = company
        self.client = company.client
        self.products: dict[str, dict[str, Any]] = {}
        self.account: dict[str, Any] = {}

    @classmethod
    def build(cls, company: Company) -> Sales:
        sales = cls(company)
        for product in (WIDGET, GADGET):
            response = sales.client.post(
                "/api/v1/products", json=product, headers=company.as_("admin")
            )
            assert response.status_code == 201, response.text
            sales.products[product["sku"]] = response.json()
        sales.account = company.open_account("rep_a", "Acme")
        return sales

    def line(self, sku: str, unit_price: str, quantity: str = "1") -> dict[str, Any]:
        return {
            "product_id": self.products[sku]["id"],
            "quantity": quantity,
            "unit_price": unit_price,
        }

    def create(self, who: str = "rep_a", *lines: dict[str, Any], **body: Any) -> dict[str, Any]:
        body.setdefault("account_id", self.account["id"])
        body.setdefault("currency", "EUR")
        body.setdefault("lines", list(lines) or [self.line("WID-1", "95.00", "2")])
        response = self.client.post("/api/v1/quotes", json=body, headers=self.company.as_(who))
        assert response.status_code == 201, response.text
        return response.json()

    def do(
        self,
        who: str,
        quote: dict[str, Any],
        action: str,
        body: dict[str, Any] | None = None,
        *,
        if_match: int | None = None,
        status: int = 200,
    ) -> dict[str, Any]:
        headers = self.company.as_(who)
        if if_match is not None:
            headers["If-Match"] = f'"{if_match}"'
        response = self.client.post(
            f"/api/v1/quotes/{quote['id']}/{action}", json=body, headers=headers
        )
        assert response.status_code == status, response.text
        return response.json()

    def approve(self, who: str, quote: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return self.do(
            who,
            quote,
            "approve",
            {"revision": quote["revision"]},
            if_match=quote["version"],
            **kwargs,
        )

    def get(self, quote: dict[str, Any], who: str = "rep_a", **params: Any) -> dict[str, Any]:
        response = self.client.get(
            f"/api/v1/quotes/{quote['id']}", params=params, headers=self.company.as_(who)
        )
        assert response.status_code == 200, response.text
        return response.json()

    def history(self, quote: dict[str, Any], who: str = "auditor", **params: Any) -> dict[str, Any]:
        response = self.client.get(
            f"/api/v1/quotes/{quote['id']}/history", params=params, headers=self.company.as_(who)
        )
        assert response.status_code == 200, response.text
        return response.json()

    def below_floor(self, who: str = "rep_a", price: str = "88.00") -> dict[str, Any]:
        """A quote pending approval: the widget sold under its floor of 90."""
        quote = self.create(who, self.line("WID-1", price))
        return self.do(who, quote, "submit")
