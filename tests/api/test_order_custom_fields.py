"""Custom fields on pushed orders: `POST /orders`, `orders:batch` and GraphQL `pushOrders`
carry `custom_fields` with the semantics of every other write (keys sent change, null removes,
left out keeps), checked per order; pushing the same values again records nothing, also when
the order's lines are unchanged and when the batch is decided again after losing a race."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from crm_api.application.app import CommandContext
from crm_api.application.services import Services
from crm_api.domain.orders import Order, order_id_for, order_line
from tests.api.test_custom_fields import define
from tests.api.test_graphql import gql
from tests.api.test_orders import BATCH, history, listed, order, push, statuses
from tests.order_support import INTEGRATOR
from tests.quote_support import Sales
from tests.support import Company


@pytest.fixture
def sales(company: Company) -> Sales:
    sales = Sales.build(company)
    define(company, "orders", "channel", "enum", options=["web", "phone", "edi"])
    define(company, "orders", "priority", "number", min=1, max=5, default=3)
    return sales


def admin(sales: Sales) -> dict[str, str]:
    return sales.company.as_("admin")


def read(sales: Sales, order_id: str) -> dict[str, Any]:
    response = sales.client.get(f"/api/v1/orders/{order_id}", headers=admin(sales))
    assert response.status_code == 200, response.text
    return response.json()


def types(sales: Sales, order_id: str) -> list[str]:
    return [e["type"] for e in history(sales, order_id)]


def test_a_pushed_order_carries_its_values_and_the_defaults(sales: Sales) -> None:
    created = sales.client.post(
        "/api/v1/orders",
        json=order(sales, "CF-1", custom_fields={"channel": "edi"}),
        headers=admin(sales),
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["custom_fields"] == {"channel": "edi", "priority": 3}
    assert body["version"] == 2 and created.headers["ETag"] == '"2"'
    assert types(sales, body["id"]) == ["OrderPlaced", "OrderCustomFieldsChanged"]
    assert read(sales, body["id"])["custom_fields"] == {"channel": "edi", "priority": 3}
    [row] = listed(sales, **{"cf.channel": "edi"})
    assert row["id"] == body["id"] and row["custom_fields"]["channel"] == "edi"
    assert listed(sales, **{"cf.channel": "web"}) == []


def test_pushing_again_changes_only_what_differs(sales: Sales) -> None:
    first = push(sales, admin(sales), [order(sales, "CF-2", custom_fields={"channel": "web"})])
    order_id = first.json()["results"][0]["order_id"]

    same = push(sales, admin(sales), [order(sales, "CF-2", custom_fields={"channel": "web"})])
    left_out = push(sales, admin(sales), [order(sales, "CF-2")])
    assert statuses(same) == statuses(left_out) == ["unchanged"]
    assert same.headers["X-Log-Position"] == first.headers["X-Log-Position"]

    # Same lines, another value: one event, the other keys kept.
    phone = push(sales, admin(sales), [order(sales, "CF-2", custom_fields={"channel": "phone"})])
    assert statuses(phone) == ["updated"]
    assert read(sales, order_id)["custom_fields"] == {"channel": "phone", "priority": 3}
    assert types(sales, order_id) == [
        "OrderPlaced",
        "OrderCustomFieldsChanged",
        "OrderCustomFieldsChanged",
    ]

    # New lines and a removed value in one push.
    changed = order(sales, "CF-2", reference="PO-9", custom_fields={"priority": None})
    last = push(sales, admin(sales), [changed])
    assert statuses(last) == ["updated"]
    now = read(sales, order_id)
    assert now["custom_fields"] == {"channel": "phone"} and now["reference"] == "PO-9"
    assert types(sales, order_id)[-2:] == ["OrderRevised", "OrderCustomFieldsChanged"]
    position = last.headers["X-Log-Position"]
    [row] = listed(sales, min_position=position, **{"cf.channel": "phone"})
    assert row["id"] == order_id and row["custom_fields"] == {"channel": "phone"}


def test_a_bad_value_is_an_error_of_its_own_order_only(sales: Sales) -> None:
    response = push(
        sales,
        admin(sales),
        [
            order(sales, "CF-3", custom_fields={"channel": "fax"}),
            order(sales, "CF-4", custom_fields={"priority": 2}),
            order(sales, "CF-5", custom_fields={"nope": 1, "priority": 9}),
        ],
    )
    assert statuses(response) == ["error", "created", "error"]
    bad, good, worse = response.json()["results"]
    assert [e["field"] for e in bad["error"]["errors"]] == ["custom_fields.channel"]
    assert {e["field"] for e in worse["error"]["errors"]} == {
        "custom_fields.nope",
        "custom_fields.priority",
    }
    assert read(sales, good["order_id"])["custom_fields"] == {"priority": 2}
    missing = sales.client.get(f"/api/v1/orders/{bad['order_id']}", headers=admin(sales))
    assert missing.status_code == 404

    # An unchanged order with a bad value is refused too, and keeps what it had.
    again = push(sales, admin(sales), [order(sales, "CF-4", custom_fields={"priority": 0})])
    assert statuses(again) == ["error"]
    assert again.json()["results"][0]["error"]["errors"][0]["field"] == "custom_fields.priority"
    assert read(sales, good["order_id"])["custom_fields"] == {"priority": 2}

    single = sales.client.post(
        "/api/v1/orders",
        json=order(sales, "CF-6", custom_fields={"channel": ["web"]}),
        headers=admin(sales),
    )
    assert single.status_code == 422
    assert single.json()["errors"][0]["field"] == "custom_fields.channel"


def test_a_required_field_is_needed_to_create_not_to_push_again(sales: Sales) -> None:
    kept = push(sales, admin(sales), [order(sales, "CF-7")]).json()["results"][0]
    define(sales.company, "orders", "region", "text", required=True)
    refused = push(sales, admin(sales), [order(sales, "CF-8"), order(sales, "CF-7")])
    assert statuses(refused) == ["error", "unchanged"]
    assert refused.json()["results"][0]["error"]["errors"][0]["field"] == "custom_fields.region"
    accepted = push(sales, admin(sales), [order(sales, "CF-8", custom_fields={"region": "EU"})])
    assert statuses(accepted) == ["created"]
    assert read(sales, kept["order_id"])["custom_fields"] == {"priority": 3}


def test_a_batch_decided_again_after_losing_a_race_keeps_the_values(
    sales: Sales, services: Services
) -> None:
    """The order exists in the log but not yet in the read model: the batch's save fails as a
    whole, and each order is decided again from the log, custom fields included."""
    ctx = CommandContext(principal=INTEGRATOR, command_id=str(uuid4()), correlation_id="test")
    widget = sales.products["WID-1"]
    with services.app.stamping(ctx):
        placed = Order.place(
            source="sap",
            external_id="CF-9",
            account_id=sales.account["id"],
            quote_id=None,
            ordered_at=datetime(2025, 3, 1, 10, tzinfo=UTC),
            currency="EUR",
            reference=None,
            lines=[
                order_line(
                    1,
                    product_id=widget["id"],
                    sku="WID-1",
                    quantity=Decimal(1),
                    unit_price=Decimal("90.00"),
                    unit_cost=None,
                )
            ],
        )
    services.app.save(placed)  # no wait: the read model does not know it yet

    response = push(
        sales,
        admin(sales),
        [
            order(sales, "CF-9", custom_fields={"channel": "web"}),
            order(sales, "CF-10", custom_fields={"channel": "phone"}),
        ],
    )
    assert statuses(response) == ["updated", "created"]
    race, other = response.json()["results"]
    assert race["order_id"] == str(order_id_for("sap", "CF-9"))
    assert read(sales, race["order_id"])["custom_fields"] == {"channel": "web"}
    assert types(sales, race["order_id"]) == [
        "OrderPlaced",
        "OrderRevised",
        "OrderCustomFieldsChanged",
    ]
    assert read(sales, other["order_id"])["custom_fields"] == {"channel": "phone", "priority": 3}


PUSH = """mutation($orders: [OrderInput!]!) { pushOrders(orders: $orders) {
  index status orderId error } }"""


def test_graphql_push_carries_custom_fields(sales: Sales) -> None:
    body = {
        "source": "shop",
        "externalId": "G-CF",
        "accountId": sales.account["id"],
        "orderedAt": "2025-06-01T12:00:00Z",
        "currency": "EUR",
        "lines": [{"sku": "WID-1", "quantity": "2", "unitPrice": "95.00"}],
    }
    pushed = gql(
        sales.company,
        "admin",
        PUSH,
        orders=[
            {**body, "customFields": {"channel": "web"}},
            {**body, "externalId": "G-CF2", "customFields": {"channel": 7}},
        ],
    )
    assert "errors" not in pushed, pushed
    good, bad = pushed["data"]["pushOrders"]
    assert good["status"] == "created" and bad["status"] == "error"
    assert bad["error"]["errors"][0]["field"] == "custom_fields.channel"
    one = gql(
        sales.company,
        "admin",
        'query($id: ID!) { order(id: $id) { customFields customField(key: "channel") } }',
        id=good["orderId"],
    )
    assert one["data"]["order"] == {
        "customFields": {"channel": "web", "priority": 3},
        "customField": "web",
    }


def test_the_batch_body_documents_custom_fields(sales: Sales) -> None:
    schema = sales.client.get("/openapi.json").json()["components"]["schemas"]["OrderIn"]
    assert "custom_fields" in schema["properties"]
    too_many = {f"k{i}": 1 for i in range(1000)}
    response = sales.client.post(
        BATCH, json={"orders": [order(sales, "CF-X", custom_fields=too_many)]}, headers=admin(sales)
    )
    assert response.status_code == 200
    assert statuses(response) == ["error"]
