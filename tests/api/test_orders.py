"""Orders through the REST API, on both stores: the integrator's batch upsert, single orders,
changes and cancellation, accounts found or created by external reference, quotes that
become orders, and who sees what."""

from __future__ import annotations

from typing import Any

import pytest

from tests.quote_support import Sales
from tests.support import Company

BATCH = "/api/v1/orders:batch"


@pytest.fixture
def sales(company: Company) -> Sales:
    return Sales.build(company)


@pytest.fixture
def integrator(sales: Sales) -> dict[str, str]:
    response = sales.client.post(
        "/api/v1/api-keys",
        json={
            "name": "erp",
            "role": "integrator",
            "scopes": ["orders:write", "orders:read", "history:read"],
        },
        headers=sales.company.as_("admin"),
    )
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def order(sales: Sales, external_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "source": "sap",
        "external_id": external_id,
        "account_id": sales.account["id"],
        "ordered_at": "2025-03-01T10:00:00Z",
        "currency": "EUR",
        "lines": [
            {"sku": "WID-1", "quantity": "2", "unit_price": "95.00", "unit_cost": "41.00"},
            {"product_id": sales.products["GAD-1"]["id"], "quantity": "1", "unit_price": "50"},
        ],
    }
    body.update(overrides)
    return body


def push(sales: Sales, headers: dict[str, str], orders: list[Any], **extra: Any) -> Any:
    response = sales.client.post(BATCH, json={"orders": orders, **extra}, headers=headers)
    assert response.status_code == 200, response.text
    return response


def statuses(response: Any) -> list[str]:
    return [r["status"] for r in response.json()["results"]]


def history(sales: Sales, order_id: str) -> list[dict[str, Any]]:
    response = sales.client.get(
        f"/api/v1/orders/{order_id}/history", headers=sales.company.as_("auditor")
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]


def listed(sales: Sales, who: str = "auditor", **params: Any) -> list[dict[str, Any]]:
    response = sales.client.get("/api/v1/orders", params=params, headers=sales.company.as_(who))
    assert response.status_code == 200, response.text
    return response.json()["data"]


# the batch


def test_a_batch_keeps_the_valid_orders_and_reports_each_invalid_one(sales, integrator):
    orders = [
        order(sales, "A-1"),
        order(sales, "A-2", currency="usd"),
        order(sales, "A-3", lines=[{"sku": "NOPE", "quantity": "1", "unit_price": "1"}]),
        "not an order",
        order(sales, "A-4", account_id="00000000-0000-4000-8000-000000000000"),
        order(
            sales,
            "A-5",
            lines=[
                {
                    "sku": "WID-1",
                    "product_id": sales.products["WID-1"]["id"],
                    "quantity": "1",
                    "unit_price": "1",
                }
            ],
        ),
        order(sales, "A-6"),
    ]
    response = push(sales, integrator, orders)
    results = response.json()["results"]
    assert [r["index"] for r in results] == list(range(7))
    assert statuses(response) == ["created", "error", "error", "error", "error", "error", "created"]
    fields = [[e["field"] for e in r["error"]["errors"]] for r in results if r["error"]]
    assert fields == [
        ["currency"],
        ["lines[0].sku"],
        ["body"],
        ["account_id"],
        ["lines[0].product_id"],
    ]
    assert all(r["error"]["status"] == 422 for r in results if r["error"])
    position = int(response.headers["X-Log-Position"])
    rows = listed(sales, min_position=position)
    assert sorted(r["external_id"] for r in rows) == ["A-1", "A-6"]
    first = next(r for r in rows if r["external_id"] == "A-1")
    assert (first["amount"], first["line_count"], first["cost"]) == ("240.00", 2, None)
    assert first["lines"][0]["sku"] == "WID-1" and first["lines"][0]["unit_cost"] == "41.00"


def test_sending_the_same_batch_again_changes_nothing(sales, integrator):
    orders = [order(sales, f"B-{i}") for i in range(5)]
    first = push(sales, integrator, orders)
    again = push(sales, integrator, orders)
    assert statuses(again) == ["unchanged"] * 5
    assert again.headers["X-Log-Position"] == first.headers["X-Log-Position"]
    assert [r["order_id"] for r in again.json()["results"]] == [
        r["order_id"] for r in first.json()["results"]
    ]
    assert all(len(history(sales, r["order_id"])) == 1 for r in first.json()["results"])


def test_an_update_of_one_order_records_exactly_one_event(sales, integrator):
    orders = [order(sales, f"C-{i}") for i in range(3)]
    first = push(sales, integrator, orders)
    orders[1]["lines"][0]["quantity"] = "3"
    orders[1]["reference"] = "PO-77"
    second = push(sales, integrator, orders)
    assert statuses(second) == ["unchanged", "updated", "unchanged"]
    order_id = first.json()["results"][1]["order_id"]
    events = history(sales, order_id)
    assert [e["type"] for e in events] == ["OrderPlaced", "OrderRevised"]
    assert events[1]["data"]["changed"] == ["lines", "reference"]
    got = sales.client.get(f"/api/v1/orders/{order_id}", headers=sales.company.as_("auditor"))
    assert got.json()["lines"][0]["quantity"] == "3.000" and got.json()["amount"] == "335.00"
    assert got.json()["version"] == 2


