"""Test support for opportunities, forecasts and the sales analytics."""

from __future__ import annotations

from typing import Any

from tests.support import Company

OPPORTUNITIES = "/api/v1/opportunities"
FORECASTS = "/api/v1/forecasts"
FUNNEL = "/api/v1/analytics/funnel"
FVA = "/api/v1/analytics/forecast-vs-actual"


def opportunity_body(account_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "account_id": account_id,
        "name": "Big deal",
        "amount": "1000.00",
        "currency": "EUR",
        "expected_close_date": "2026-03-31",
    }
    body.update(overrides)
    return body


def open_opportunity(
    company: Company, who: str, account_id: str, on_behalf_of: str | None = None, **overrides: Any
) -> dict[str, Any]:
    response = company.client.post(
        OPPORTUNITIES,
        json=opportunity_body(account_id, **overrides),
        headers=company.as_(who, on_behalf_of),
    )
    assert response.status_code == 201, response.text
    opportunity: dict[str, Any] = response.json()
    return opportunity


def command(
    company: Company, who: str, opportunity_id: str, verb: str, body: dict[str, Any] | None = None
) -> Any:
    return company.client.post(
        f"{OPPORTUNITIES}/{opportunity_id}/{verb}", json=body or {}, headers=company.as_(who)
    )


def ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    return body


def fields(problem: dict[str, Any]) -> list[str]:
    return [e["field"] for e in problem.get("errors", [])]


def history_types(company: Company, url: str) -> list[str]:
    events = ok(company.client.get(f"{url}/history", headers=company.as_("auditor")))["data"]
    return [e["type"] for e in events]


def list_product(company: Company, sku: str = "WID-1") -> dict[str, Any]:
    body = {
        "sku": sku,
        "name": "Widget",
        "list_price": "100.00",
        "unit_cost": "40.00",
        "floor_price": "80.00",
        "currency": "EUR",
    }
    return ok(company.client.post("/api/v1/products", json=body, headers=company.as_("admin")), 201)


def put_forecast(
    company: Company,
    who: str,
    owner: str,
    period: str,
    lines: list[dict[str, Any]],
    currency: str = "EUR",
    on_behalf_of: str | None = None,
    **headers: str,
) -> Any:
    return company.client.put(
        f"{FORECASTS}/{company.ids[owner]}/{period}",
        json={"currency": currency, "lines": lines},
        headers={**company.as_(who, on_behalf_of), **headers},
    )
