"""Shipments and fulfilment through the REST API, on both stores: partial shipments within the
ordered quantities, tracking, delivery, the fulfilment read model, visibility and roles."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from crm_api.application.services import Services
from tests.receivables_support import Books, cancel_order
from tests.support import Company


@pytest.fixture
def books(company: Company, services: Services) -> Books:
    return Books(company, services)


def test_partial_shipments_then_the_rest_make_the_order_shipped(books: Books):
    order_id = books.order()
    first = books.ship(order_id, (1, "4"), (2, "4"), shipped_at="2026-01-04T10:00:00Z")
    assert first["order_id"] == order_id and first["status"] == "shipped"
    assert first["lines"] == [{"line": 1, "quantity": "4.000"}, {"line": 2, "quantity": "4.000"}]
    assert first["shipped_at"] == "2026-01-04T10:00:00Z"
    fulfilment = books.get("rep_a", f"orders/{order_id}/fulfilment")
    assert fulfilment["status"] == "partially_shipped"
    assert [
        (x["line"], x["ordered"], x["shipped"], x["remaining"]) for x in fulfilment["lines"]
    ] == [
        (1, "10.000", "4.000", "6.000"),
        (2, "4.000", "4.000", "0.000"),
    ]
    second = books.ship(order_id, (1, "6"))
    fulfilment = books.get("rep_a", f"orders/{order_id}/fulfilment")
    assert fulfilment["status"] == "shipped"
    assert [x["remaining"] for x in fulfilment["lines"]] == ["0.000", "0.000"]
    listed = books.get("rep_a", f"orders/{order_id}/shipments")
    assert [s["id"] for s in listed["data"]] == [first["id"], second["id"]]
    assert listed["data"][1]["lines"] == [{"line": 1, "quantity": "6.000"}]


def test_shipping_more_than_remains_is_refused_naming_the_line(books: Books):
    order_id = books.order()
    books.ship(order_id, (1, "7"))
    problem = books.ship(order_id, (2, "1"), (1, "3.5"), status=422)
    assert problem["code"] == "validation_failed"
    assert [e["field"] for e in problem["errors"]] == ["lines[1].quantity"]
    assert "only 3.000 of line 1 remain" in problem["errors"][0]["message"]
    problem = books.ship(order_id, (3, "1"), status=422)
    assert problem["errors"][0]["field"] == "lines[0].line"
    # nothing of the refused shipment was recorded
    fulfilment = books.get("rep_a", f"orders/{order_id}/fulfilment")
    assert [x["shipped"] for x in fulfilment["lines"]] == ["7.000", "0.000"]


def test_concurrent_shipments_never_exceed_the_ordered_quantity(books: Books):
    order_id = books.order(None, "5")

    def ship(_: int) -> int:
        response = books.client.post(
            f"/api/v1/orders/{order_id}/shipments",
            json={"carrier": "UPS", "lines": [{"line": 1, "quantity": "2"}]},
            headers=books.company.as_("rep_a"),
        )
        return response.status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = sorted(pool.map(ship, range(4)))
    assert statuses == [201, 201, 422, 422]
    fulfilment = books.get("rep_a", f"orders/{order_id}/fulfilment")
    assert fulfilment["lines"][0]["shipped"] == "4.000"


def test_a_cancelled_order_is_not_shipped(books: Books, services: Services):
    order_id = books.order()
    cancel_order(services, order_id)
    problem = books.ship(order_id, (1, "1"), status=409)
    assert (problem["code"], problem["state"]) == ("invalid_state", "cancelled")


def test_tracking_and_delivery_are_history_and_feed_the_fulfilment(books: Books):
    order_id = books.order(None, "2")
    shipment = books.ship(order_id, (1, "2"), shipped_at="2026-01-03T08:00:00Z")
    path = f"shipments/{shipment['id']}"
    tracked = books.post(
        "rep_a",
        f"{path}/track",
        {"status": "in_transit", "at": "2026-01-04T08:00:00Z"},
        status=200,
    )
    assert tracked["status"] == "in_transit" and tracked["version"] == 2
    assert books.get("rep_a", f"orders/{order_id}/fulfilment")["shipments"][0]["status"] == (
        "in_transit"
    )
    early = books.post(
        "rep_a",
        f"{path}/track",
        {"status": "exception", "at": "2026-01-03T09:00:00Z"},
        status=422,
    )
    assert early["errors"][0]["field"] == "at"
    delivered = books.post(
        "rep_a", f"{path}/deliver", {"delivered_at": "2026-01-05T08:00:00Z"}, status=200
    )
    assert delivered["status"] == "delivered"
    assert delivered["delivered_at"] == "2026-01-05T08:00:00Z"
    again = books.post("rep_a", f"{path}/deliver", {}, status=409)
    assert (again["code"], again["state"]) == ("invalid_state", "delivered")
    fulfilment = books.get("rep_a", f"orders/{order_id}/fulfilment")
    assert fulfilment["status"] == "delivered"
    assert fulfilment["shipments"][0]["delivered_at"] == "2026-01-05T08:00:00Z"
    history = books.get("auditor", f"{path}/history")
    assert [e["type"] for e in history["data"]] == [
        "ShipmentCreated",
        "ShipmentTracked",
        "ShipmentDelivered",
    ]
    assert history["data"][1]["actor"] == books.company.ids["rep_a"]
    assert history["data"][1]["data"]["status"] == "in_transit"
    assert books.get("rep_a", path, version=2)["status"] == "in_transit"


def test_an_unfulfilled_order_and_a_returned_shipment(books: Books):
    order_id = books.order(None, "3")
    assert books.get("rep_a", f"orders/{order_id}/fulfilment")["status"] == "unfulfilled"
    shipment = books.ship(order_id, (1, "3"))
    path = f"shipments/{shipment['id']}"
    books.post(
        "rep_a", f"{path}/track", {"status": "delivered", "at": "2026-01-05T09:00:00Z"}, status=200
    )
    returned = books.post(
        "rep_a", f"{path}/track", {"status": "returned", "at": "2026-01-05T09:00:00Z"}, status=200
    )
    assert returned["status"] == "returned"
    assert [t["status"] for t in returned["tracking"]] == ["delivered", "returned"]
    assert books.get("rep_a", f"orders/{order_id}/fulfilment")["status"] == "shipped"
    late = books.post(
        "rep_a",
        f"{path}/track",
        {"status": "in_transit", "at": "2026-01-05T09:00:00Z"},
        status=409,
    )
    assert late["state"] == "returned"


def test_shipments_are_visible_only_to_those_who_see_the_account(books: Books):
    order_id = books.order()
    shipment = books.ship(order_id, (1, "1"))
    for who in ("rep_c", "rep_b"):
        assert books.get(who, f"shipments/{shipment['id']}", status=404)["code"] == "not_found"
        assert books.get(who, f"orders/{order_id}/fulfilment", status=404)["code"] == "not_found"
        books.ship(order_id, (1, "1"), who=who, status=404)
    assert books.get("manager", f"shipments/{shipment['id']}")["id"] == shipment["id"]
    assert books.get("auditor", f"orders/{order_id}/fulfilment")["status"] == "partially_shipped"
    denied = books.ship(order_id, (1, "1"), who="auditor", status=403)
    assert denied["code"] == "read_only_role"
    books.ship(order_id, (1, "1"), who="assistant", status=403)  # needs X-On-Behalf-Of
    by_assistant = books.post(
        "assistant",
        f"orders/{order_id}/shipments",
        {"carrier": "DHL", "lines": [{"line": 1, "quantity": "1"}]},
        on_behalf_of="rep_a",
    )
    history = books.get("auditor", f"shipments/{by_assistant['id']}/history")
    assert history["data"][0]["on_behalf_of"] == books.company.ids["rep_a"]


def test_a_replayed_shipment_is_recorded_once(books: Books):
    order_id = books.order()
    key = {"Idempotency-Key": "ship-once"}
    body: dict[str, Any] = {"carrier": "DHL", "lines": [{"line": 1, "quantity": "6"}]}
    first = books.post("rep_a", f"orders/{order_id}/shipments", body, headers=key)
    again = books.client.post(
        f"/api/v1/orders/{order_id}/shipments",
        json=body,
        headers={**books.company.as_("rep_a"), **key},
    )
    assert again.status_code == 201 and again.json()["id"] == first["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert books.get("rep_a", f"orders/{order_id}/fulfilment")["lines"][0]["shipped"] == "6.000"


def test_fulfilment_follows_an_order_revision_through_the_orders_api(client, company):
    """An OrderRevised from the orders API updates the ordered quantities (and nothing jams)."""
    from tests.quote_support import Sales

    sales = Sales.build(company)
    created = client.post(
        "/api/v1/orders",
        json={
            "source": "erp",
            "external_id": "R-1",
            "account_id": sales.account["id"],
            "ordered_at": "2026-01-02T10:00:00Z",
            "currency": "EUR",
            "lines": [{"sku": "WID-1", "quantity": "5", "unit_price": "95.00"}],
        },
        headers=company.as_("rep_a"),
    )
    assert created.status_code == 201, created.text
    order_id = created.json()["id"]
    revised = client.patch(
        f"/api/v1/orders/{order_id}",
        json={"lines": [{"sku": "WID-1", "quantity": "7", "unit_price": "95.00"}]},
        headers=company.as_("rep_a"),
    )
    assert revised.status_code == 200, revised.text
    fulfilment = client.get(f"/api/v1/orders/{order_id}/fulfilment", headers=company.as_("rep_a"))
    assert fulfilment.status_code == 200, fulfilment.text
    body = fulfilment.json()
    assert [line["ordered"] for line in body["lines"]] == ["7.000"], body
    ready = client.get("/ready")
    assert ready.status_code == 200, ready.text