def test_an_order_keeps_its_historical_date_as_business_time(sales, integrator):
    response = push(
        sales, integrator, [order(sales, "D-1", ordered_at="2024-12-24T08:30:00+01:00")]
    )
    order_id = response.json()["results"][0]["order_id"]
    placed = history(sales, order_id)[0]
    assert placed["occurred_at"].startswith("2024-12-24T07:30:00")
    assert placed["recorded_at"].startswith("2026-01-05")
    assert placed["data"]["ordered_at"].startswith("2024-12-24T07:30:00")


def test_the_same_order_twice_in_one_batch_is_an_error_for_the_second(sales, integrator):
    response = push(sales, integrator, [order(sales, "E-1"), order(sales, "E-1")])
    assert statuses(response) == ["created", "error"]
    assert response.json()["results"][1]["error"]["errors"][0]["field"] == "external_id"


def test_batch_limits(sales, integrator):
    too_many = sales.client.post(BATCH, json={"orders": [{}] * 1001}, headers=integrator)
    assert too_many.status_code == 422 and too_many.json()["errors"][0]["field"] == "orders"
    empty = sales.client.post(BATCH, json={"orders": []}, headers=integrator)
    assert empty.status_code == 422
    unknown = sales.client.post(
        BATCH, json={"orders": [order(sales, "x")], "dry": True}, headers=integrator
    )
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "dry"


# accounts by external reference


def test_unknown_account_refs_are_errors_unless_accounts_may_be_created(sales, integrator):
    ref = {"source": "sap", "id": "CUST-9", "name": "Globex"}
    without = push(sales, integrator, [order(sales, "F-1", account_id=None, account_ref=ref)])
    assert statuses(without) == ["error"]
    assert without.json()["results"][0]["error"]["errors"][0]["field"] == "account_ref"
    owner = {"owner_id": sales.company.ids["rep_b"]}
    created = push(
        sales,
        integrator,
        [
            order(sales, "F-1", account_id=None, account_ref=ref),
            order(sales, "F-2", account_id=None, account_ref=ref),
        ],
        create_missing_accounts=owner,
    )
    assert statuses(created) == ["created", "created"]
    rows = listed(sales, min_position=int(created.headers["X-Log-Position"]))
    account_ids = {r["account_id"] for r in rows}
    assert len(account_ids) == 1
    account = sales.client.get(
        f"/api/v1/accounts/{account_ids.pop()}", headers=sales.company.as_("rep_b")
    ).json()
    assert account["name"] == "Globex" and account["owner_id"] == sales.company.ids["rep_b"]
    assert account["external_refs"] == [{"source": "sap", "id": "CUST-9"}]
    # Known now: a later batch finds the same account without creating another.
    later = push(sales, integrator, [order(sales, "F-3", account_id=None, account_ref=ref)])
    assert statuses(later) == ["created"]
    assert (
        len(
            {
                r["account_id"]
                for r in listed(sales, min_position=int(later.headers["X-Log-Position"]))
            }
        )
        == 1
    )


def test_create_missing_accounts_needs_a_real_owner(sales, integrator):
    response = sales.client.post(
        BATCH,
        json={
            "orders": [order(sales, "G-1")],
            "create_missing_accounts": {"owner_id": sales.company.ids["auditor"]},
        },
        headers=integrator,
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "create_missing_accounts.owner_id"


# one order


def test_a_single_order_is_created_then_unchanged_then_updated(sales):
    admin = sales.company.as_("admin")
    body = order(sales, "H-1")
    created = sales.client.post("/api/v1/orders", json=body, headers=admin)
    assert created.status_code == 201, created.text
    assert created.headers["Location"].endswith(created.json()["id"])
    same = sales.client.post("/api/v1/orders", json=body, headers=admin)
    assert same.status_code == 200 and same.json()["version"] == 1
    changed = sales.client.post(
        "/api/v1/orders", json={**body, "currency": "EUR", "reference": "x"}, headers=admin
    )
    assert changed.status_code == 200 and changed.json()["version"] == 2
    bad = sales.client.post("/api/v1/orders", json={**body, "account_id": None}, headers=admin)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "account_id"


def test_patch_and_cancel(sales):
    rep = sales.company.as_("rep_a")
    created = sales.client.post("/api/v1/orders", json=order(sales, "I-1"), headers=rep).json()
    url = f"/api/v1/orders/{created['id']}"
    stale = sales.client.patch(url, json={"reference": "PO-1"}, headers={**rep, "If-Match": '"9"'})
    assert stale.status_code == 412
    patched = sales.client.patch(
        url, json={"reference": "PO-1"}, headers={**rep, "If-Match": '"1"'}
    )
    assert patched.status_code == 200 and patched.json()["reference"] == "PO-1"
    assert patched.json()["lines"][1]["sku"] == "GAD-1"
    assert sales.client.patch(url, json={"lines": None}, headers=rep).status_code == 422
    cancelled = sales.client.post(f"{url}/cancel", json={"reason": "duplicate"}, headers=rep)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = sales.client.post(f"{url}/cancel", headers=rep)
    assert again.status_code == 409 and again.json()["state"] == "cancelled"
    resent = sales.client.post(
        "/api/v1/orders", json=order(sales, "I-1", reference="new"), headers=rep
    )
    assert resent.status_code == 409 and resent.json()["code"] == "invalid_state"


# who sees what


def test_orders_follow_the_accounts_visibility(sales, integrator):
    c = sales.company
    response = push(sales, integrator, [order(sales, "J-1")])
    order_id = response.json()["results"][0]["order_id"]
    position = int(response.headers["X-Log-Position"])
    assert [r["id"] for r in listed(sales, "rep_a", min_position=position)] == [order_id]
    assert listed(sales, "rep_c") == []
    assert sales.client.get(f"/api/v1/orders/{order_id}", headers=c.as_("rep_c")).status_code == 404
    # A rep cannot push an order onto an account it does not see.
    refused = push(sales, c.as_("rep_c"), [order(sales, "J-2")])
    assert statuses(refused) == ["error"]
    auditor = sales.client.post(
        BATCH, json={"orders": [order(sales, "J-3")]}, headers=c.as_("auditor")
    )
    assert auditor.status_code == 403 and auditor.json()["code"] == "read_only_role"


# from a quote


def test_an_accepted_quote_becomes_an_order(sales):
    quote = sales.create("rep_a", sales.line("WID-1", "95.00", "3"))
    sent = sales.do("rep_a", sales.do("rep_a", quote, "submit"), "send")
    accepted = sales.do("rep_a", sent, "accept")
    assert accepted["order_id"] is not None
    got = sales.client.get(
        f"/api/v1/orders/{accepted['order_id']}", headers=sales.company.as_("rep_a")
    )
    assert got.status_code == 200, got.text
    made = got.json()
    assert (made["source"], made["external_id"], made["quote_id"]) == (
        "quote",
        quote["id"],
        quote["id"],
    )
    assert made["lines"][0]["quantity"] == "3.000" and made["lines"][0]["unit_cost"] == "40.00"
    assert (made["amount"], made["cost"], made["margin"]) == ("285.00", "120.00", "165.00")
    placed = history(sales, made["id"])[0]
    quote_events = sales.client.get(
        f"/api/v1/quotes/{quote['id']}/history", headers=sales.company.as_("auditor")
    ).json()["data"]
    accepted_event = quote_events[-1]["event"] if "event" in quote_events[-1] else quote_events[-1]
    assert (placed["type"], accepted_event["type"]) == ("OrderPlaced", "QuoteAccepted")
    assert placed["command_id"] == accepted_event["command_id"]
    assert placed["recorded_at"] == accepted_event["recorded_at"]


# forecast vs actual counts orders


def test_orders_count_against_the_reps_forecast(sales, integrator):
    c = sales.company
    put = sales.client.put(
        f"/api/v1/forecasts/{c.ids['rep_a']}/2026-01",
        json={"currency": "EUR", "lines": [{"product_id": None, "amount": "1000.00"}]},
        headers=c.as_("rep_a"),
    )
    assert put.status_code == 201, put.text
    january = [order(sales, f"K-{i}", ordered_at=f"2026-01-0{i + 2}T10:00:00Z") for i in range(2)]
    december = order(sales, "K-9", ordered_at="2025-12-31T23:00:00Z")
    response = push(sales, integrator, [*january, december])
    position = int(response.headers["X-Log-Position"])

    def rows(period: str) -> dict[str, Any]:
        got = sales.client.get(
            "/api/v1/analytics/forecast-vs-actual",
            params={"period": period, "owner_id": c.ids["rep_a"], "min_position": position},
            headers=c.as_("rep_a"),
        )
        assert got.status_code == 200, got.text
        (row,) = got.json()["data"]
        return row

    month = rows("2026-01")
    assert (month["forecast_amount"], month["ordered_amount"], month["order_count"]) == (
        "1000.00",
        "480.00",
        2,
    )
    assert month["order_attainment_pct"] == 48.0
    assert rows("2026-Q1")["ordered_amount"] == "480.00"
    assert rows("2025-12")["ordered_amount"] == "240.00"
    cancelled = sales.client.post(
        f"/api/v1/orders/{response.json()['results'][0]['order_id']}/cancel", headers=integrator
    )
    assert cancelled.status_code == 200, cancelled.text
    position = int(cancelled.headers["X-Log-Position"])
    after = rows("2026-01")
    assert (after["ordered_amount"], after["order_count"]) == ("240.00", 1)
